"""The console's calls to the services: a pooled connection the service closed."""

import httpx
import pytest

from console.backend import KEEPALIVE_EXPIRY, ApiError, Backend


class ClosedOnce(httpx.AsyncBaseTransport):
    """A service whose first connection turns out closed: the next request is answered."""

    def __init__(self, error: type[httpx.TransportError] = httpx.RemoteProtocolError) -> None:
        self.error, self.seen = error, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.method)
        if len(self.seen) == 1:
            raise self.error("Server disconnected without sending a response.", request=request)
        return httpx.Response(200, json={"items": []})


@pytest.mark.parametrize("error", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError])
async def test_a_read_on_a_connection_the_service_closed_is_sent_once_more(error):
    service = ClosedOnce(error)
    backend = Backend({"query": "http://query"}, transport=service)
    resp = await backend.call("query", "GET", "/views?view=elsewhere")
    assert (resp.status_code, resp.json(), service.seen) == (200, {"items": []}, ["GET", "GET"])
    await backend.aclose()


class BrokenBody(httpx.AsyncByteStream):
    async def __aiter__(self):
        yield b"id,name\n"
        raise httpx.ReadError("connection reset midway")


async def test_a_download_that_breaks_off_midway_is_not_sent_again():
    """Some downloads are audited exports: once the service answered, a broken body fails the call."""
    seen = []

    class Exporting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            seen.append(request.url.path)
            return httpx.Response(200, stream=BrokenBody())

    backend = Backend({"query": "http://query"}, transport=Exporting())
    with pytest.raises(ApiError) as refused:
        await backend.call("query", "GET", "/views/elsewhere/export")
    assert refused.value.status == 503 and seen == ["/views/elsewhere/export"]
    await backend.aclose()


async def test_a_write_on_a_closed_connection_is_not_sent_again():
    service = ClosedOnce()
    backend = Backend({"verification": "http://verification"}, transport=service)
    with pytest.raises(ApiError) as refused:
        await backend.call("verification", "POST", "/tasks/1/decision", json={"decision": "confirmed"})
    assert refused.value.status == 503 and "verification" in refused.value.message
    assert service.seen == ["POST"]
    await backend.aclose()


async def test_a_service_down_is_unreachable_after_one_more_try():
    class Down(httpx.AsyncBaseTransport):
        calls = 0

        async def handle_async_request(self, request):
            Down.calls += 1
            raise httpx.ConnectError("refused", request=request)

    backend = Backend({"query": "http://query"}, transport=Down())
    with pytest.raises(ApiError, match="暂时无法访问") as refused:
        await backend.call("query", "GET", "/views")
    assert refused.value.status == 503 and Down.calls == 1  # not a stale connection: no second try
    await backend.aclose()


async def test_pooled_connections_are_let_go_before_the_services_close_them():
    import uvicorn

    assert KEEPALIVE_EXPIRY < uvicorn.Config(app=None).timeout_keep_alive  # what the services run with
    backend = Backend({"query": "http://query"})
    assert backend._clients["query"]._transport._pool._keepalive_expiry == KEEPALIVE_EXPIRY  # httpcore's pool
    await backend.aclose()
