"""The events' views (``aid_contracts.views``) accept and refuse exactly what their models do, and hold
the same values: checked on JSON generated from each event's published schema, and on that JSON with
one field replaced by any JSON value or left out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, field_serializer, field_validator

from aid_contracts import Envelope, views
from aid_contracts.events import EVENT_MODELS, StudentMatched
from aid_contracts.schemas import event_schema

ODD_TIMES = ["2026-12-03T08:00:00.1234567Z", "2026-12-03T08:00:00.9999996+08:00", "2026-12-03t08:00:00z",
             "2026-12-03 08:00:00Z", "2026-12-03T08:00", "2026-12-03", "1733212800"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=12) | st.sampled_from(["520101", "520101\n", "1", "true", "registered_poor",
                                                             "2026-12-03T24:00:00Z", *ODD_TIMES]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)


def _python(value):
    """A view's values as ``model_dump()`` gives the model's: structs as dicts, the rest as they are."""
    if isinstance(value, msgspec.Struct):
        return {name: _python(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, list):
        return [_python(v) for v in value]
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    return value


def _json(view: msgspec.Struct):
    """A view written as JSON and read back (infinities as null, as pydantic writes them)."""
    return json.loads(msgspec.json.encode(view))


def _verdict(model: type[BaseModel], raw: bytes):
    """What the model makes of ``raw`` and what the view makes of it: their values as JSON and as
    Python (enum members, datetimes with their offsets, infinities), or "refused"."""
    try:
        event = model.model_validate_json(raw)
        expected = (json.loads(event.model_dump_json()), event.model_dump())
    except ValidationError:
        expected = "refused"
    try:
        view = views.decode(model, raw)
        found = (_json(view), _python(view))
    except ValidationError:
        found = "refused"
    return expected, found


def _raw(value, escaped: bool = False) -> bytes:
    return json.dumps(value, ensure_ascii=escaped).encode()


def _generated(model: type[BaseModel]):
    """Any JSON the event's published schema allows (a walk of the schema: the views are derived
    from the models' annotations, so the two are independent)."""
    schema = event_schema(model)
    return _from(schema, schema["$defs"] if "$defs" in schema else {})


CLOCKS = st.sampled_from([UTC, timezone(timedelta(hours=8)), None])
FORMATS = {"date-time": st.datetimes(min_value=datetime(1900, 1, 1), timezones=CLOCKS).map(datetime.isoformat)
           | st.sampled_from(ODD_TIMES),
           "date": st.dates(min_value=date(1900, 1, 1)).map(date.isoformat)}


def _from(schema: dict, defs: dict):
    if "$ref" in schema:
        return _from(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return st.one_of([_from(option, defs) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        if "format" in schema:
            return FORMATS[schema["format"]]
        if "pattern" in schema:  # JSON Schema's ``$`` ends the text (ECMA-262); Python's \\Z does
            return st.from_regex(schema["pattern"].removesuffix("$") + r"\Z")
        return st.text(max_size=20)
    if kind == "integer":
        low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else None)
        return st.integers(min_value=low)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(_from(schema.get("items", {}), defs), min_size=schema.get("minItems", 0), max_size=4)
    if kind == "object" and "properties" in schema:
        fields = {name: _from(sub, defs) for name, sub in schema["properties"].items()}
        required = {name: fields[name] for name in schema.get("required", [])}
        return st.fixed_dictionaries(required, optional={k: v for k, v in fields.items() if k not in required})
    if kind == "object":
        extra = schema.get("additionalProperties", {})
        return st.dictionaries(st.text(max_size=8), JSON if extra in ({}, True) else _from(extra, defs), max_size=3)
    assert not kind, f"a schema this walk does not know: {schema}"
    return JSON


def _changed(data, value: dict) -> None:
    """One field anywhere in ``value`` (a nested model's too) given any JSON value or left out, or a
    field the model does not have added."""
    while True:
        name = data.draw(st.sampled_from(sorted(value) + ["unknown_field"]))
        inner = value.get(name)
        if isinstance(inner, dict) and inner and data.draw(st.booleans()):
            value = inner
        elif isinstance(inner, list) and inner and isinstance(inner[0], dict) and data.draw(st.booleans()):
            value = inner[0]
        else:
            break
    if data.draw(st.booleans()):
        value.pop(name, None)
    else:
        value[name] = data.draw(JSON)


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.EVENT_TYPE)
def test_a_view_has_the_models_fields_and_type(model):
    view = views.view_type(model)
    assert view.__struct_fields__ == tuple(model.model_fields)
    assert view.EVENT_TYPE == model.EVENT_TYPE and view.MODEL is model


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.EVENT_TYPE)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_view_agrees_with_its_model_on_valid_events(model, data):
    value = data.draw(_generated(model))
    expected, found = _verdict(model, _raw(value, data.draw(st.booleans())))
    assert expected != "refused", "the schema's JSON is the model's"
    assert found == expected


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.EVENT_TYPE)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_view_agrees_with_its_model_on_a_field_changed_or_left_out(model, data):
    value = data.draw(_generated(model))
    _changed(data, value)
    expected, found = _verdict(model, _raw(value, data.draw(st.booleans())))
    assert found == expected


