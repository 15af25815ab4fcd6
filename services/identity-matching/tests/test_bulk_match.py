"""Matching over frames agrees with ``matching.match`` and ``matching.compare``, person by person."""

from __future__ import annotations

import asyncio
import os
import threading

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aid_chassis import bulk
from aid_contracts import StudentMatched, StudentMatchWithdrawn
from aid_contracts.events import CategoryEntry, StudentFacts
from identity_matching.domain import bulk_match
from identity_matching.domain.matching import EligibilityPolicy, Finding, PriorMatch, compare, match
from identity_matching.service_layer import rematch
from identity_matching.service_layer.rematch import ENROLMENTS, FINDINGS, PRIORS
from tests.factories import FIELDS

POLICY = EligibilityPolicy(year=2026, exit_grace_years=3)
KEYS = [f"k{i}" for i in range(6)]
enrolment = st.fixed_dictionaries({
    "student_key": st.sampled_from(KEYS), "id_number": st.just("520102201401010011"),
    "name": st.sampled_from(["张三", "李四"]), "school_code": st.sampled_from(["5201020001", "5201020002", "5201030001"]),
    "stage": st.sampled_from(["primary", "junior"]), "enrolment_region": st.just("520102"),
    "household_region": st.sampled_from(["520102", "520103"])})
finding = st.fixed_dictionaries({
    "student_key": st.sampled_from(KEYS), "department": st.sampled_from(["civil_affairs", "poverty_office"]),
    "category": st.sampled_from(["orphan", "registered_poor", "minimum_allowance"]),
    "name": st.sampled_from(["张三", "李四"]),
    "status": st.sampled_from([(None, None), ("not_out", None), ("out", 2020), ("out", 2023), ("back_in", None)]),
    "batch_id": st.sampled_from(["B1", "B2", "", None])})
prior = st.fixed_dictionaries({"student_key": st.sampled_from(KEYS), "revision": st.integers(1, 3),
                               "active": st.booleans(), "same": st.booleans(),
                               "school_code": st.sampled_from(["5201020001", "5201039999"])})


def _reference(enrolments, findings, priors):
    expected = {}
    for key in KEYS:
        students = [StudentFacts(**{k: v for k, v in e.items() if k != "student_key"})
                    for e in enrolments if e["student_key"] == key]
        found = [Finding(f["name"], CategoryEntry(category=f["category"], department=f["department"],
                                                  poverty_status=f["poverty_status"], exit_year=f["exit_year"]),
                         f["batch_id"]) for f in findings if f["student_key"] == key]
        facts = match(students, found, POLICY)
        before = priors.get(key)
        change = compare(PriorMatch(before["revision"], before["fingerprint"], before["active"], before["school_code"])
                         if before else None, facts)
        if change:
            expected[key] = change
    return expected


def _worlds(draw_enrolments, draw_findings, draw_priors):
    findings = {(f["student_key"], f["department"], f["category"]): f for f in draw_findings}  # the table's key
    rows = [{**{k: v for k, v in f.items() if k != "status"}, "poverty_status": f["status"][0] if
             f["category"] == "registered_poor" else None, "exit_year": f["status"][1] if
             f["category"] == "registered_poor" else None} for f in findings.values()]
    enrolments = list({(e["student_key"], e["school_code"]): e for e in draw_enrolments}.values())
    return enrolments, rows, {p["student_key"]: p for p in draw_priors}


@given(st.lists(enrolment, max_size=8), st.lists(finding, max_size=10), st.lists(prior, max_size=6))
@settings(max_examples=300, deadline=None)
def test_bulk_matching_agrees_with_the_reference(draw_enrolments, draw_findings, draw_priors):
    enrolments, findings, priors = _worlds(draw_enrolments, draw_findings, draw_priors)
    first = _reference(enrolments, findings, {})  # what a first comparison decides gives "same" priors their print
    for key, p in priors.items():
        facts = first[key].facts if key in first else None
        p.update(match_id=f"M-{key}", fingerprint=facts.fingerprint() if p["same"] and facts else "old")
    expected = _reference(enrolments, findings, priors)

    current = bulk_match.current_matches(pl.DataFrame(enrolments, schema=ENROLMENTS),
                                         pl.DataFrame(findings, schema=FINDINGS), POLICY)
    prior_frame = pl.DataFrame([{k: p[k] for k in PRIORS} for p in priors.values()], schema=PRIORS)
    found = bulk_match.changes(current, prior_frame, 7)
    documents = found["canonical"].to_list()
    data = bulk_match.event_data(found, batch_id="B9", at="2026-11-22T00:00:00+00:00", reason="gone").to_list()

    assert sorted(found["student_key"]) == sorted(expected)
    for row, document, event in zip(found.iter_rows(named=True), documents, data, strict=True):
        change = expected[row["student_key"]]
        assert (row["kind"], row["revision"], row["school_code"]) == (change.kind, change.revision, change.school_code)
        if row["student_key"] in priors:
            assert row["match_id"] == priors[row["student_key"]]["match_id"]
        else:
            assert row["match_id"].endswith("00000007")
        if change.facts is None:
            assert document is None
            assert StudentMatchWithdrawn.model_validate_json(event).revision == change.revision
            continue
        assert document == change.facts.canonical_text()
        assert row["fingerprint"] == change.facts.fingerprint()
        parsed = StudentMatched.model_validate_json(event)
        assert (parsed.student, parsed.categories, parsed.name_mismatch, parsed.change, parsed.review,
                parsed.other_school_codes, parsed.source_batches) == (
            change.facts.student, list(change.facts.categories), change.facts.name_mismatch, change.kind,
            change.facts.review, list(change.facts.other_school_codes), list(change.facts.source_batches))


