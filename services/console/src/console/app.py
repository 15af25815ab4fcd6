"""The console's app: pages for each role, static files, health; every page declares its policy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from aid_chassis.app import HttpMetrics, TraceIdHeader, invalid_request
from aid_chassis.auth import TokenVerifier, assert_every_route_has_policy, public
from console.backend import ApiError, Backend
from console.oidc import Provider
from console.pages import bureau, department, followups, operator, public_pages, school, signin, views
from console.pages.signin import set_session
from console.session import NotAllowed, SignInNeeded, anyone, login_url
from console.settings import Settings
from console.web import HOME, render

log = logging.getLogger(__name__)


def create(settings: Settings, *, transport=None, provider_transport=None) -> FastAPI:
    """The console; the transports stand in for the services' and the provider's network in unit tests."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = Backend(settings.service_urls, transport=transport)
        app.state.provider = _provider(settings, provider_transport)
        app.state.token_verifier = TokenVerifier.from_settings(settings)
        try:
            await app.state.token_verifier.refresh()
        except Exception:  # noqa: BLE001 - the provider may be starting too
            log.warning("the identity provider's keys could not be fetched at start; trying again on the first sign-in")
        yield
        await app.state.backend.aclose()
        if app.state.provider is not None:
            await app.state.provider.aclose()

    app = FastAPI(title="console 精准资助管理平台", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for module in (signin, school, bureau, followups, views, department, public_pages, operator):
        app.include_router(module.router)
    app.include_router(_health())
    assert_every_route_has_policy(app)
    _handlers(app)
    app.middleware("http")(_renew_cookies)
    app.add_middleware(SameOrigin)
    app.add_middleware(HttpMetrics, service="console")
    app.add_middleware(TraceIdHeader)
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,static")
    return app


def _provider(settings: Settings, transport) -> Provider | None:
    if not settings.oidc_issuer_url:
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    return Provider(settings.oidc_issuer_url, settings.oidc_client_id, settings.oidc_redirect_url,
                    client_secret=secret, transport=transport)


async def _renew_cookies(request: Request, call_next):
    """Tokens renewed while serving the page (an expired access token) go back to the browser."""
    response = await call_next(request)
    tokens = getattr(request.state, "renewed", None)
    if tokens:
        set_session(response, tokens, request.app.state.settings)
    return response


def _health():
    from fastapi import APIRouter

    router = APIRouter(dependencies=[Depends(public)])

    @router.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "service": "console"}

    @router.get("/readyz")
    async def readyz() -> dict:  # the console holds no state: ready once serving
        return {"status": "ready"}

    @router.get("/")
    async def root(request: Request, user=Depends(anyone)):
        return RedirectResponse(HOME.get(user.role, "/lookup") if user else "/lookup", status_code=303)

    return router


def _handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)  # where and why, never the values sent

    @app.exception_handler(SignInNeeded)
    async def sign_in(request: Request, exc: SignInNeeded):
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed):
        return render(request, "error.html", None, status_code=403, message_key="forbidden")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error("page failed", exc_info=exc)  # the page says only that it failed: no details to a browser
        return render(request, "error.html", None, status_code=500, message_key="page_failed")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        if exc.status == 401:
            return RedirectResponse(login_url(request.url.path), status_code=303)
        status = exc.status if 400 <= exc.status < 600 else 502
        return render(request, "error.html", None, status_code=status, message=exc.message)


class SameOrigin:
    """Refuse a state-changing request sent from another site (CSRF), on top of the SameSite
    cookie: its ``Origin`` (or ``Referer``) must be this console's own host."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope.get("headers") or ())
            source = (headers.get(b"origin") or headers.get(b"referer") or b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if source and source != "null" and urlsplit(source).netloc != host:
                await JSONResponse({"detail": "cross-site request refused"}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
