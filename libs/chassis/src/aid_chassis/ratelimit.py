"""In-process rate limits: at most N requests per key in a fixed window.

Memory stays bounded under an enumeration attack: past ``max_keys`` keys, expired windows
are dropped and then, if need be, the oldest windows. Limits hold per API process; a
deployment with several replicas divides its budget among them (docs/architecture.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """``hit(key)`` counts a request and says how long to wait (0 when allowed)."""

    def __init__(self, limit: int, window_seconds: float, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> float:
        """Count one request of ``key``; 0.0 if allowed, else the seconds until its window ends."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            return max(0.001, self.window - (now - start))
        self._windows[key] = (start, count + 1)
        if len(self._windows) > self._max_keys:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        live = {k: v for k, v in self._windows.items() if now - v[0] < self.window}
        if len(live) > self._max_keys // 2:
            keep = sorted(live.items(), key=lambda kv: kv[1][0])[len(live) - self._max_keys // 2:]
            live = dict(keep)
        self._windows = live
