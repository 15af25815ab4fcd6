"""The operator's page (运维): every service's readiness, as the console sees it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request

from aid_chassis.auth import Role
from console.backend import ApiError
from console.pages.common import backend
from console.session import User, page
from console.settings import SERVICES
from console.web import render

router = APIRouter()


@router.get("/operator")
async def health(request: Request, user: User = Depends(page(Role.OPERATOR))):
    api = backend(request)

    async def ready(service: str) -> bool:
        try:
            await api.call(service, "GET", "/readyz")
            return True
        except ApiError:
            return False

    states = await asyncio.gather(*(ready(s) for s in SERVICES))
    return render(request, "operator.html", user, services=list(zip(SERVICES, states)))