def test_new_match_ids_are_distinct_and_increasing():
    ids = bulk_match.match_ids(70_000, 0x2a).to_list()  # past 16**4: the sequence's digits come from two tables
    assert ids == sorted(ids) and len(set(ids)) == 70_000
    assert [int(i[12:19], 16) for i in ids] == list(range(70_000))
    assert len({(i[:12], i[19:]) for i in ids}) == 1 and all(len(i) == 27 and i[0] == "M" for i in ids)
    assert ids[0].endswith("0000002a")


def test_match_ids_of_two_comparisons_differ_even_in_one_millisecond(monkeypatch):
    monkeypatch.setattr(bulk_match.time, "time_ns", lambda: 1_796_000_000_000_000_000)  # a clock standing still
    first, second = bulk_match.match_ids(3, 1).to_list(), bulk_match.match_ids(3, 2).to_list()
    assert not set(first) & set(second)
    with pytest.raises(ValueError, match="comparison number"):
        bulk_match.match_ids(1, 16 ** 8)


def _found(count: int) -> pl.DataFrame:
    """A round's decision of ``count`` new matches, each with a data key."""
    keys = [f"{i:064x}" for i in range(count)]
    enrolments = pl.DataFrame([{"student_key": k, "id_number": "520102201401010011", "name": f"学生{i}",
                                "school_code": "5201020001", "stage": "primary", "enrolment_region": "520102",
                                "household_region": "520102"} for i, k in enumerate(keys)], schema=ENROLMENTS)
    findings = pl.DataFrame([{"student_key": k, "department": "civil_affairs", "category": "orphan",
                              "name": f"学生{i}", "batch_id": "B1"} for i, k in enumerate(keys)], schema=FINDINGS)
    found = bulk_match.changes(bulk_match.current_matches(enrolments, findings, POLICY), pl.DataFrame(schema=PRIORS), 1)
    return found.with_columns(pl.Series("data_key", [os.urandom(32) for _ in keys], dtype=pl.Binary))


def test_a_rounds_events_packed_a_slice_at_a_time_by_two_threads_keep_their_order(monkeypatch):
    found, at = _found(7), "2026-11-22T00:00:00+00:00"
    headers = {"content-type": "application/json", "ce_source": "t", "ce_time": at, "ce_specversion": "1.0",
               bulk.PACKED: bulk.PACKED_FORMAT}

    def events(packed):
        return [(key, data) for _, _, value in packed for _, key, _, data in bulk.unpack(headers, value)]

    async def packed():
        packing = rematch._Packing(found, "B1", at, FIELDS)
        try:
            return [rows async for rows in packing.slices()]
        finally:
            await packing.close()

    whole = [row for rows in asyncio.run(packed()) for row in rows]
    monkeypatch.setattr(rematch, "QUEUE_SLICE", 2)
    slices = asyncio.run(packed())
    assert [len(rows) for rows in slices] == [1, 1, 1, 1]  # one packed row of a slice of two, in turn
    sliced = [row for rows in slices for row in rows]
    assert len(whole) == 1
    assert events(sliced) == events(whole)
    assert [key.decode() for key, _ in events(sliced)] == found["student_key"].to_list()
    assert all(b'"pd1:' in data for _, data in events(sliced))  # sealed, under each student's key


def test_a_packing_closed_early_drops_the_slices_not_begun_and_a_failed_slice_stops_the_queue(monkeypatch):
    found, at, sealed = _found(7), "2026-11-22T00:00:00+00:00", rematch._sealed
    monkeypatch.setattr(rematch, "QUEUE_SLICE", 1)
    release, begun = threading.Event(), []

    def held(rows, fields):  # each packer holds its slice until released
        begun.append(rows.height)
        release.wait(10)
        return sealed(rows, fields)

    async def abandoned():  # a store that failed: closed before any slice was queued
        monkeypatch.setattr(rematch, "_sealed", held)
        packing = rematch._Packing(found, "B1", at, FIELDS)
        futures = list(packing._slices)
        closing = asyncio.ensure_future(packing.close())
        await asyncio.sleep(0)  # the slices not begun are dropped before close first waits
        release.set()
        await closing
        return futures

    futures = asyncio.run(abandoned())
    assert all(f.done() for f in futures) and len(begun) <= 2 and sum(f.cancelled() for f in futures) == 7 - len(begun)

    def failing(rows, fields):
        raise RuntimeError("slice refused")

    async def failed():
        monkeypatch.setattr(rematch, "_sealed", failing)
        packing = rematch._Packing(found, "B1", at, FIELDS)
        try:
            return [rows async for rows in packing.slices()]
        finally:
            await packing.close()

    with pytest.raises(RuntimeError, match="slice refused"):
        asyncio.run(failed())
