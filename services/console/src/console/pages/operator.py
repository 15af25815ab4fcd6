"""The operator's page (运维监控): every service's readiness, consumer lag per group, the outbox
backlog and dead letters — read from the services' own ``/readyz`` and Prometheus ``/metrics``
(APIs and workers), refreshed live by the page."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from fastapi import APIRouter, Depends, Request
from prometheus_client.parser import text_string_to_metric_families

from aid_chassis.auth import Role
from console.backend import ApiError
from console.pages.common import backend
from console.session import User, page
from console.settings import SERVICES
from console.traces import recent_roots
from console.web import render

router = APIRouter()
OPERATOR = page(Role.OPERATOR)


@router.get("/operator")
async def health(request: Request, user: User = Depends(OPERATOR)):
    return render(request, "operator.html", user, **await _state(request))


async def _state(request: Request) -> dict:
    api = backend(request)
    settings = request.app.state.settings
    ready, api_metrics, worker_metrics = await asyncio.gather(
        asyncio.gather(*(_ready(api, s) for s in SERVICES)),
        asyncio.gather(*(_metrics(api, s, None) for s in SERVICES)),
        asyncio.gather(*(_metrics(api, s, settings.worker_metrics_urls.get(s)) for s in SERVICES)))
    lag: dict[tuple[str, str], float] = defaultdict(float)
    dead: dict[str, float] = defaultdict(float)
    backlog: dict[str, float] = {}
    for service, samples in zip(SERVICES, api_metrics):
        backlog[service] = sum(v for name, _, v in samples if name == "aid_outbox_backlog")
    for service, samples in zip(SERVICES, worker_metrics):
        for name, labels, value in samples:
            if name == "aid_consumer_lag":
                lag[(labels.get("group", service), labels.get("topic", ""))] += value
            elif name == "aid_events_handled_total" and labels.get("outcome") == "dead_lettered":
                dead[service] += value
    return {"services": [{"name": s, "ready": r, "outbox_backlog": backlog.get(s), "dead_letters": dead.get(s, 0)}
                         for s, r in zip(SERVICES, ready)],
            "lag": [{"group": g, "topic": t, "lag": v} for (g, t), v in sorted(lag.items())],
            "traces_url": settings.traces_url, "traces": await asyncio.to_thread(recent_roots, settings.trace_dir)}


async def _ready(api, service: str) -> bool:
    try:
        await api.call(service, "GET", "/readyz")
        return True
    except ApiError:
        return False


async def _metrics(api, service: str, url: str | None) -> list[tuple[str, dict, float]]:
    """(sample name, labels, value) of a service's API ``/metrics`` or, with ``url``, its worker's."""
    try:
        if url:
            text = (await api.fetch(url.rstrip("/") + "/metrics")).text
        else:
            text = (await api.call(service, "GET", "/metrics")).text
    except ApiError:
        return []
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]
