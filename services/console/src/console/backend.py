"""Calls to the six services, with the signed-in person's token and the request's trace context.

The console decides nothing itself: what a person may see or do is what the services allow
their token. A refusal comes back as ``ApiError`` carrying the service's own message, which the
page shows as it is (the services word their refusals for clerks)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from opentelemetry import propagate, trace

tracer = trace.get_tracer("console.backend")


class ApiError(Exception):
    """A service refused or failed: its HTTP status and a message a person can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def refusal_message(resp: httpx.Response) -> str:
    """The service's words: ``detail`` as text, ``{code, message}``, or FastAPI's field errors."""
    try:
        detail = resp.json().get("detail", resp.text)
    except ValueError:
        return resp.text[:300] or f"HTTP {resp.status_code}"
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    if isinstance(detail, list):  # request validation: which field, why
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}" for e in detail)
    return str(detail)


KEEPALIVE_EXPIRY = 2.0  # seconds a pooled connection is reused: the services close theirs after 5 (uvicorn's default)
STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)  # a pooled connection the service closed
READS = frozenset({"GET", "HEAD"})
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20,  # httpx's defaults
                      keepalive_expiry=KEEPALIVE_EXPIRY)


class Backend:
    """One pooled HTTP client per service (keep-alive), closed with the app.

    A connection the service closed while it sat in the pool fails the request sent on it
    before any answer: a clerk saw "unreachable" on a page that opened the next time (when the
    client and the service both let an idle connection go after 5 s, the client may take it
    just as the service closes it). Connections are let go after 2 s, before the service's,
    and a read (GET, HEAD) that meets a closed connection anyway, before any answer came, is sent
    once more (a download that broke off midway is not: some downloads are audited exports)."""

    def __init__(self, urls: dict[str, str], *, timeout: float = 120, transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``transport`` replaces the network in unit tests (a stand-in service app)."""
        self._clients = {name: httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout, transport=transport,
                                                 limits=LIMITS) for name, url in urls.items()}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def call(self, service: str, method: str, path: str, *, token: str | None = None,
                   expect: Iterable[int] = (200, 201), **kwargs) -> httpx.Response:
        client = self._clients[service]
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        attributes = {"http.request.method": method, "peer.service": service,  # no URL query: it may hold an ID
                      "url.full": f"{client.base_url}{path.split('?', 1)[0]}"}
        with tracer.start_as_current_span(f"{method} {service}", kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
            propagate.inject(headers)
            try:
                resp = await _request(client, method, path, headers=headers, **kwargs)
            except httpx.HTTPError:
                raise ApiError(503, f"{service} 暂时无法访问，请稍后再试 ({service} is unreachable: try again later)") from None
            span.set_attribute("http.response.status_code", resp.status_code)
        if resp.status_code not in tuple(expect):
            raise ApiError(resp.status_code, refusal_message(resp))
        return resp

    async def fetch(self, url: str) -> httpx.Response:
        """A GET to an absolute URL (a worker's metrics), with the services' client settings."""
        client = next(iter(self._clients.values()))
        try:
            resp = await _request(client, "GET", url)
        except httpx.HTTPError:
            raise ApiError(503, f"{url} 暂时无法访问 (unreachable)") from None
        if resp.status_code != 200:
            raise ApiError(resp.status_code, refusal_message(resp))
        return resp

    async def get(self, service: str, path: str, /, *, token: str | None = None, **params) -> dict:
        """GET JSON; ``params`` (None or empty dropped) become the query (``service=`` may be one)."""
        query = {k: v for k, v in params.items() if v not in (None, "")}
        return (await self.call(service, "GET", path, token=token, params=query)).json()

    async def post(self, service: str, path: str, *, token: str | None = None, **kwargs) -> dict:
        return (await self.call(service, "POST", path, token=token, **kwargs)).json()


async def _request(client: httpx.AsyncClient, method: str, path: str, **kwargs) -> httpx.Response:
    """The request's response, read whole; a read sent once more when its connection turned out
    closed before the response's head came (the service never answered it)."""
    request = client.build_request(method, path, **kwargs)
    try:
        response = await client.send(request, stream=True)
    except STALE:
        if method.upper() not in READS:
            raise  # a write may have been done: the clerk decides whether to send it again
        response = await client.send(request, stream=True)
    try:
        await response.aread()  # a body broken off midway fails the call, not sent again
    finally:
        await response.aclose()
    return response
