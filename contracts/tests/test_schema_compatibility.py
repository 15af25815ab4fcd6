import copy
import json

from aid_contracts.events import EVENT_MODELS
from aid_contracts.schemas import SCHEMA_DIR, asyncapi_document, check, event_schema, incompatibilities


def test_committed_schemas_match_the_models():
    assert check() == []


def test_committed_schemas_are_regenerated():
    for model in EVENT_MODELS:
        committed = json.loads((SCHEMA_DIR / f"{model.schema_name()}.json").read_text())
        assert committed == json.loads(json.dumps(event_schema(model))), model.schema_name()


def _paid():
    return json.loads(json.dumps(event_schema(next(m for m in EVENT_MODELS if m.EVENT_TYPE == "paid"))))


def test_removed_field_is_incompatible():
    new = _paid()
    del new["properties"]["bank_reference"]
    assert any("bank_reference: field removed" in p for p in incompatibilities(_paid(), new))


def test_type_change_is_incompatible():
    new = _paid()
    new["properties"]["amount_fen"] = {"type": "string"}
    assert any("amount_fen: type changed" in p for p in incompatibilities(_paid(), new))


def test_new_required_field_is_incompatible():
    new = _paid()
    new["properties"]["card"] = {"type": "string"}
    new["required"].append("card")
    assert any("card: new required field" in p for p in incompatibilities(_paid(), new))


def test_nested_change_is_found():
    new = _paid()
    del new["$defs"]["StudentFacts"]["properties"]["school_code"]
    assert any("student.school_code" in p for p in incompatibilities(_paid(), new))


def test_new_optional_field_is_compatible():
    new = copy.deepcopy(_paid())
    new["properties"]["note"] = {"type": "string"}
    assert incompatibilities(_paid(), new) == []


def test_asyncapi_lists_every_event():
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["components"]["messages"]) == {m.EVENT_TYPE for m in EVENT_MODELS}
    assert "aid.student-matched.v1" in {c["address"] for c in doc["channels"].values()}


def test_committed_asyncapi_is_regenerated():
    committed = json.loads((SCHEMA_DIR.parent / "asyncapi.json").read_text())
    assert committed == json.loads(json.dumps(asyncapi_document()))
