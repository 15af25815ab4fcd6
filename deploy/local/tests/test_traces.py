from aid_local.traces import render


def _span(span_id, parent, name, service, start, end):
    return {"trace_id": "t", "span_id": span_id, "parent_id": parent, "name": name, "service": service,
            "start_ns": start, "end_ns": end}


SPANS = [
    _span("a", None, "POST /imports", "identity-matching", 0, 10_000_000),
    _span("b", "a", "INSERT", "identity-matching", 1_000_000, 2_000_000),
    _span("c", "a", "INSERT", "identity-matching", 2_000_000, 3_000_000),
    _span("d", "a", "aid.student-matched.v1 publish", "identity-matching", 4_000_000, 5_000_000),
    _span("e", "d", "aid.student-matched.v1 process", "verification", 6_000_000, 9_000_000),
]


def test_tree_is_indented_and_repeats_are_folded():
    lines = render(SPANS)
    assert len(lines) == 4
    assert lines[0].startswith("identity-matching") and "POST /imports" in lines[0]
    assert "INSERT ×2" in lines[1] and lines[1].startswith("  ")
    assert lines[3].startswith("    verification") and "+      6.0 ms" in lines[3]


def test_full_shows_every_span_and_orphans_become_roots():
    assert len(render(SPANS, full=True)) == 5
    orphan = [_span("x", "missing", "late", "query", 5, 6)]
    assert render(orphan)[0].startswith("query")
