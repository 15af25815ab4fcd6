"""Refusals as precise HTTP errors, the same way in every service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException


@contextmanager
def refusals(kinds: tuple[type[Exception], ...], *, conflicts: frozenset[str] = frozenset(),
             statuses: dict[str, int] | None = None) -> Iterator[None]:
    """Turn a service's refusals into HTTP errors with ``{code, message[, problems]}``.

    ``kinds`` are the service's refusal exceptions (with a ``code``): 409 for a code in
    ``conflicts``, ``statuses[code]`` where given, else 422. A LookupError that is not one of
    them is a 404 (another school's or jurisdiction's record is reported as not found).
    """
    try:
        yield
    except kinds as exc:
        code = getattr(exc, "code", "refused")
        status = (statuses or {}).get(code) or (409 if code in conflicts else 422)
        detail = {"code": code, "message": str(exc)}
        if getattr(exc, "problems", None):
            detail["problems"] = exc.problems
        raise HTTPException(status, detail) from None
    except LookupError as exc:
        raise HTTPException(404, {"code": "not_found", "message": str(exc)}) from None
