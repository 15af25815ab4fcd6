"""JSON Schema and AsyncAPI generated from the event models, and the compatibility check.

``python -m aid_contracts.schemas generate`` rewrites ``contracts/schemas/``;
``python -m aid_contracts.schemas check`` fails when a model changed incompatibly
with the committed schema (removed or renamed field, type change, new required
field, removed enum value).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aid_contracts.events import EVENT_MODELS, Event
from aid_contracts.topics import Topic

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def event_schema(model: type[Event]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$id"] = model.schema_uri()
    return schema


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 document: one channel per topic, one message per event type."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in EVENT_MODELS:
        name = model.EVENT_TYPE
        messages[name] = {
            "name": name,
            "title": model.__doc__.strip().splitlines()[0] if model.__doc__ else name,
            "contentType": "application/json",
            "payload": {"$ref": f"schemas/{model.schema_name()}.json"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "student key"}}},
        }
        channel = channels.setdefault(
            _channel_id(model.TOPIC), {"address": str(model.TOPIC), "messages": {}}
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    operations = {
        f"receive-{m.EVENT_TYPE}": {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_channel_id(m.TOPIC)}"},
            "messages": [{"$ref": f"#/channels/{_channel_id(m.TOPIC)}/messages/{m.EVENT_TYPE}"}],
        }
        for m in EVENT_MODELS
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Precision student-aid platform events (精准资助)", "version": "1.0.0"},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _channel_id(topic: Topic) -> str:
    return topic.value.replace(".", "-")


def generate(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for model in EVENT_MODELS:
        path = out_dir / f"{model.schema_name()}.json"
        _write_json(path, event_schema(model))
        written.append(path)
    asyncapi = out_dir.parent / "asyncapi.json"
    _write_json(asyncapi, asyncapi_document())
    return [*written, asyncapi]


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Backward-incompatible differences between a committed and a current schema."""
    return _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "")


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return defs[ref.removeprefix("#/$defs/")]
    return node


def _types(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    node = _resolve(node, defs)
    if "anyOf" in node:
        return set().union(*(_types(n, defs) for n in node["anyOf"]))
    if "enum" in node:
        return {node.get("type", "string")}
    return {node.get("type", "object")}


def _compare(old: dict, new: dict, old_defs: dict, new_defs: dict, path: str) -> list[str]:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    problems: list[str] = []
    if not _types(old, old_defs) <= _types(new, new_defs):
        problems.append(f"{path or '<root>'}: type changed")
    removed_values = set(old.get("enum", [])) - set(new.get("enum", []))
    if removed_values:
        problems.append(f"{path}: enum values removed {sorted(removed_values)}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: field removed or renamed")
        else:
            problems += _compare(sub, new_props[name], old_defs, new_defs, f"{path}.{name}")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{path}.{name}: new required field")
    if "items" in old and "items" in new:
        problems += _compare(old["items"], new["items"], old_defs, new_defs, f"{path}[]")
    for branch in old.get("anyOf", []):
        resolved = _resolve(branch, old_defs)
        if resolved.get("properties"):
            match = next((b for b in new.get("anyOf", []) if _resolve(b, new_defs).get("properties")), None)
            if match is not None:
                problems += _compare(branch, match, old_defs, new_defs, path)
    return problems


def check(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Every incompatibility of the current models with the committed schemas."""
    problems = []
    for model in EVENT_MODELS:
        path = schema_dir / f"{model.schema_name()}.json"
        if not path.exists():
            problems.append(f"{model.schema_name()}: no committed schema (run generate)")
            continue
        committed = json.loads(path.read_text())
        problems += [f"{model.schema_name()}{p}" for p in incompatibilities(committed, event_schema(model))]
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "generate":
        for path in generate():
            print(f"wrote {path}")
        return 0
    problems = check()
    for problem in problems:
        print(f"incompatible: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
