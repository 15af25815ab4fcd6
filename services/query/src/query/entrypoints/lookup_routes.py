"""The public personal lookup (个人查询, seed 001 §4): name + ID number + school, no login.

Anti-enumeration: one query whatever the input, the name and school compared in constant time,
and one answer (404, the same body) for an unknown ID number, a wrong name or a wrong school.
Rate limits per client address and per student (keyed by the pseudonymous key, not the ID
number) answer 429 before any lookup. No ID number or card in the answer beyond a mask.

It is the platform's one endpoint facing the public, and the busiest: ``LookupFront`` answers
``POST /public/lookup`` in front of the framework (plain ASGI, the body read with orjson, the lookups of
the moment sharing one query through the driver's pool); the FastAPI route documents it and
answers the same way (``answer``) when the app is used without the front. Its server spans are
sampled (``lookup_trace_ratio``): at thousands of lookups a second, a span for each cost a quarter
of the process's time (measured with py-spy); errors of the lookup show in the logs and metrics.
"""

from __future__ import annotations

import hmac
import logging
import random

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from opentelemetry import trace
from pydantic import BaseModel, Field

from aid_chassis.auth import public
from aid_chassis.fields import SealedFieldError
from aid_chassis.masking import mask_id_number, mask_name
from aid_chassis.ratelimit import RateLimiter
from aid_contracts import labels
from aid_contracts.keys import keyer
from query.entrypoints.lookup_batch import Coalescer

router = APIRouter(tags=["个人查询 personal lookup"])
log = logging.getLogger(__name__)
PATH = "/public/lookup"
NOT_FOUND = "未查询到资助信息，请核对姓名、身份证号和学校 (no record matches this name, ID number and school)"
TOO_MANY = "查询过于频繁，请稍后再试 (too many lookups; try again later)"
MAX_BODY = 4096
FIELDS = {"name": (1, 50, "姓名"), "id_number": (15, 40, "身份证号"), "school_code": (1, 20, "学校代码")}
tracer = trace.get_tracer("query.lookup")


class Lookup(BaseModel):
    name: str = Field(min_length=1, max_length=50, description="姓名")
    id_number: str = Field(min_length=15, max_length=40, description="身份证号")
    school_code: str = Field(min_length=1, max_length=20, description="学校代码")


def limiters(settings) -> tuple[RateLimiter, RateLimiter]:
    return (RateLimiter(settings.lookup_per_client, settings.lookup_window_seconds),
            RateLimiter(settings.lookup_per_student, settings.lookup_window_seconds))


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def invalid(data: object) -> str | None:
    """Why a request body is refused (the first wrong field), or None."""
    if not isinstance(data, dict):
        return "请求须为 JSON 对象 (the body must be a JSON object with name, id_number and school_code)"
    for field, (low, high, word) in FIELDS.items():
        value = data.get(field)
        if not isinstance(value, str) or not low <= len(value) <= high:
            return f"{word} {field} 须为 {low}–{high} 个字符 ({field} must be text of {low} to {high} characters)"
    return None


async def answer(state, data: dict, client: str) -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) of a lookup whose body is valid."""
    if getattr(state, "coalescer", None) is None:  # the pool exists once the app has started
        state.coalescer, state.keyer = Coalescer(state.pool), keyer(state.settings.pseudonym_secret)
    key = state.keyer(data["id_number"])
    wait = max(state.lookup_limits[0].hit(client), state.lookup_limits[1].hit(key))
    if wait:
        return 429, {"detail": TOO_MANY}, {"retry-after": str(int(wait) + 1)}
    rows = await state.coalescer.rows(key)
    first = rows[0] if rows else None
    opened = _opened(state, first, key)
    if opened is None:  # a value no key of the ring opens: answered like an unknown student
        opened, first = ("", ""), None
    name, id_number = opened
    name_ok = _same(name, data["name"].strip())
    school_ok = _same(first.school_code if first else "", data["school_code"].strip())
    if not (first and name_ok and school_ok):
        return 404, {"detail": NOT_FOUND}, {}
    return 200, {"name": mask_name(name), "id_number": mask_id_number(id_number),
                 "school_code": first.school_code,
                 "aid": [{"programme": r.programme_name, "period": r.period, "amount_fen": r.amount_fen,
                          "amount_yuan": f"{r.amount_fen / 100:.2f}", "status": r.status,
                          "status_label": labels.label(labels.AID_STATUS, r.status), "paid_on": r.paid_on}
                         for r in rows if r.programme_name is not None]}, {}


def _opened(state, first, key: str) -> tuple[str, str] | None:
    """The stored name and ID number opened (None when they do not open; ("", "") for an unknown
    ID number). An unknown ID number opens the last found student's values instead and
    drops them, so that it costs nearly what a wrong name costs — finding a data key and two AES-GCM
    opens — and the time of the answer does not tell that the ID number is on record."""
    sealed, owner = (first, key) if first is not None else (getattr(state, "decoy", None) or (None, None))
    if sealed is None:  # no student found yet by this process: nothing to open
        return "", ""
    opener = state.settings.field_cipher()
    try:
        opened = opener.open_text(sealed.name, owner, "name"), opener.open_text(sealed.id_number, owner, "id_number")
    except SealedFieldError:
        if first is None:  # the decoy's key was shredded since: none until the next found student
            state.decoy = None
            return "", ""
        log.warning("a stored name or ID number did not open (key ring?)")
        return None
    if first is None:
        return "", ""
    state.decoy = (first, key)  # a student whose values open
    return opened


@router.post(PATH, summary="Personal lookup: name + ID number + school (个人资助查询)",
             dependencies=[Depends(public)],
             responses={404: {"description": NOT_FOUND}, 429: {"description": TOO_MANY}})
async def lookup(body: Lookup, request: Request) -> Response:
    """All three must match; a wrong name and an unknown ID get the same answer."""
    status, payload, headers = await answer(request.app.state, body.model_dump(),
                                            request.client.host if request.client else "-")
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


class LookupFront:
    """ASGI in front of the API: the lookup answered without the framework, the rest passed on."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = []
        if random.random() < self.app.state.settings.lookup_trace_ratio:
            with tracer.start_as_current_span(f"POST {PATH}", kind=trace.SpanKind.SERVER, attributes={
                    "http.request.method": "POST", "url.path": PATH, "http.route": PATH}) as span:
                status, payload, headers = await self._respond(scope, receive)
                span.set_attribute("http.response.status_code", status)
                extra.append((b"x-trace-id", f"{span.get_span_context().trace_id:032x}".encode()))
        else:
            status, payload, headers = await self._respond(scope, receive)
        body = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra,
            *((k.encode(), v.encode()) for k, v in headers.items())]})
        await send({"type": "http.response.body", "body": body})

    async def _respond(self, scope, receive) -> tuple[int, dict, dict[str, str]]:
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if len(raw) > MAX_BODY:
                return 413, {"detail": f"请求过大 (the body is over {MAX_BODY} bytes)"}, {}
            if not message.get("more_body"):
                break
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return 422, {"detail": "请求不是有效的 JSON (the body is not valid JSON)"}, {}
        if (why := invalid(data)) is not None:
            return 422, {"detail": why}, {}
        client = scope.get("client") or ("-", 0)
        return await answer(self.app.state, data, client[0])
