"""The FastAPI app factory: lifespan-built engine and token verifier, health, metrics, tracing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from opentelemetry import trace
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis import datakeys, db, metrics, outbox
from aid_chassis.auth import TokenVerifier, assert_every_route_has_policy, public
from aid_chassis.fields import FieldCipher, ShreddedFieldError
from aid_chassis.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_app(settings: ServiceSettings, *, title: str, routers: Sequence[APIRouter],
               outbox_table: Table, description: str = "", driver_pool: bool = False) -> FastAPI:
    """A service's HTTP app; every route of ``routers`` must declare an access policy.

    ``driver_pool`` adds ``app.state.pool``, a psycopg connection pool for hot read paths that
    cannot afford the ORM session (the public lookup)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.make_engine(settings)
        app.state.engine = engine
        app.state.sessions = db.make_sessions(engine)
        app.state.token_verifier = TokenVerifier.from_settings(settings)
        try:
            await app.state.token_verifier.refresh()  # the provider's keys, when it publishes a JWKS
        except Exception:  # noqa: BLE001 - the provider may be starting too: keys are fetched on the first token
            log.warning("the identity provider's keys could not be fetched at start; trying again on the first token")
        pool = db.make_driver_pool(settings) if driver_pool else None
        if pool is not None:
            await pool.open()
            app.state.pool = pool
        following = await _follow_data_keys(settings)
        yield
        if following is not None:
            await following()
        if pool is not None:
            await pool.close()
        await engine.dispose()

    app = FastAPI(title=title, description=description, lifespan=lifespan, version="0.1.0")
    app.state.settings = settings
    app.include_router(_health_router(settings, outbox_table))
    for router in routers:
        app.include_router(router)
    assert_every_route_has_policy(app)
    app.add_exception_handler(DBAPIError, _concurrent_change)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ShreddedFieldError, _shredded)
    _document_refusals(app)
    _instrument(app)
    return app


RETRYABLE = ("40P01", "40001")  # deadlock detected, serialization failure


