"""What a student adds to the aggregates, without a database."""

from __future__ import annotations

from datetime import date

from aid_contracts import lifecycle
from aid_contracts.events import Category
from reporting.domain.counts import contributions, delta, with_totals
from tests import factories as f


def _state(*envelopes):
    students, aid, reasons = {}, {}, {}
    lifecycle.fold(list(envelopes), students, aid, reasons)
    key = f.key(1)
    return students.get(key), [r for (_, k), r in aid.items() if k == key], [r for (k, _), r in reasons.items()
                                                                               if k == key]


def _progress(counts, dimension="enrolment", category="*"):
    return {k[-1]: v for k, v in counts.items() if k[:2] == ("progress", dimension) and k[4] == category}


def test_a_paid_registered_poor_student_counts_on_both_dimensions_and_each_category():
    counts = contributions(*_state(f.matched(1, categories=(Category.REGISTERED_POOR, Category.ORPHAN),
                                             household="520103"),
                                   f.verified(1, household="520103"), f.published(1, final=True),
                                   f.paid(1, amount_fen=62_500)))
    expected = {"verified_unchanged": 1, "published": 1, "paid": 1, "paid_fen": 62_500}
    assert _progress(counts) == _progress(counts, category="registered_poor") == expected
    assert with_totals(expected) == {**expected, "students": 1, "matched": 1, "unmatched": 0}
    assert _progress(counts, "household") == expected
    assert {k[2] for k in counts if k[:2] == ("progress", "household")} == {"520103"}
    funding = {k[-1]: v for k, v in counts.items() if k[0] == "funding" and k[1] == "enrolment"}
    assert funding == {"listed": 1, "final": 1, "paid": 1, "paid_fen": 62_500}
    assert counts["daily", "enrolment", "520102", date(2026, 11, 2), "paid_fen"] == 62_500


def test_an_entry_taken_off_its_list_counts_neither_published_nor_listed():
    on_notice = contributions(*_state(f.matched(1), f.verified(1), f.published(1, final=False)))
    taken_off = contributions(*_state(f.matched(1), f.verified(1), f.published(1, final=False),
                                      f.publication_withdrawn(1)))
    assert _progress(on_notice)["published"] == 1 and "published" not in _progress(taken_off)
    change = delta(on_notice, taken_off)
    assert change["funding", "enrolment", "520102", "5201020001", "compulsory_living_subsidy_primary", "2026-autumn",
                  "listed"] == -1


def test_unfunded_counts_only_until_paid_in_that_period():
    poor = (Category.REGISTERED_POOR,)
    unpaid = contributions(*_state(f.matched(1, categories=poor), f.verified(1), f.unfunded_reason(1)))
    assert unpaid["unfunded", "enrolment", "520102", "5201020001", "2026-autumn", "family_declined"] == 1
    paid = contributions(*_state(f.matched(1, categories=poor), f.verified(1), f.unfunded_reason(1),
                                 f.published(1, final=True), f.paid(1)))
    assert not [k for k in paid if k[0] == "unfunded"]
    pending = contributions(*_state(f.matched(1, categories=poor), f.unfunded_reason(1)))
    assert _progress(pending)["pending"] == 1 and not [k for k in pending if k[0] == "unfunded"]


def test_nothing_counts_before_the_student_and_a_delta_is_the_difference():
    assert contributions(*_state(f.published(1, final=True))) == {}
    before = contributions(*_state(f.matched(1)))
    after = contributions(*_state(f.matched(1), f.verified(1)))
    change = delta(before, after)
    assert change["progress", "enrolment", "520102", "5201020001", "*", "primary", "pending"] == -1
    assert change["progress", "enrolment", "520102", "5201020001", "*", "primary", "verified_unchanged"] == 1
    assert ("progress", "enrolment", "520102", "5201020001", "*", "primary", "students") not in change
