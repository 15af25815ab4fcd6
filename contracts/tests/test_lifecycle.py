"""The shared per-student fold's reading of a match's findings (``lifecycle.categories_of``)."""

from __future__ import annotations

import itertools

import pytest

from aid_contracts import lifecycle
from aid_contracts.events import Category, CategoryEntry, PovertyStatus

STATUSES = [None, *PovertyStatus]


def _entry(category: Category, status: PovertyStatus | None, department: str = "civil_affairs") -> CategoryEntry:
    return CategoryEntry(category=category, department=department, poverty_status=status)


@pytest.mark.parametrize(("category", "status"), list(itertools.product(Category, STATUSES)))
def test_one_finding_reads_as_the_same_finding_among_others(category, status):
    """One department's finding (the short path) reads as it does beside a repeat of itself."""
    alone = lifecycle.categories_of([_entry(category, status)])
    twice = lifecycle.categories_of([_entry(category, status), _entry(category, status)])
    assert alone == twice
    assert alone["categories"] == [category.value] and alone["departments"] == ["civil_affairs"]
    expected = status.value if category is Category.REGISTERED_POOR and status is not None else None
    assert alone["poverty_status"] == expected


def test_several_findings_are_sorted_and_the_poverty_status_is_the_registered_poor_ones():
    found = lifecycle.categories_of([_entry(Category.ORPHAN, None, "trade_union"),
                                     _entry(Category.REGISTERED_POOR, PovertyStatus.OUT, "poverty_office"),
                                     _entry(Category.DISABLED, None, "disabled_federation")])
    assert found == {"categories": ["disabled", "orphan", "registered_poor"],
                     "departments": ["disabled_federation", "poverty_office", "trade_union"],
                     "poverty_status": "out"}


def test_the_answer_kept_for_a_list_is_never_given_for_another():
    """A match's findings are read twice (its row, query's timeline line): the second read of the
    same list is the kept answer; any other list, even one made where the first was, is read anew."""
    first = [_entry(Category.ORPHAN, None)]
    answer = lifecycle.categories_of(first)
    assert lifecycle.categories_of(first) is answer
    second = [_entry(Category.DISABLED, None), _entry(Category.ORPHAN, None, "trade_union")]
    assert lifecycle.categories_of(second)["categories"] == ["disabled", "orphan"]
    del first, answer
    for _ in range(3):
        fresh = [_entry(Category.REGISTERED_POOR, PovertyStatus.OUT)]
        assert lifecycle.categories_of(fresh) == {"categories": ["registered_poor"], "departments": ["civil_affairs"],
                                                  "poverty_status": "out"}
