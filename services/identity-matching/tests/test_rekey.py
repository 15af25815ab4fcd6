"""Key rotation: ``python -m identity_matching rekey`` re-seals everything stored under the ring's
first key, so a ring without the old key opens it all; a second run finds nothing to do."""

from __future__ import annotations

from sqlalchemy import insert, select

from aid_chassis import outbox
from aid_chassis.fields import FieldCipher, new_key_text
from aid_contracts import DepartmentRecord, Envelope
from identity_matching.adapters import tables
from identity_matching.service_layer import candidates, data_keys, feeds, imports, personal, rekey, snapshots
from tests.factories import FIELD_KEYS, id_number

from .conftest import BY

KEY = new_key_text()
ROTATED, ONLY_NEW = FieldCipher.from_text(f"k2={KEY},{FIELD_KEYS}"), FieldCipher.from_text(f"k2={KEY}")


def _typo(number: str) -> str:
    return number[:8] + number[9] + number[8] + number[10:]


async def _stored_everywhere(sessions) -> str:
    """A list with a typo'd row (a candidate, accepted: a correction) and a bad row; a pushed
    record waiting for its batch; a plain correction as stored before sealing began."""
    content = ("身份证号,姓名,类别,户籍所在地\n" + f"{_typo(id_number(1))},学生1,孤儿,520102\nbad,某人,孤儿,520102\n"
               f"{id_number(2)},学生2,孤儿,520102\n").encode()
    async with sessions() as s, s.begin():
        report = await imports.import_department_list(s, department="civil_affairs", departments=["civil_affairs"],
                                                      content=content, file_name="l.csv", by=BY)
        [candidate_id] = (await s.execute(select(tables.review_candidates.c.candidate_id))).scalars().all()
        await candidates.decide(s, candidate_id, accept=True, actor="reviewer", secret=BY.secret, policy=BY.policy,
                                fields=BY.fields)
        await s.execute(insert(tables.id_corrections).values(department="trade_union", raw_id_number="plain",
                                                             id_number=id_number(3)))
        record = DepartmentRecord(batch_id="F1", department="civil_affairs", row=1, fields={"姓名": "学生9"})
        await feeds.on_record(s, Envelope.wrap(record, source="department:civil_affairs", key="F1"), by=BY,
                              departments=["civil_affairs"])
    return report.batch_id


async def test_rekey_reseals_everything_so_the_old_key_can_leave_the_ring(with_roster):
    batch_id = await _stored_everywhere(with_roster)
    lines: list[str] = []
    report = await rekey.rekey(with_roster, ROTATED, lines.append)
    assert report["sealed_snapshots"]["resealed"] >= 3 and lines
    assert report["data_keys"]["resealed"] >= 1  # the buckets of students 1 and 2 (matched), published again
    assert {name: r["resealed"] for name, r in report.items() if name not in ("sealed_snapshots", "data_keys")} == {
        "import_batches": 1, "review_candidates": 1, "id_corrections": 2, "feed_records": 1}
    assert not any(r["unopened"] for r in report.values())
    async with with_roster() as s:
        roster = await snapshots.load(s, snapshots.ROSTER, ONLY_NEW)
        [rejections] = (await s.execute(select(tables.import_batches.c.rejections).where(
            tables.import_batches.c.batch_id == batch_id))).scalars().all()
        [candidate] = (await s.execute(select(tables.review_candidates))).mappings().all()
        [staged] = (await s.execute(select(tables.feed_records))).mappings().all()
        assert await candidates.corrections(s, "civil_affairs", ONLY_NEW) == {_typo(id_number(1)): id_number(1)}
        assert await candidates.corrections(s, "trade_union", ONLY_NEW) == {"plain": id_number(3)}
    assert sorted(roster["id_number"]) == [id_number(i) for i in (1, 2, 3)]
    assert [r["raw"] for r in personal.open_rejections(rejections, batch_id, ONLY_NEW)] == [_typo(id_number(1)), "bad"]
    assert candidates.opened(dict(candidate), ONLY_NEW)["candidate_id_number"] == id_number(1)
    assert personal.open_record(staged["fields"], "F1", 1, ONLY_NEW) == {"姓名": "学生9"}
    async with with_roster() as s:  # the events sealed under the students' data keys open with the new ring alone
        events = [e for _, e in await outbox.pending(s, tables.chassis.outbox) if e.type == "student-matched"]
        await data_keys.known_here(s, ONLY_NEW)
    assert sorted(ONLY_NEW.open_text(e.data["student"]["id_number"], e.partitionkey, "id_number") for e in events) == [
        id_number(1), id_number(2)]
    again = await rekey.rekey(with_roster, ROTATED, lines.append)
    assert not any(r["resealed"] or r["unopened"] for r in again.values())
    async with with_roster() as s:
        buckets = len((await s.execute(select(tables.data_keys.c.bucket))).all())
    republished = await data_keys.rekey(with_roster, ROTATED, lines.append, every=True)  # republish-data-keys
    assert republished == {"resealed": buckets, "unopened": 0} and buckets >= 1
