"""The read-model folds on plain rows, without a database."""

from __future__ import annotations

from datetime import timedelta

from aid_contracts.events import Category, VerificationStatus as V
from query.domain import readmodel
from tests import factories as f


def _fold(*envelopes):
    students, aid, reasons = {}, {}, {}
    readmodel.fold(list(envelopes), students, aid, reasons)
    for row in students.values():
        row.pop("first_line", None)  # which event made the row depends on the topics' interleaving: ``_lines``
    return students, aid, reasons


def _lines(*envelopes) -> list[tuple[str, str, str]]:
    """Every timeline line of a fold, wherever it is kept (the row's first line, the entries)."""
    students: dict = {}
    *_, entries = readmodel.fold(list(envelopes), students, {}, {})
    kept = [{**row["first_line"], "student_key": key} for key, row in students.items() if row.get("first_line")]
    return sorted((line["student_key"], line["event_id"], line["event_type"]) for line in [*entries, *kept])


def test_a_student_from_match_to_payment():
    students, aid, _ = _fold(f.matched(1, categories=(Category.REGISTERED_POOR, Category.ORPHAN)), f.verified(1),
                             f.published(1, final=False), f.paid(1), f.published(1, final=True))
    row = students[f.key(1)]
    assert (row["status"], row["categories"], row["origin"], row["matched"]) == (
        "verified_unchanged", ["orphan", "registered_poor"], "matched", True)
    record = aid[("L1", f.key(1))]
    assert (record["status"], record["amount_fen"], record["paid_on"]) == ("paid", 50_000, f.NOW.date())
    assert record["published_at"] == f.NOW  # kept from the publication, not the payment


def test_an_older_revision_or_withdrawal_changes_nothing():
    students, _, _ = _fold(f.matched(1, revision=3, name="新名字"), f.matched(1, revision=2, name="旧名字"),
                           f.withdrawn(1, revision=3))
    assert (students[f.key(1)]["name"], students[f.key(1)]["status"]) == ("新名字", "matched")
    students, _, _ = _fold(f.matched(1), f.withdrawn(1, revision=2))
    assert (students[f.key(1)]["status"], students[f.key(1)]["matched"]) == ("withdrawn", False)
    assert _fold(f.withdrawn(9))[0] == {}


def test_a_supplementary_record_creates_the_student():
    students, _, _ = _fold(f.verified(5, name="补录生", origin="supplementary",
                                      categories=(Category.REGISTERED_POOR,)))
    row = students[f.key(5)]
    assert (row["name"], row["origin"], row["match_revision"], row["categories"]) == (
        "补录生", "supplementary", 0, ["registered_poor"])


def test_another_schools_invalid_answer_and_a_stale_answer_are_ignored():
    students, _, _ = _fold(f.verified(1), f.verified(1, status=V.INVALID, school="5201039999"))
    assert (students[f.key(1)]["school_code"], students[f.key(1)]["status"]) == ("5201020001", "verified_unchanged")
    students, _, _ = _fold(f.matched(1, revision=2), f.verified(1, revision=1))
    assert students[f.key(1)]["status"] == "matched"  # the school answered the match before it changed


def test_a_failed_payment_waits_for_its_repayment_and_never_undoes_one():
    _, aid, _ = _fold(f.published(1, final=True), f.payment_failed(1))
    assert (aid[("L1", f.key(1))]["status"], aid[("L1", f.key(1))]["failure_code"]) == ("payment_failed", "E01")
    _, aid, _ = _fold(f.published(1, final=True), f.payment_failed(1), f.paid(1), f.payment_failed(1))
    assert (aid[("L1", f.key(1))]["status"], aid[("L1", f.key(1))]["failure_code"]) == ("paid", None)


def test_an_entry_taken_off_its_list_stays_off_and_says_why():
    _, aid, _ = _fold(f.published(1, final=False), f.publication_withdrawn(1), f.published(1, final=False))
    assert aid[("L1", f.key(1))]["status"] == "removed"  # a redelivered publication does not put it back
    line = readmodel.timeline_entry(f.publication_withdrawn(1), readmodel.parse(f.publication_withdrawn(1)))
    assert line["summary"] == {"list_id": "L1", "programme": "生活补助", "period": "2026-autumn", "amount_fen": 50_000,
                               "reason_code": "objection_upheld", "reason": "经调查家庭收入超标"}


