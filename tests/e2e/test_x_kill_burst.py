"""Kill -9 at 20 random moments while a burst flows through every service (issue 10).

On servers of its own (its truth is its own province's alone): a province is imported — the
roster and three lists as files, the fourth list pushed record by record on Kafka — and the
matches flow to verification, query and reporting while schools verify, publish and are paid.
Meanwhile a random service process (each service's API and worker at least once, so every
service at least twice) is killed with SIGKILL and restarted, 20 times. At the end every count
people see equals what the province says, every event was consumed, nobody is paid twice, and
no dead letter was written. ``AID_KILL_SEED`` replays a run's kills; ``AID_BURST_STUDENTS`` sets
the province's size.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from aid_contracts.topics import BUSINESS_TOPICS
from aid_local import demo_data, dlq, flow, lag
from aid_local.platform import ROLES, SERVICES
from tests.e2e import feeds, steady
from tests.e2e.conftest import services

SVC = {s.name: s for s in SERVICES}
STUDENTS = int(os.environ.get("AID_BURST_STUDENTS", 100_000))
KILLS = 20
PERIOD = "2027-spring"
SHAPE = demo_data.ListShape(on_a_list=0.4, on_two_lists=0.1, outsiders=0.1)
PUSHED = "trade_union"


@pytest.fixture(scope="module")
def own(other_servers):
    with other_servers() as platform, services(platform) as supervisor:
        yield supervisor


class Killer(threading.Thread):
    """Kills and restarts processes at random moments until its plan is done."""

    def __init__(self, supervisor, seed: int) -> None:
        super().__init__(daemon=True)
        self.supervisor, self.rng = supervisor, random.Random(seed)
        plan = [(s.name, role) for s in SERVICES for role in ROLES]  # each process once: each service twice
        plan += [(self.rng.choice(SERVICES).name, self.rng.choice(ROLES)) for _ in range(KILLS - len(plan))]
        self.rng.shuffle(plan)
        self.plan, self.done, self.error = plan, [], None

    def run(self) -> None:
        try:
            for name, role in self.plan:
                time.sleep(self.rng.uniform(0.5, 4.0))
                self.supervisor.kill(SVC[name], role)
                time.sleep(self.rng.uniform(0.1, 2.0))
                self.supervisor.start(SVC[name], role)
                self.done.append((name, role))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def _quiet(supervisor) -> bool:
    """Every group at the end of every topic, and no outbox holding an event."""
    bootstrap = supervisor.platform.bootstrap_servers
    lags = lag.by_group(asyncio.run(lag.consumer_lag(bootstrap)))
    return all(lags.get(name, 1) == 0 for name in SVC) and all(_backlog(supervisor, s) == 0 for s in SERVICES)


def _backlog(supervisor, service) -> int:
    text = httpx.get(supervisor.platform.url(service) + "/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("aid_outbox_backlog{"))
    return int(float(line.rsplit(" ", 1)[1]))


async def _events(bootstrap: str) -> int:
    """Events the burst put in the business topics (every partition's end offset)."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        partitions = [tp for t in BUSINESS_TOPICS for tp in await dlq.topic_partitions(bootstrap, t.value)]
        return sum((await probe.end_offsets(partitions)).values())
    finally:
        await probe.stop()


def _schools(province, n: int) -> list[tuple[str, int]]:
    """``n`` schools of paid stages in different counties, with their matched students."""
    ids, counts = flow.matched_ids(province), Counter()
    for st in province.students:
        if st.id_number in ids and st.stage in flow.PROGRAMME_BY_STAGE:
            counts[st.school_code] += 1
    chosen, counties = [], set()
    for code, count in sorted(counts.items()):
        if province.schools[code][0] not in counties and count <= 1000:
            chosen.append((code, count))
            counties.add(province.schools[code][0])
    return chosen[:n]


def _import(s: steady.Steady, province) -> None:
    s.call("POST", "identity-matching", "/imports/roster", headers=s.token("province_bureau", region="520000"),
           files={"file": ("roster.csv", province.roster_csv(), "text/csv")})
    asyncio.run(feeds.push(s.platform.bootstrap_servers, PUSHED, "burst-push-1", feeds.rows_of(province.list_csv(PUSHED))))
    for department in (d for d in demo_data.DEPARTMENTS if d != PUSHED):
        s.call("POST", "identity-matching", f"/imports/lists/{department}", headers=s.token("department", department=department),
               files={"file": (f"{department}.csv", province.list_csv(department), "text/csv")})


def _pay_school(s: steady.Steady, province, school: str, expected: int, clock) -> list[dict]:
    county, stage = province.schools[school]
    approved = steady.verify(s, school, county, expected)
    assert approved == expected, (school, approved, expected)
    clock(f"{school} verified")
    flow.register_cards(s, province, school)
    list_id = steady.publish(s, school, county, stage, PERIOD, expected)
    clock(f"{school} published")
    payments = steady.pay(s, county, list_id, expected)
    clock(f"{school} paid")
    return payments


def test_kill_9_at_twenty_random_moments_loses_and_duplicates_nothing(own):
    seed = int(os.environ.get("AID_KILL_SEED") or random.randrange(1 << 30))
    province = demo_data.generate(STUDENTS, seed=10, schools_per_county=60, shape=SHAPE)
    s = steady.Steady(flow.Clients(own.platform))
    killer = Killer(own, seed)
    started = time.monotonic()
    clock = lambda what: print(f"{time.monotonic() - started:6.1f} s  {what}")  # noqa: E731
    killer.start()
    _import(s, province)
    clock("imported")
    schools = _schools(province, 3)
    payments = {school: _pay_school(s, province, school, expected, clock) for school, expected in schools}
    killer.join(timeout=300)
    print(f"\nkill seed {seed}: {len(killer.done)} kills in {time.monotonic() - started:.0f} s, {s.retries} retried calls")
    assert killer.error is None and len(killer.done) == KILLS, (seed, killer.error, killer.done)
    assert {name for name, _ in killer.done} == set(SVC)
    own.wait_ready(timeout=60)
    flow.wait_for("every event consumed and every outbox empty", lambda: _quiet(own), timeout=300, every=1)
    clock(f"quiet: {asyncio.run(_events(own.platform.bootstrap_servers))} events in the topics")
    _assert_truth(s, province, schools, payments, seed)


def _assert_truth(s: steady.Steady, province, schools, payments, seed: int) -> None:
    matched = len(flow.matched_ids(province))
    paid = sum(expected for _, expected in schools)
    top = s.token("province_bureau", region="520000")
    progress = s.get("reporting", "/progress", top)["totals"]
    tasks = s.get("verification", "/progress", top)["schools"]
    views = s.get("query", "/views/key-groups/summary", top)["totals"]
    every_payment = s.get("disbursement", "/payments?limit=1000", top)["items"]
    exported = s.call("GET", "identity-matching", "/matches/export.csv", headers=top).text.splitlines()[1:]
    state = {"matches": len(exported), "tasks": sum(x["tasks"] for x in tasks), "query": views["students"],
             "reported": progress["matched"], "approved": sum(x["approved"] for x in tasks),
             "reported verified": progress["verified"], "paid": sum(p["status"] == "paid" for p in every_payment),
             "reported paid": progress["paid"]}
    assert state == {"matches": matched, "tasks": matched, "query": matched, "reported": matched, "approved": paid,
                     "reported verified": paid, "paid": paid, "reported paid": paid}, seed
    assert len({p["payment_id"] for p in every_payment}) == len(every_payment) == paid, seed
    assert sum(len(x) for x in payments.values()) == paid
    assert progress["paid_fen"] == sum(p["amount_fen"] for p in every_payment), seed
    assert [x for x in asyncio.run(dlq.read(s.platform.bootstrap_servers))] == [], seed
