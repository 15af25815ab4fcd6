"""Read-only views of the event models, decoded by msgspec: what a consumer folding a burst reads.

pydantic validated a ``student-matched`` event's JSON into its model in a fifth of query's and
reporting's Python in a burst; msgspec decodes the same JSON into a frozen struct with the same
fields, types and constraints in half the time (``bench/decoding.py``). The struct types are derived
from the models, so there is no second contract to keep: field names, defaults, enums, literals,
nested models, lists, dicts, and the ``ge``/``gt``/``le``/``lt``/``min_length``/``max_length``/
``pattern`` constraints. A model that validates or serialises in Python, has aliases, computed
fields, a configuration beyond ``extra="ignore"`` and ``frozen``, or a type not listed here has no
view (``TypeError`` when derived).

``decode`` refuses exactly what the model refuses, with pydantic's own ``ValidationError``: msgspec
is strict (``"3"`` for an integer, ``1`` for a boolean are refused), so where it refuses, the model
is asked, and the view of JSON it accepts after coercing it is made from the model itself. So is the
view of a time with more than six decimals of a second (msgspec rounds it, pydantic cuts it off)
and of JSON with ``\\u`` escapes (which could spell such a time's digits).
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
_CONSTRAINTS = frozenset({"ge", "gt", "le", "lt", "min_length", "max_length", "pattern"})  # also: what pydantic's
# own metadata object may hold for a view
_KNOWN_METADATA = frozenset({"Ge", "Gt", "Le", "Lt", "MinLen", "MaxLen", "_PydanticGeneralMetadata"})
_VIEWS: dict[type[BaseModel], type[msgspec.Struct]] = {}
_DECODERS: dict[type[BaseModel], msgspec.json.Decoder] = {}
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError)
_FINER = re.compile(rb"\.[0-9]{7}")  # a time finer than a microsecond: msgspec rounds it, pydantic cuts it off
_CONFIG = {"extra": "ignore", "frozen": None}  # the model configuration a view mirrors (None: any value)


def decode(model: type[BaseModel], raw: bytes) -> Any:
    """The view of ``model`` read from its JSON ``raw``; pydantic's ``ValidationError`` when the
    model refuses it."""
    decoder = _DECODERS.get(model) or _decoder(model)
    if b"\\u" not in raw and _FINER.search(raw) is None:  # not one regex: an alternation halves its speed
        try:
            return decoder.decode(raw)
        except _REFUSED:
            pass
    return of(model.model_validate_json(raw))  # raises when the model refuses it too


def of(event: BaseModel) -> Any:
    """The view of a validated model instance (its values as they are, nested models included)."""
    return msgspec.convert(event, view_type(type(event)), from_attributes=True)


def view_type(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The frozen struct type mirroring ``model`` (derived once)."""
    found = _VIEWS.get(model)
    if found is None:
        found = _VIEWS[model] = _derive(model)
    return found


def _decoder(model: type[BaseModel]) -> msgspec.json.Decoder:
    decoder = _DECODERS[model] = msgspec.json.Decoder(view_type(model))
    return decoder


def _derive(model: type[BaseModel]) -> type[msgspec.Struct]:
    found = model.__pydantic_decorators__
    if any((found.validators, found.field_validators, found.root_validators, found.model_validators,
            found.field_serializers, found.model_serializers, found.computed_fields)):
        raise TypeError(f"{model.__name__} validates or serialises in Python: it has no view")
    if any(name not in _CONFIG or _CONFIG[name] not in (None, value) for name, value in model.model_config.items()):
        raise TypeError(f"{model.__name__}'s configuration {dict(model.model_config)} has no view")
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
        known = type(item).__name__
        if known not in _KNOWN_METADATA or (known == "_PydanticGeneralMetadata" and not vars(item).keys() <= _CONSTRAINTS):
            raise TypeError(f"{item!r}: a constraint with no view")
    if "pattern" in options:
        options["pattern"] = _anchored(options["pattern"])
    return Annotated[kind, msgspec.Meta(**options)] if options else kind


def _anchored(pattern: str) -> str:
    """A pattern as pydantic's regex engine reads it: its final ``$`` is the end of the text, where
    Python's ``re`` (msgspec's) also lets a trailing newline through."""
    if pattern.endswith("$") and not re.search(r"(?<!\\)(\\\\)*\\\$$", pattern):
        return pattern[:-1] + r"\Z"
    return pattern
