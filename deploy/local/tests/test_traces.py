import json

from aid_local.traces import load_spans, render


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


def test_batch_spans_of_other_traces_are_found_through_their_links(tmp_path):
    ours = [{**SPANS[0], "trace_id": "t1"}, {**SPANS[3], "trace_id": "t1"}]
    batch = {**_span("q", None, "aid.student-matched.v1 process", "query", 7_000_000, 8_000_000),
             "trace_id": "t2", "links": ["t1:d"]}
    sql = {**_span("r", "q", "INSERT", "query", 7_100_000, 7_200_000), "trace_id": "t2"}
    unrelated = {**_span("z", None, "other", "query", 0, 1), "trace_id": "t3", "links": ["t9:x"]}
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(s) for s in [*ours, batch, sql, unrelated]) + "\n")
    spans = load_spans(tmp_path, "t1")
    assert {s["span_id"] for s in spans} == {"a", "d", "q", "r"}
    lines = render(spans)
    assert lines[2].startswith("    ↪ query") and lines[3].startswith("      query") and "INSERT" in lines[3]