def test_the_latest_unfunded_reason_counts():
    later = f.NOW + timedelta(days=1)
    _, _, reasons = _fold(f.unfunded_reason(1, reason="other", at=later), f.unfunded_reason(1))
    assert reasons[(f.key(1), "2026-autumn")]["reason"] == "other"


def test_replaying_a_history_arrives_at_the_same_rows():
    history = [f.matched(1), f.matched(2, categories=(Category.DISABLED,)), f.verified(1),
               f.verified(2, status=V.INVALID), f.published(1, final=False), f.published(1, final=True),
               f.payment_failed(1), f.paid(1), f.withdrawn(2), f.unfunded_reason(2)]
    once = _fold(*history)
    twice = _fold(*history, *history)
    assert once == twice and len(once[0]) == 2


def test_the_timeline_holds_no_id_number():
    history = [f.matched(1), f.verified(1), f.published(1, final=True), f.paid(1), f.payment_failed(1),
               f.unfunded_reason(1), f.withdrawn(1)]
    entries = [readmodel.timeline_entry(e, readmodel.parse(e)) for e in history]
    assert [e["event_type"] for e in entries] == [e.type for e in history]
    assert not any(f.id_number(1) in str(e["summary"]) for e in entries)


def _interleavings(history, count: int, seed: int = 7):
    """Orders a consumer may read ``history`` in: each topic's events in order, the topics mixed."""
    import random

    from aid_contracts import EVENT_TYPES

    rng = random.Random(seed)
    by_topic: dict[str, list] = {}
    for env in history:
        by_topic.setdefault(EVENT_TYPES[env.type].TOPIC.value, []).append(env)
    for _ in range(count):
        queues = {t: list(q) for t, q in by_topic.items()}
        order = []
        while queues:
            topic = rng.choice(sorted(queues))
            order.append(queues[topic].pop(0))
            if not queues[topic]:
                del queues[topic]
        yield order


def test_the_rows_do_not_depend_on_how_the_topics_interleave():
    history = [f.matched(1), f.verified(1), f.published(1, final=False), f.published(1, final=True),
               f.payment_failed(1), f.paid(1), f.matched(2, revision=1), f.verified(2, revision=1),
               f.matched(2, revision=2, name="改名"), f.matched(3), f.verified(3), f.withdrawn(3, revision=2),
               f.verified(4, origin="supplementary"), f.unfunded_reason(4)]
    expected, lines = _fold(*history), _lines(*history)
    assert expected[0][f.key(1)]["status"] == "verified_unchanged" and expected[0][f.key(2)]["status"] == "matched"
    assert len(lines) == len(history)
    for order in _interleavings(history, 200):
        assert _fold(*order) == expected
        assert _lines(*order) == lines


def test_the_fold_reads_views_as_it_would_read_the_models(monkeypatch):
    """Events read from Kafka as views (``lifecycle.parse``) fold to the rows and lines the models give."""
    from aid_contracts import Envelope, lifecycle

    history = [f.matched(1, categories=(Category.REGISTERED_POOR, Category.ORPHAN)), f.matched(2), f.verified(1),
               f.verified(2, status=V.INVALID), f.published(1, final=False), f.published(1, final=True),
               f.payment_failed(1), f.paid(1), f.withdrawn(2), f.unfunded_reason(2), f.publication_withdrawn(1)]
    read = [Envelope.from_kafka(e.headers(), e.value()) for e in history]

    def folded():
        students: dict = {}
        aid: dict = {}
        reasons: dict = {}
        *_, entries = readmodel.fold(read, students, aid, reasons)
        return students, aid, reasons, entries

    as_views = folded()
    assert type(lifecycle.parse(read[0])).__name__ == "StudentMatchedView"
    monkeypatch.setattr(lifecycle, "parse", lambda env: env.parse(lifecycle.MODELS[env.type]))
    as_models = folded()
    assert as_views == as_models and len(as_views[0]) == 2 and as_views[3]