def _matched() -> dict:
    return json.loads(StudentMatched(
        match_id="M1", revision=2, name_mismatch=False, batch_id="B1", matched_at=datetime(2026, 12, 3, tzinfo=UTC),
        student={"id_number": "sealed-id", "name": "sealed-name", "school_code": "5201010001", "stage": "primary",
                 "enrolment_region": "520101", "household_region": "520102"},
        categories=[{"category": "orphan", "department": "civil_affairs"}]).model_dump_json())


def test_a_pattern_ends_where_the_text_ends():
    """Python's ``$`` lets a trailing newline through; the model's does not, nor does the view."""
    value = _matched()
    value["student"]["enrolment_region"] = "520101\n"
    with pytest.raises(ValidationError, match="enrolment_region"):
        views.decode(StudentMatched, _raw(value))


def test_a_time_spelt_with_escapes_is_read_as_the_model_reads_it():
    """Seven decimals of a second are cut off by the model and rounded by msgspec; escaped digits
    must not hide them from the view's check."""
    raw = _raw(_matched()).replace(b'"2026-12-03T00:00:00Z"', b'"2026-12-03T00:00:00.123456\\u0037Z"')
    assert views.decode(StudentMatched, raw).matched_at == StudentMatched.model_validate_json(raw).matched_at
    assert views.decode(StudentMatched, raw).matched_at.microsecond == 123456


def test_json_the_model_coerces_is_read_as_the_model_reads_it():
    value = _matched() | {"revision": "3", "name_mismatch": 1}
    view = views.decode(StudentMatched, _raw(value))
    assert (view.revision, view.name_mismatch) == (3, True)


def test_a_refusal_is_the_models_own_error():
    value = _matched() | {"revision": 0}
    with pytest.raises(ValidationError) as refused:
        views.decode(StudentMatched, _raw(value))
    assert refused.value.title == "StudentMatched" and refused.value.errors()[0]["loc"] == ("revision",)


def test_an_envelope_holding_its_data_gives_the_same_view():
    event = StudentMatched.model_validate(_matched())
    held = Envelope.wrap(event, source="test", key="k")
    read = Envelope.from_kafka(held.headers(), held.value())
    assert held.view(StudentMatched) == read.view(StudentMatched)
    assert _json(read.view(StudentMatched)) == json.loads(event.model_dump_json())


class _Checked(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class _Aliased(BaseModel):
    code: str = Field(alias="Code")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str


class _Stripped(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    code: str


class _Serialised(BaseModel):
    code: str

    @field_serializer("code")
    def _lower(self, value: str) -> str:
        return value.lower()


class _Computed(BaseModel):
    code: str

    @computed_field
    @property
    def county(self) -> str:
        return self.code[:6]


class _Exact(BaseModel):
    code: str = Field(pattern=r"^\d+$", strict=True)


class _Coerced(BaseModel):
    """pydantic's own metadata object holding an option beside a pattern."""
    code: str = Field(pattern=r"^\d+$", coerce_numbers_to_str=True)


class _Ordered(BaseModel):
    code: int | str = Field(union_mode="left_to_right")


@pytest.mark.parametrize("model", [_Checked, _Aliased, _Strict, _Stripped, _Serialised, _Computed, _Exact, _Coerced,
                                   _Ordered])
def test_a_model_a_view_could_not_mirror_has_none(model):
    with pytest.raises(TypeError, match="no view"):
        views.view_type(model)