async def _follow_data_keys(settings: ServiceSettings):
    """A service holding students' fields follows their data keys (``aid_chassis.datakeys``),
    waiting up to ``data_keys_wait_seconds`` to have read them all; returns how to stop it."""
    if settings.field_keys is None:
        return None
    follower = datakeys.follower(settings.field_cipher(), settings.kafka_bootstrap_servers,
                                 f"{settings.service_name}-data-keys")
    keys, stop = follower.keys, asyncio.Event()
    task = asyncio.create_task(follower.run(stop))
    deadline = time.monotonic() + settings.data_keys_wait_seconds
    while not (keys.ready.is_set() or follower.unreachable or task.done()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if not keys.ready.is_set():
        log.warning("students' data keys not all read yet: /readyz says so until they are")

    async def stopped() -> None:
        stop.set()
        try:
            await task
        except Exception:  # noqa: BLE001 - stopping anyway
            log.exception("the data keys' follower ended with an error")

    return stopped


async def _shredded(request: Request, exc: ShreddedFieldError) -> JSONResponse:
    """A student's personal data that was crypto-shredded (销毁) — or whose key has not arrived yet."""
    return JSONResponse({"detail": {"code": "shredded", "message": "该学生的个人信息已销毁或暂不可用 (this student's "
                                    "personal data was shredded, or its key has not arrived yet)"}}, status_code=410)


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 422 shaped as FastAPI's (where, what, why), without the values sent: a field refused for
    holding an ID or card number is not echoed back, nor kept by a proxy that logs responses."""
    errors = [{k: v for k, v in error.items() if k not in ("input", "ctx", "url")} for error in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


async def _concurrent_change(request: Request, exc: DBAPIError):
    """Two requests that changed the same records in a different order (one was chosen to give way,
    e.g. while waiting for the audit log's lock): a 409 the caller may simply repeat, not a 500."""
    if getattr(exc.orig, "sqlstate", None) not in RETRYABLE:
        raise exc
    return JSONResponse({"detail": {"code": "concurrent_change", "message": "其他人正在修改相同记录，请重试 (someone else "
                                    "changed the same records at the same moment: try again)"}}, status_code=409,
                        headers={"Retry-After": "1"})


REFUSAL = {  # what a refused request gets: a code and a message a clerk can act on (or a plain text)
    "title": "Refusal", "type": "object", "required": ["detail"],
    "properties": {"detail": {"anyOf": [
        {"type": "string"},
        {"type": "object", "required": ["code", "message"],
         "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
    ]}},
}


def _document_refusals(app: FastAPI) -> None:
    """OpenAPI: a 422 is FastAPI's validation error or one of the service's refusals (a rule the
    request breaks: ``{"detail": {"code", "message"}}``), so clients and schemathesis know both."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Refusal"] = REFUSAL
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                content = operation.get("responses", {}).get("422", {}).get("content", {}).get("application/json")
                if content is not None:
                    content["schema"] = {"anyOf": [content["schema"], {"$ref": "#/components/schemas/Refusal"}]}
        return schema

    app.openapi = openapi


class TraceIdHeader:
    """Pure ASGI middleware: the request's trace id in an ``X-Trace-Id`` response header (cheaper
    than ``BaseHTTPMiddleware``, which runs every request through an extra task and stream)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_trace_id(message) -> None:
            if message["type"] == "http.response.start":
                ctx = trace.get_current_span().get_span_context()
                if ctx.is_valid:
                    message["headers"] = [*message.get("headers", []), (b"x-trace-id", f"{ctx.trace_id:032x}".encode())]
            await send(message)

        await self.app(scope, receive, send_with_trace_id)


class HttpMetrics:
    """Pure ASGI middleware: requests counted by route template and status, and timed (Prometheus).
    Health and metrics routes are not counted."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz", "/metrics"):
            await self.app(scope, receive, send)
            return
        status = [500]  # what an exception before the response start leaves

        async def send_counting(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_counting)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_DURATION.labels(self.service, scope["method"], route).observe(time.perf_counter() - start)
            metrics.HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status[0])).inc()


def _instrument(app: FastAPI) -> None:
    """Server spans for every request, its metrics, and the trace id in an ``X-Trace-Id`` response header."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app.add_middleware(HttpMetrics, service=app.state.settings.service_name)
    app.add_middleware(TraceIdHeader)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", server_request_hook=_url_without_query)


def _url_without_query(span, scope: dict) -> None:
    """Spans keep the URL without its query string: a query may carry an ID number (``?id_number=``)."""
    if span is None or not span.is_recording():
        return
    host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
    span.set_attribute("http.url", f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '')}")


def _health_router(settings: ServiceSettings, outbox_table: Table) -> APIRouter:
    router = APIRouter(tags=["health"], dependencies=[Depends(public)])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @router.get("/readyz", summary="Readiness: the database answers, the students' data keys are read")
    async def readyz(request: Request) -> dict[str, str]:
        try:
            await db.ping(request.app.state.engine)
        except Exception:  # noqa: BLE001 - any failure means not ready
            raise HTTPException(503, "database unreachable") from None
        if settings.field_keys is not None and not datakeys.attach(settings.field_cipher()).ready.is_set():
            raise HTTPException(503, "students' data keys not read yet")
        return {"status": "ready"}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        async with request.app.state.sessions() as session:
            count, age = await outbox.backlog(session, outbox_table)
        metrics.OUTBOX_BACKLOG.labels(settings.service_name).set(count)
        metrics.OUTBOX_OLDEST_AGE.labels(settings.service_name).set(age)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    """A request-scoped session; the route opens its own transaction."""
    async with request.app.state.sessions() as s:
        yield s


def fields(request: Request) -> FieldCipher:
    """The cipher that opens students' sealed ID numbers and names (a route dependency)."""
    return request.app.state.settings.field_cipher()
