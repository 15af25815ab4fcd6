"""Which school each end-to-end test works on, so that no two tests answer the same tasks. By
rank in matched students: 0 the walking skeleton (``flow.choose_school``), 1 the crash test,
2 the browser test, 4 the other school of test_verification_flow's duplicate pair (the first
school of the walking skeleton's county after its own), 5 and 6 the server restarts, 7 the
slow consumer."""

from __future__ import annotations

from aid_local import flow


def nth_school(province, n: int) -> tuple[str, int]:
    """The ``n``-th school (0-based) by matched students of a paid stage, ties as ``max`` breaks
    them (the first in the roster's order); its code and its number of matched students."""
    ids = flow.matched_ids(province)
    counts: dict[str, int] = {}
    for s in province.students:
        if s.id_number in ids and s.stage in flow.PROGRAMME_BY_STAGE:
            counts[s.school_code] = counts.get(s.school_code, 0) + 1
    taken: list[str] = []
    for _ in range(n + 1):
        taken.append(max((c for c in counts if c not in taken), key=counts.get))
    return taken[n], counts[taken[n]]
