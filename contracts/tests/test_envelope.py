from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from aid_contracts import Envelope, ListImported, StudentMatched, student_key
from aid_contracts.envelope import EnvelopeError, trace_headers
from aid_contracts.keys import normalise_id_number


def _imported() -> ListImported:
    return ListImported(
        batch_id="b1", list_kind="department", department="civil_affairs",
        read=3, accepted=2, rejected=1, imported_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_headers_follow_the_cloudevents_kafka_binding():
    env = Envelope.wrap(_imported(), source="identity-matching", key="b1")
    headers = dict(env.headers())
    assert headers["content-type"] == b"application/json"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"list-imported"
    assert headers["ce_dataschema"] == b"urn:aid:schema:list-imported.v1"
    assert headers["ce_partitionkey"] == b"b1"


def test_round_trip_through_kafka_record():
    env = Envelope.wrap(_imported(), source="identity-matching", key="b1")
    back = Envelope.from_kafka(env.headers(), env.value())
    assert back == env
    assert back.parse(ListImported) == _imported()


def test_missing_headers_are_a_precise_error():
    with pytest.raises(EnvelopeError, match="ce_|id, source"):
        Envelope.from_kafka([("ce_type", b"paid")], b"{}")


def test_a_value_that_is_no_json_object_is_rejected_when_read_or_when_parsed():
    env = Envelope.wrap(_imported(), source="x", key="b1")
    for value in (b"\xff", b"[1]", b"", None):
        with pytest.raises(EnvelopeError, match="JSON object"):
            Envelope.from_kafka(env.headers(), value)
    broken = Envelope.from_kafka(env.headers(), b'{"batch_id": ')  # looks like an object: checked on use
    with pytest.raises(EnvelopeError, match="not JSON"):
        broken.data
    with pytest.raises(ValidationError, match="json_invalid|Invalid JSON"):
        broken.parse(ListImported)


def test_an_envelope_read_from_kafka_is_immutable_and_keeps_the_bytes_it_came_in():
    env = Envelope.wrap(_imported(), source="x", key="b1")
    back = Envelope.from_kafka(env.headers(), env.value())
    assert back.value() == env.value() and back.data == env.data and back.subject == "b1"
    with pytest.raises(AttributeError):
        back.type = "paid"
    with pytest.raises(ValueError, match="either"):
        Envelope(source="x", type="t", dataschema="s", partitionkey="k")


def test_trace_headers_are_extracted():
    assert trace_headers([("traceparent", b"00-ab-cd-01"), ("ce_id", b"1")]) == {"traceparent": "00-ab-cd-01"}


def test_student_key_is_keyed_and_normalised():
    a = student_key("11010120100101001x", b"secret")
    assert a == student_key(" １１０１０１２０１００１０１００１Ｘ ", b"secret")
    assert a != student_key("11010120100101001X", b"other")
    assert "110101" not in a
    assert normalise_id_number("  11010120100101001x") == "11010120100101001X"


def test_student_key_refuses_an_empty_secret():
    with pytest.raises(ValueError):
        student_key("110101201001010010", b"")


def test_matched_requires_a_category():
    with pytest.raises(ValueError):
        StudentMatched.model_validate({"categories": []})


def test_a_bad_time_or_a_header_that_is_not_text_is_a_precise_error():
    env = Envelope.wrap(_imported(), source="x", key="b1")
    headers = [(k, b"yesterday" if k == "ce_time" else v) for k, v in env.headers()]
    with pytest.raises(EnvelopeError, match="ce_time"):
        Envelope.from_kafka(headers, env.value())
    with pytest.raises(EnvelopeError, match="UTF-8"):
        Envelope.from_kafka([*env.headers(), ("ce_source", b"\xff")], env.value())


def test_the_time_is_read_with_its_zone_and_an_empty_attribute_counts_as_missing():
    env = Envelope.wrap(_imported(), source="x", key="b1")
    back = Envelope.from_kafka(env.headers(), env.value())
    assert back.time == env.time and back.time.tzinfo is not None
    with pytest.raises(EnvelopeError, match="source"):
        Envelope.from_kafka([(k, b"" if k == "ce_source" else v) for k, v in env.headers()], env.value())


def test_replace_makes_a_changed_copy():
    env = Envelope.from_kafka(Envelope.wrap(_imported(), source="x", key="b1").headers(),
                              Envelope.wrap(_imported(), source="x", key="b1").value())
    other = env.replace(source="identity-matching")
    assert other.source == "identity-matching" and other.id == env.id and other.data == env.data
    assert env.source == "x" and other != env


def test_a_repeated_header_counts_once_and_a_header_without_value_is_none():
    env = Envelope.wrap(_imported(), source="x", key="b1")
    again = Envelope.from_kafka([*env.headers(), ("ce_source", b"y"), ("ce_id", None)], env.value())
    assert again.source == "y" and again.id == env.id  # the last value wins; a None value is no header
    with pytest.raises(EnvelopeError, match="missing CloudEvents headers: id, source"):
        Envelope.from_kafka([(k, None if k in ("ce_id", "ce_source") else v) for k, v in env.headers()],
                            env.value())


def test_versions_default_only_when_their_headers_are_absent():
    env = Envelope.wrap(_imported(), source="x", key="b1")
    absent = [(k, v) for k, v in env.headers() if k not in ("ce_dataversion", "ce_specversion", "ce_subject")]
    back = Envelope.from_kafka(absent, env.value())
    assert (back.dataversion, back.specversion, back.subject) == ("1", "1.0", "b1")
    empty = [(k, b"" if k in ("ce_dataversion", "ce_specversion") else v) for k, v in env.headers()]
    kept = Envelope.from_kafka(empty, env.value())
    assert (kept.dataversion, kept.specversion) == ("", "")
