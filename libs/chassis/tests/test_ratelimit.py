"""The in-process rate limiter, on a clock the test moves."""

from aid_chassis.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_within_a_window_and_resets_after_it():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [0.0] * 3
    clock.now += 10
    assert limiter.hit("a") == 50.0 and limiter.hit("b") == 0.0
    clock.now += 50
    assert limiter.hit("a") == 0.0


def test_memory_stays_bounded_and_recent_keys_are_kept():
    clock = Clock()
    limiter = RateLimiter(1, 60, max_keys=100, clock=clock)
    for i in range(1000):
        clock.now += 0.001
        limiter.hit(f"k{i}")
    assert len(limiter._windows) <= 100
    assert limiter.hit("k999") > 0  # the newest key is still limited


def test_a_zero_limit_means_unlimited():
    limiter = RateLimiter(0, 60)
    assert all(limiter.hit("a") == 0.0 for _ in range(100))
