"""Read-only views of the event models, decoded by msgspec: what a consumer folding a burst reads.

pydantic validates a ``student-matched`` event's JSON into its model in ~10 µs; msgspec decodes the
same JSON into a frozen struct with the same fields, types and constraints in ~2.5 µs — a fifth of
query's and reporting's Python in a burst (``bench/projections.py``). The struct types are derived
from the models, so there is no second contract to keep: field names, defaults, enums, literals,
nested models, lists, dicts, and the ``ge``/``gt``/``le``/``lt``/``min_length``/``max_length``/
``pattern`` constraints. A model with validators of its own, aliases, or a type not listed here has
no view (``TypeError`` when derived).

``decode`` refuses exactly what the model refuses, with pydantic's own ``ValidationError``: msgspec
is strict (``"3"`` for an integer, ``1`` for a boolean are refused), so where it refuses, the model
is asked; JSON the model accepts after coercing it is decoded again from the model's own dump. So is
a time with more than six decimals of a second (msgspec rounds it, pydantic cuts it off).
A view has the model's attributes and its ``EVENT_TYPE``; ``MODEL`` names the model it mirrors."""

from __future__ import annotations

import re
import types
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from pydantic import BaseModel

_PLAIN = (str, int, bool, float, datetime, date, dict, list, type(None))
_CONSTRAINTS = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")
_VIEWS: dict[type[BaseModel], type[msgspec.Struct]] = {}
_DECODERS: dict[type[BaseModel], msgspec.json.Decoder] = {}
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError)
_LONG_FRACTION = re.compile(rb"\.[0-9]{7}")  # a time finer than a microsecond: msgspec rounds it, pydantic cuts it


def decode(model: type[BaseModel], raw: bytes) -> Any:
    """The view of ``model`` read from its JSON ``raw``; pydantic's ``ValidationError`` when the
    model refuses it."""
    decoder = _DECODERS.get(model) or _decoder(model)
    if _LONG_FRACTION.search(raw) is None:
        try:
            return decoder.decode(raw)
        except _REFUSED:
            pass
    coerced = model.model_validate_json(raw)  # raises when the model refuses it too
    return decoder.decode(coerced.model_dump_json())


def view_type(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The frozen struct type mirroring ``model`` (derived once)."""
    found = _VIEWS.get(model)
    if found is None:
        found = _VIEWS[model] = _derive(model)
    return found


def as_json(view: msgspec.Struct) -> Any:
    """A view as plain JSON values (as ``model_dump(mode="json")`` gives the model's)."""
    return msgspec.to_builtins(view)


def _decoder(model: type[BaseModel]) -> msgspec.json.Decoder:
    decoder = _DECODERS[model] = msgspec.json.Decoder(view_type(model))
    return decoder


def _derive(model: type[BaseModel]) -> type[msgspec.Struct]:
    found = model.__pydantic_decorators__
    if found.validators or found.field_validators or found.root_validators or found.model_validators:
        raise TypeError(f"{model.__name__} validates in Python: it has no view")
    fields: list[tuple] = []
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise TypeError(f"{model.__name__}.{name} has an alias: no view")
        kind = _constrained(_kind(info.annotation), info.metadata)
        if info.is_required():
            fields.append((name, kind))
        elif info.default_factory is not None:
            fields.append((name, kind, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((name, kind, info.default))
    namespace = {"MODEL": model, "__doc__": f"A read-only view of {model.__name__} (aid_contracts.views)."}
    if hasattr(model, "EVENT_TYPE"):
        namespace["EVENT_TYPE"] = model.EVENT_TYPE
    return msgspec.defstruct(f"{model.__name__}View", fields, frozen=True, kw_only=True, namespace=namespace,
                             module=__name__)


def _kind(annotation: Any) -> Any:
    """The msgspec type of a field's annotation."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return view_type(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_kind(arg) for arg in get_args(annotation))]  # noqa: UP007 - built from a tuple
    if origin is list:
        return list[_kind(get_args(annotation)[0])]  # type: ignore[misc]
    if origin is dict:
        key, value = get_args(annotation)
        return dict[_kind(key), _kind(value)]  # type: ignore[misc]
    if origin is Literal:
        return annotation
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        return _constrained(_kind(inner), metadata)
    if annotation in _PLAIN or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return annotation
    raise TypeError(f"{annotation!r} has no view")


def _constrained(kind: Any, metadata: list) -> Any:
    """``kind`` with the constraints pydantic keeps in a field's metadata (annotated-types objects
    and pydantic's own, each naming its constraint by attribute)."""
    options: dict[str, Any] = {}
    for item in metadata:
        for name in _CONSTRAINTS:
            if getattr(item, name, None) is not None:
                options[name] = getattr(item, name)
        if type(item).__name__ not in _KNOWN_METADATA:
            raise TypeError(f"{item!r}: a constraint with no view")
    if "pattern" in options:
        options["pattern"] = _anchored(options["pattern"])
    return Annotated[kind, msgspec.Meta(**options)] if options else kind


_KNOWN_METADATA = frozenset({"Ge", "Gt", "Le", "Lt", "MinLen", "MaxLen", "_PydanticGeneralMetadata"})


def _anchored(pattern: str) -> str:
    """A pattern as pydantic's regex engine reads it: its final ``$`` is the end of the text, where
    Python's ``re`` (msgspec's) also lets a trailing newline through."""
    if pattern.endswith("$") and not re.search(r"(?<!\\)(\\\\)*\\\$$", pattern):
        return pattern[:-1] + r"\Z"
    return pattern
