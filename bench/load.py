"""Benchmark: sustained mixed load on the whole platform, and its idle memory (issue 10 "Load").

On real servers it starts itself (Kafka with 6 partitions per topic, PostgreSQL, on free loopback
ports, in a temporary state directory) with every process of a deployment: the six services'
API and worker, and the console. Once all are ready and have idled 20 s, it records each
process's memory; then a paced generator (a tick every 100 ms sends that tick's share, never
ahead of the target rate, stopping hard at the end) produces ``BENCH_LOAD_SECONDS`` (default
600; 60 with ``BENCH_SCALE=quick``) seconds of 1,000 valid events/s, keyed and partitioned as
the outbox relay does, every 100 events being:

- 85 ``student-matched`` of a new student (distinct valid ID numbers with check digits, 300
  schools over 30 counties, one to three categories); every 10 s, 20 of them are the students of
  a school of their own, which the API traffic below verifies
- 8 revisions of an earlier match (revision + 1, other categories: the task re-opens)
- 5 ``student-match-withdrawn`` of an earlier match (revision + 1; it is not revised again)
- 2 ``institution-changed`` of the schools (reporting keeps their names)

(verification's own outbox adds a ``task-progressed`` for every task it creates, re-opens or
closes, and the API traffic adds ``verified`` and ``audit-recorded`` events). Meanwhile, through
the APIs: every 10 s a school whose 20 tasks have arrived verifies and submits them and its county
approves them (``flow.verify_school``: verification's outbox publishes ``verified`` to
publicity, disbursement, query and reporting), and the public looks a student up twice a second
(``POST /public/lookup``, 9 in 10 with the right name; rate limits off for the run). Every 5 s
it samples each consumer group's lag and every process's memory. When the load ends, it measures
how long until every group's lag is 0.

- ``machine``            CPUs, memory, Python and OS of the run
- ``target_rate``        events/s asked for; ``duration_seconds`` how long the load ran
- ``events_sent``        events produced (and acknowledged), per kind in ``mix``
- ``achieved_rate``      events_sent / the time from the first send to the last acknowledgement
                         (at least the duration), events/s; ``late_ticks`` ticks that began over
                         100 ms late (the generator could not keep its pace)
- ``lag``                samples every 5 s (seconds since the load began, events sent so far, each
                         group's lag in events: end offsets minus committed, over the topics the
                         group has committed on), through the drain
- ``max_lag``            the largest sampled lag of any group during the load (events; per group in
                         ``max_lag_by_group``)
- ``lag_slope``          each group's lag growth over the second half of the load (events/s, least
                         squares): about 0 when the group keeps up
- ``drain_seconds``      from the load's end until every group's lag is 0 (and stays 0 for 3 s);
                         None if not within the limit (twice the load, at least 10 minutes),
                         ``lag_left`` then says what remained
- ``catch_up_rate``      after the load's end, how fast (events/s) the lag of each group still
                         behind by over 5 s of traffic fell until it reached 0 (from the samples)
- ``rss_mb``             samples every 5 s of each process's resident memory (MB; a process with
                         its children, PostgreSQL with all its backends — which counts the shared
                         buffers once per backend that touched them, so ``postgres-pss`` too: the
                         backends' proportional set size, shared pages counted once)
- ``memory_growth``      RSS at the end of the load / RSS one minute in (half-way in a run under
                         two minutes), per process; ``max_memory_growth`` the largest of the
                         services' processes' (Kafka's and PostgreSQL's caches fill up to their
                         configured sizes: their growth is reported, not counted there)
- ``idle_memory``        RSS (MB) of each process after 20 s idle; ``total_mb`` that of the six
                         services' 12 processes, Kafka and PostgreSQL (the console apart), and
                         ``pss_total_mb`` their PSS (shared pages counted once: what they really take)
- ``dead_letters``       dead-lettered records at the end (must be 0), and what they were
- ``api``                HTTP calls by status class, ``server_errors`` (5xx), ``failed`` (transport
                         errors and unexpected statuses), schools verified, tasks approved,
                         lookups made and found
- ``died``               processes not running at the end (must be empty)
- ``log_problems``       warnings and errors in the services' logs, per process: how many, when the
                         first and the last were logged, a few of their messages
- ``errors_total``       dead letters + failed or 5xx calls + processes that died (must be 0)
- ``checks``             errors_total == 0, drained; lag bounded: each lag_slope under 5% of the
                         target rate and max_lag under a minute of traffic; memory flat:
                         max_memory_growth under 1.25

Writes ``bench/results/load.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform as host
import random
import socket
import tempfile
import threading
import time
from array import array
from collections import Counter, deque
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from aid_chassis import replay
from aid_chassis.dev_issuer import DevIssuer
from aid_chassis.fields import FieldCipher
from aid_chassis.kafka import make_producer
from aid_chassis.partitioner import partitions
from aid_contracts import Envelope, InstitutionChanged, StudentMatched, StudentMatchWithdrawn
from aid_contracts.events import Category, CategoryEntry, Stage, StudentFacts
from aid_contracts.keys import check_digit, keyer
from aid_contracts.topics import BUSINESS_TOPICS
from aid_local import dlq, flow, infra
from aid_local.demo_data import DEPARTMENTS, GIVEN, SURNAMES
from aid_local.platform import CONSOLE, PROCESSES, SERVICES, Platform
from read_side import wait_joined
from aid_local.supervisor import Supervisor
from report import save

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"
RATE = 1000  # events/s
TICK = 0.1  # seconds between the generator's sends
PARTITIONS = 6
SAMPLE_EVERY = 5.0
IDLE_SECONDS = 20
API_EVERY = 10.0  # a school verified every this many seconds
LOOKUP_EVERY = 0.5
SCHOOL_SIZE = 20  # students of each school the API verifies
LOOKUP_AGE = 30.0  # lookups are of students matched at least this long ago
MIX = {"new": 85, "revise": 8, "withdraw": 5, "institution": 2}  # of every 100 events
GROUPS = tuple(s.name for s in SERVICES)  # each service's consumer group is its name
QUERY = next(s for s in SERVICES if s.name == "query")
COUNTIES = [f"52{city:02d}{county:02d}" for city in range(1, 7) for county in range(1, 6)]
CATEGORIES = list(Category)
DEPARTMENT_OF = {category: department for department, cats in DEPARTMENTS.items() for category in cats}
WITHDRAWN = "不再出现在部门名单或学籍中 (no longer on any list or roster)"
SOURCE = "bench-load"
SERVERS = ("kafka", "postgres", "postgres-pss")  # caches filling up to their bounds: not judged flat or not


def _seconds() -> int:
    quick = os.environ.get("BENCH_SCALE") == "quick"
    return int(os.environ.get("BENCH_LOAD_SECONDS", "60" if quick else "600"))


def _free_base(size: int) -> int:
    """A base port whose next ``size`` ports are free on loopback, below the ephemeral range."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(max(low - 12000, 1024), low - size - 1)
        if all(_is_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- the traffic ---------------------------------------------------------------------------------

def _id_number(i: int) -> str:
    """Student ``i``'s ID number: valid, distinct for every i below 10 million."""
    county, j = COUNTIES[i % len(COUNTIES)], i // len(COUNTIES)
    body = f"{county}2012{1 + j // 28_000 % 12:02d}{1 + j // 1000 % 28:02d}{j % 1000:03d}"
    return body + check_digit(body)


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[i // 7 % len(GIVEN)] + GIVEN[i // 211 % len(GIVEN)]


def _school(i: int) -> str:
    """One of 10 schools of the student's county."""
    return f"{COUNTIES[i % len(COUNTIES)]}{i // len(COUNTIES) % 10:04d}"


def _categories(i: int, revision: int) -> list[CategoryEntry]:
    """One to three categories; a revision's share none with the one before."""
    first, count = (i * 7 + revision * 3) % len(CATEGORIES), 1 + (i + revision) % 3
    cats = [CATEGORIES[(first + k) % len(CATEGORIES)] for k in range(count)]
    return [CategoryEntry(category=c, department=DEPARTMENT_OF[c]) for c in cats]


class Traffic:
    """The mix of events: which students were matched, their revisions, the schools to verify."""

    def __init__(self, secret: bytes, fields: FieldCipher) -> None:
        self.key = keyer(secret)
        self.fields = fields  # names and ID numbers travel sealed, as identity-matching publishes them
        self.rng = random.Random(10)
        self.kinds = [k for k, n in MIX.items() for _ in range(n)]
        self.rng.shuffle(self.kinds)
        self.revision = array("B")  # per student: the revision of its match
        self.open: list[int] = []  # students of the generic schools whose match may be revised or withdrawn
        self.own_school: dict[int, str] = {}  # students of the schools the API verifies
        self.schools: deque[tuple[str, float]] = deque()  # (school, when its students were sent), to verify
        self.marks: list[tuple[float, int]] = []  # (when, students matched by then)
        self.sent = 0
        self.counts: Counter[str] = Counter()

    def facts(self, i: int) -> StudentFacts:
        school = self.own_school.get(i) or _school(i)
        sealed = self.fields.seal_student({"id_number": _id_number(i), "name": _name(i)}, self.key(_id_number(i)))
        return StudentFacts(id_number=sealed["id_number"], name=sealed["name"], school_code=school, stage=Stage.PRIMARY,
                            enrolment_region=school[:6], household_region=COUNTIES[(i * 7) % len(COUNTIES)])

    def batch(self, n: int, tick: int) -> list[tuple[str, Envelope]]:
        """The next ``n`` events (topic, envelope); on every 100th tick a new school's students first."""
        out = self._school_of_own(tick) if tick % int(API_EVERY / TICK) == 0 else []
        fresh: list[int] = []
        while len(out) < n:
            kind = self.kinds[self.sent % len(self.kinds)]
            if kind in ("revise", "withdraw") and not self.open:
                kind = "new"
            out.append(self._new(fresh) if kind == "new" else self._revise() if kind == "revise"
                       else self._withdraw() if kind == "withdraw" else self._institution())
            self.sent += 1
            self.counts[kind] += 1
        self.open += fresh  # revised from the next tick on, after the match itself
        self.marks.append((time.monotonic(), len(self.revision)))
        return out

    def _school_of_own(self, tick: int) -> list[tuple[str, Envelope]]:
        number = tick // int(API_EVERY / TICK)
        school = f"{COUNTIES[number % len(COUNTIES)]}9{number % 1000:03d}"
        out = []
        for _ in range(SCHOOL_SIZE):
            self.own_school[len(self.revision)] = school
            out.append(self._new(None))
            self.sent += 1
            self.counts["new"] += 1
        self.schools.append((school, time.monotonic()))
        return out

    def _matched(self, i: int) -> tuple[str, Envelope]:
        event = StudentMatched(match_id=f"LOAD-M{i}", revision=self.revision[i], student=self.facts(i),
                               categories=_categories(i, self.revision[i]), name_mismatch=False, batch_id="LOAD",
                               matched_at=datetime.now(UTC), change="new" if self.revision[i] == 1 else "changed")
        return event.TOPIC.value, Envelope.wrap(event, source=SOURCE, key=self.key(_id_number(i)))

    def _new(self, fresh: list[int] | None) -> tuple[str, Envelope]:
        i = len(self.revision)
        self.revision.append(1)
        if fresh is not None:
            fresh.append(i)
        return self._matched(i)

    def _revise(self) -> tuple[str, Envelope]:
        i = self.rng.choice(self.open)
        if self.revision[i] == 255:  # as many revisions as one student gets here
            return self._withdraw()
        self.revision[i] += 1
        return self._matched(i)

    def _withdraw(self) -> tuple[str, Envelope]:
        at = self.rng.randrange(len(self.open))
        self.open[at], self.open[-1] = self.open[-1], self.open[at]
        i = self.open.pop()
        self.revision[i] += 1
        event = StudentMatchWithdrawn(match_id=f"LOAD-M{i}", revision=self.revision[i], school_code=_school(i),
                                      reason=WITHDRAWN, batch_id="LOAD", withdrawn_at=datetime.now(UTC))
        return event.TOPIC.value, Envelope.wrap(event, source=SOURCE, key=self.key(_id_number(i)))

    def _institution(self) -> tuple[str, Envelope]:
        i = self.rng.randrange(len(COUNTIES) * 10)
        code = _school(i)
        event = InstitutionChanged(code=code, stage=Stage.PRIMARY, name=f"第{code[-4:]}小学", county=code[:6],
                                   source="roster", active=True, changed_at=datetime.now(UTC))
        return event.TOPIC.value, Envelope.wrap(event, source=SOURCE, key=code)

    def lookup_request(self, rng: random.Random) -> tuple[dict[str, str], bool] | None:
        """A lookup of a student matched at least LOOKUP_AGE ago (right name 9 in 10), or None yet."""
        old = [n for t, n in self.marks[-int(LOOKUP_AGE / TICK) - 50:] if t <= time.monotonic() - LOOKUP_AGE]
        if not old:
            return None
        i = rng.randrange(old[-1])
        right = rng.random() < 0.9
        name, school = _name(i), self.own_school.get(i) or _school(i)  # what a parent types: the plain facts
        return {"name": name if right else name[:1] + "某", "id_number": _id_number(i), "school_code": school}, right


# --- producing -----------------------------------------------------------------------------------

async def _send(producer, records: list[tuple[str, Envelope]]) -> None:
    """Send and wait for the broker's acknowledgements; each record on the partition the relay picks."""
    keys = [e.partitionkey.encode() for _, e in records]
    futures = [await producer.send(topic, value=e.value(), key=k, headers=e.headers(), partition=p)
               for (topic, e), k, p in zip(records, keys, partitions(keys, PARTITIONS), strict=True)]
    await asyncio.gather(*futures)


async def generate(producer, traffic: Traffic, seconds: float, t0: float) -> dict:
    """A tick every TICK seconds from ``t0`` sends RATE * TICK events; none after ``seconds``."""
    per_tick, late, tick = int(RATE * TICK), 0, 0
    while True:
        due = t0 + tick * TICK
        if due >= t0 + seconds:
            break
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        elif -wait > TICK:
            late += 1
        if time.monotonic() >= t0 + seconds:
            break
        await _send(producer, traffic.batch(per_tick, tick))
        tick += 1
    ended = time.monotonic()
    return {"ticks": tick, "late_ticks": late, "ended": ended, "elapsed": max(ended - t0, seconds)}


# --- processes and memory ------------------------------------------------------------------------

def _names() -> list[str]:
    return [f"{s.name}-{role}" for s, role in PROCESSES] + ["kafka", "postgres", "postgres-pss"]


def _pids(supervisor: Supervisor, platform: Platform) -> dict[str, int | None]:
    pids = {f"{s.name}-{role}": supervisor.pid(s, role) for s, role in PROCESSES}
    pids["kafka"] = infra.kafka(platform).pid()
    try:
        pids["postgres"] = int((infra.postgres(platform).data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pids["postgres"] = None
    return pids


def _tree(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def _rss(pids: dict[str, int | None]) -> dict[str, float | None]:
    """Each process's resident memory with its children's, in MB (None: not running)."""
    out: dict[str, float | None] = {}
    for name, pid in pids.items():
        total = 0
        for proc in _tree(pid) if pid else []:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        out[name] = round(total / 2**20, 1) if total else None
    return out


def _pss(pids: dict[str, int | None]) -> float:
    """The total proportional set size of every process (a shared page counted once), in MB."""
    total = 0
    for pid in pids.values():
        for proc in _tree(pid) if pid else []:
            try:
                total += proc.memory_full_info().pss
            except psutil.Error:
                pass
    return round(total / 2**20, 1)


# --- consumer lag --------------------------------------------------------------------------------

class LagProbe:
    """Each group's lag: end offsets minus committed offsets, over every partition of the topics the
    group has committed on (a partition it has not committed yet counts whole)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-load-lag")
        self.probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-load-lag")
        self.lock = asyncio.Lock()  # the sampler and the drain ask at once

    async def start(self) -> None:
        await self.admin.start()
        await self.probe.start()
        self.every = await replay.partitions(self.bootstrap, [t.value for t in BUSINESS_TOPICS])

    async def stop(self) -> None:
        await self.probe.stop()
        await self.admin.close()

    async def lags(self) -> dict[str, int]:
        async with self.lock:
            ends = await self.probe.end_offsets(self.every)
            committed = {g: await self.admin.list_consumer_group_offsets(g) for g in GROUPS}
        return {g: _lag(ends, offsets) for g, offsets in committed.items()}


def _lag(ends: dict, committed: dict) -> int:
    topics = {tp.topic for tp in committed}
    return sum(max(end - max(committed[tp].offset if tp in committed else 0, 0), 0)
               for tp, end in ends.items() if tp.topic in topics)


# --- API traffic ---------------------------------------------------------------------------------

class Tally:
    """HTTP calls by outcome (from the API thread and the event loop)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n

    def status(self, code: int, expected: bool) -> None:
        self.add(f"{code // 100}xx")
        if code >= 500:
            self.add("server_errors")
        if not expected:
            self.add("failed")

    def fail(self, why: str) -> None:
        self.add("failed")
        with self._lock:
            if len(self.errors) < 10:
                self.errors.append(why[:300])


class CountingClients(flow.Clients):
    """flow's clients, every answer tallied."""

    def __init__(self, platform: Platform, tally: Tally) -> None:
        super().__init__(platform)
        self.tally = tally

    def call(self, method: str, service: str, path: str, *, expect: int | range | tuple = 200, **kwargs):
        wanted = expect if isinstance(expect, (range, tuple)) else (expect,)
        try:
            resp = super().call(method, service, path, expect=range(100, 600), **kwargs)
        except httpx.HTTPError as exc:
            self.tally.fail(f"{method} {service}{path.split('?')[0]}: {type(exc).__name__}")
            raise flow.FlowError(str(exc)) from exc
        self.tally.status(resp.status_code, resp.status_code in wanted)
        if resp.status_code not in wanted:
            raise flow.FlowError(f"{method} {service}{path.split('?')[0]} → {resp.status_code}: {resp.text[:200]}")
        return resp


def _verify_one(c: CountingClients, school: str) -> int | None:
    """Verify, submit and approve the school's tasks if all have arrived; how many were approved."""
    token = c.token("school", school_code=school)
    pending = c.call("GET", "verification", "/tasks?status=pending&limit=1", headers=token).json()["total"]
    if pending < SCHOOL_SIZE:
        return None
    return flow.verify_school(c, school, school[:6], SCHOOL_SIZE)


async def verify_loop(c: CountingClients, traffic: Traffic, stop: asyncio.Event, tally: Tally) -> None:
    """Every API_EVERY s, the oldest school not yet verified, once its tasks have arrived."""
    while not stop.is_set():
        began = time.monotonic()
        if traffic.schools:
            school, _ = traffic.schools[0]
            try:
                approved = await asyncio.to_thread(_verify_one, c, school)
            except flow.FlowError as exc:
                tally.fail(f"verifying {school}: {exc}")
                approved = 0  # not tried again: some of its tasks may have moved on
            if approved is not None:
                traffic.schools.popleft()
                tally.add("schools_verified", approved > 0)
                tally.add("tasks_approved", approved)
        await _pause(stop, began + API_EVERY - time.monotonic())


async def lookup_loop(url: str, traffic: Traffic, stop: asyncio.Event, tally: Tally) -> None:
    """A public lookup every LOOKUP_EVERY s; a right one should find the student (200), a wrong name not (404)."""
    rng = random.Random(3)
    async with httpx.AsyncClient(timeout=30) as client:
        while not stop.is_set():
            began = time.monotonic()
            if (request := traffic.lookup_request(rng)) is not None:
                body, right = request
                try:
                    resp = await client.post(url, json=body)
                except httpx.HTTPError as exc:
                    tally.fail(f"POST /public/lookup: {type(exc).__name__}")
                else:
                    tally.status(resp.status_code, resp.status_code in (200, 404))
                    tally.add("lookups")
                    tally.add("lookups_found", resp.status_code == 200)
                    tally.add("lookups_wrong_name_found", resp.status_code == 200 and not right)
            await _pause(stop, began + LOOKUP_EVERY - time.monotonic())


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), max(seconds, 0))
    except TimeoutError:
        pass


# --- sampling and draining -----------------------------------------------------------------------

async def sample_loop(probe: LagProbe, supervisor: Supervisor, traffic: Traffic, t0: float, series: dict,
                      stop: asyncio.Event) -> None:
    """Every SAMPLE_EVERY s from ``t0``: lags, events sent, every process's RSS."""
    names, k = _names(), 1
    while not stop.is_set():
        await _pause(stop, t0 + k * SAMPLE_EVERY - time.monotonic())
        k += 1
        at = round(time.monotonic() - t0, 1)
        lags = await probe.lags()
        series["lag"].append([at, traffic.sent, *(lags[g] for g in GROUPS)])
        pids = _pids(supervisor, supervisor.platform)
        rss = _rss(pids) | {"postgres-pss": _pss({"postgres": pids["postgres"]})}
        series["rss"].append([at, *(rss[n] for n in names)])


async def drain(probe: LagProbe, since: float, limit: float) -> tuple[float | None, dict[str, int]]:
    """Seconds from ``since`` until every group's lag is 0 and stays 0 for 3 s (None: not within ``limit``)."""
    zero_since, lags = None, {}
    while time.monotonic() - since < limit:
        lags = await probe.lags()
        if any(lags.values()):
            zero_since = None
        else:
            zero_since = zero_since or time.monotonic()
            if time.monotonic() - zero_since >= 3:
                return round(zero_since - since, 1), lags
        await asyncio.sleep(1)
    return None, lags


# --- results -------------------------------------------------------------------------------------

def _max_lag(samples: list, seconds: float) -> dict[str, int]:
    during = [s for s in samples if s[0] <= seconds + SAMPLE_EVERY / 2] or samples
    return {g: max((s[2 + k] for s in during), default=0) for k, g in enumerate(GROUPS)}


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mx, my = sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / var, 2) if var else 0.0


def _lag_slope(samples: list, seconds: float) -> dict[str, float]:
    half = [s for s in samples if seconds / 2 <= s[0] <= seconds + SAMPLE_EVERY / 2]
    return {g: _slope([(s[0], s[2 + k]) for s in half]) for k, g in enumerate(GROUPS)}


def _catch_up(samples: list, seconds: float) -> dict[str, float]:
    """Per group behind by over a sample's worth of traffic at the load's end: how fast its lag fell
    from then until it reached 0 (or the last sample)."""
    after = [s for s in samples if s[0] >= seconds - SAMPLE_EVERY / 2]
    out = {}
    for k, group in enumerate(GROUPS):
        if len(after) < 2 or after[0][2 + k] <= RATE * SAMPLE_EVERY:
            continue
        end = next((s for s in after[1:] if s[2 + k] == 0), after[-1])
        out[group] = round((after[0][2 + k] - end[2 + k]) / (end[0] - after[0][0]), 1)
    return out


def _growth(samples: list, seconds: float) -> dict[str, float | None]:
    """RSS at the load's end over RSS one minute in (half-way in runs under two minutes)."""
    start_at = 60 if seconds >= 120 else seconds / 2
    during = [s for s in samples if s[0] <= seconds + SAMPLE_EVERY / 2]
    first = next((s for s in during if s[0] >= start_at), None)
    if first is None or not during:
        return {}
    last = during[-1]
    return {n: round(last[1 + k] / first[1 + k], 3) if first[1 + k] and last[1 + k] else None
            for k, n in enumerate(_names())}


def _log_problems(log_dir: Path) -> dict:
    """Warnings and errors each process logged: how many, when, a few of their messages."""
    out = {}
    for s, role in PROCESSES:
        path = log_dir / f"{s.name}-{role}.log"
        problems = [p for line in (path.read_text(errors="replace") if path.exists() else "").splitlines()
                    if (p := _problem(line))]
        if problems:
            examples = list(dict.fromkeys(f"{level}: {message[:160]}" for _, level, message in problems))
            out[f"{s.name}-{role}"] = {**Counter(level for _, level, _ in problems), "first": problems[0][0],
                                       "last": problems[-1][0], "examples": examples[:4]}
    return out


def _problem(line: str) -> tuple[str, str, str] | None:
    """(time, level, message) of a log line at WARNING or above (a bare traceback counts as an error)."""
    try:
        doc = json.loads(line)
        level, message, at = doc["level"], doc.get("message", ""), doc.get("time", "")
    except (ValueError, KeyError, TypeError):
        level, message, at = ("ERROR", line, "") if line.startswith("Traceback") else (None, "", "")
    return (at, level, message) if level in ("WARNING", "ERROR", "CRITICAL") else None


def _died(supervisor: Supervisor) -> list[str]:
    return [f"{s.name}-{role}" for s, role in PROCESSES if supervisor.pid(s, role) is None]


async def _dead_letters(bootstrap: str) -> dict:
    letters = await dlq.read(bootstrap)
    kinds = Counter(f"{x.group} {x.topic} {x.event_type}: {x.error[:160]}" for x in letters)
    return {"count": len(letters), "kinds": dict(kinds.most_common(10))}


def _verdicts(results: dict) -> dict:
    """The figures summed up: worst lag and growth, every error, and the checks."""
    growth = [v for n, v in results["memory_growth"].items() if n not in SERVERS]
    out = {"max_lag": max(results["max_lag_by_group"].values(), default=0),
           "max_memory_growth": None if None in growth or not growth else max(growth),
           "errors_total": results["dead_letters"]["count"] + results["api"]["failed"]
           + results["api"]["server_errors"] + len(results["died"])}
    out["checks"] = {"no_errors": out["errors_total"] == 0, "drained": results["drain_seconds"] is not None,
                     "lag_bounded": out["max_lag"] <= 60 * RATE
                     and all(v <= 0.05 * RATE for v in results["lag_slope"].values()),
                     "memory_flat": out["max_memory_growth"] is not None and out["max_memory_growth"] < 1.25}
    return out


# --- the run -------------------------------------------------------------------------------------

async def start_platform(supervisor: Supervisor) -> None:
    DevIssuer(supervisor.platform.keys_dir)
    await asyncio.to_thread(supervisor.migrate)
    await asyncio.to_thread(supervisor.start_all)
    await asyncio.to_thread(supervisor.wait_ready, timeout=180)
    await wait_joined(supervisor.platform.bootstrap_servers, GROUPS)


async def idle_memory(supervisor: Supervisor) -> dict:
    """After IDLE_SECONDS: every process's RSS; the totals of the services' 12 processes, Kafka and PostgreSQL."""
    await asyncio.sleep(IDLE_SECONDS)
    pids = _pids(supervisor, supervisor.platform)
    rss, platform = _rss(pids), {n: pid for n, pid in pids.items() if not n.startswith(f"{CONSOLE.name}-")}
    return {"rss_mb": rss, "total_mb": round(sum(rss[n] or 0 for n in platform), 1), "pss_total_mb": _pss(platform)}


async def load(supervisor: Supervisor, probe: LagProbe, seconds: int, results: dict) -> None:
    """The load with API traffic and sampling, then the drain; fills ``results``."""
    platform = supervisor.platform
    traffic, tally, stop, done = Traffic(platform.pseudonym_key().encode(), FieldCipher.from_text(platform.field_keys())), Tally(), asyncio.Event(), asyncio.Event()
    clients = CountingClients(platform, tally)
    series: dict = {"lag": [], "rss": []}
    producer = await make_producer(platform.bootstrap_servers, client_id="bench-load")
    t0 = time.monotonic()
    sampler = asyncio.create_task(sample_loop(probe, supervisor, traffic, t0, series, done))
    api = [asyncio.create_task(verify_loop(clients, traffic, stop, tally)),
           asyncio.create_task(lookup_loop(platform.url(QUERY) + "/public/lookup", traffic, stop, tally))]
    try:
        try:
            pace = await generate(producer, traffic, seconds, t0)
        finally:
            stop.set()
            await asyncio.gather(*api, return_exceptions=True)
            await producer.stop()
        results["drain_seconds"], lags = await drain(probe, pace["ended"], limit=max(600, 2 * seconds))
    finally:
        done.set()
        await sampler
    left = lags if results["drain_seconds"] is None else {}
    results.update(_load_results(traffic, tally, series, pace, seconds, left))


def _load_results(traffic: Traffic, tally: Tally, series: dict, pace: dict, seconds: int, left: dict) -> dict:
    return {
        "duration_seconds": seconds, "events_sent": traffic.sent, "mix": dict(traffic.counts),
        "achieved_rate": round(traffic.sent / pace["elapsed"], 1), "late_ticks": pace["late_ticks"],
        "max_lag_by_group": _max_lag(series["lag"], seconds), "lag_slope": _lag_slope(series["lag"], seconds),
        "catch_up_rate": _catch_up(series["lag"], seconds),
        "lag_left": left, "memory_growth": _growth(series["rss"], seconds),
        "api": {"server_errors": tally.counts.pop("server_errors", 0), "failed": tally.counts.pop("failed", 0),
                **tally.counts, "errors": tally.errors},
        "lag": {"columns": ["seconds", "sent", *GROUPS], "samples": series["lag"]},
        "rss_mb": {"columns": ["seconds", *_names()], "samples": series["rss"]},
    }


async def run(platform: Platform, seconds: int, results: dict) -> None:
    supervisor = Supervisor(platform)
    try:
        await start_platform(supervisor)
        results["idle_memory"] = await idle_memory(supervisor)
        probe = LagProbe(platform.bootstrap_servers)
        await probe.start()
        try:
            await load(supervisor, probe, seconds, results)
        finally:
            await probe.stop()
        results["dead_letters"] = await _dead_letters(platform.bootstrap_servers)
        results["died"] = _died(supervisor)
        results["log_problems"] = _log_problems(platform.log_dir)
    finally:
        await asyncio.to_thread(supervisor.stop_all)


def _machine() -> dict:
    return {"cpus": os.cpu_count(), "memory_mb": psutil.virtual_memory().total // 2**20,
            "python": host.python_version(), "platform": host.platform()}


async def main() -> dict:
    seconds = _seconds()
    results: dict = {"machine": _machine(), "target_rate": RATE}
    with tempfile.TemporaryDirectory(prefix="aid-bench-load-") as state:
        base = _free_base(24)  # the APIs and worker metrics (17), Kafka (2), PostgreSQL (1)
        platform = Platform(state_dir=Path(state), http_base=base, kafka_port=base + 20, postgres_port=base + 23,
                            extra_env={"QUERY_LOOKUP_PER_CLIENT": "0", "QUERY_LOOKUP_PER_STUDENT": "0"})
        await asyncio.to_thread(infra.start, platform, partitions=PARTITIONS)
        try:
            await run(platform, seconds, results)
        finally:
            await asyncio.to_thread(infra.stop, platform)
    results.update(_verdicts(results))
    return results


def _summary(r: dict) -> dict:
    keys = ("achieved_rate", "events_sent", "late_ticks", "max_lag", "max_lag_by_group", "lag_slope", "drain_seconds",
            "catch_up_rate", "lag_left", "memory_growth", "max_memory_growth", "dead_letters", "died",
            "errors_total", "checks")
    return {**{k: r[k] for k in keys}, "idle_total_mb": r["idle_memory"]["total_mb"],
            "idle_pss_total_mb": r["idle_memory"]["pss_total_mb"],
            "api": {k: v for k, v in r["api"].items() if k != "errors"}}


if __name__ == "__main__":
    found = asyncio.run(main())
    save(RESULTS, found)
    print(json.dumps(_summary(found), indent=2, ensure_ascii=False))
