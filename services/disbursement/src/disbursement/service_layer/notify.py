"""Payment notices to students and parents (发放告知, seed 002 §4): a notification outbox (rows
written with the payment results, ``settle``) delivered through a pluggable channel, with
delivery status kept and retried with backoff."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from disbursement.adapters import tables
from disbursement.domain.cards import CardCipher

log = logging.getLogger(__name__)
N = tables.notifications.c


class Channel(Protocol):
    name: str

    async def send(self, recipient: str, message: str) -> None:
        """Deliver or raise; a raised error is retried later."""


class FileChannel:
    """Local channel: one JSON line per message (the recipient masked), for demos and tests."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, recipient: str, message: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"to": recipient[:3] + "****" + recipient[-4:], "message": message,
                                  "at": datetime.now(UTC).isoformat()}, ensure_ascii=False) + "\n")


class SmsGatewayChannel:
    """An SMS gateway over HTTP: POST {to, text} with a bearer token; any non-2xx is retried."""

    name = "sms"

    def __init__(self, url: str, token: str | None, client: httpx.AsyncClient | None = None) -> None:
        self.url, self.token = url, token
        self.client = client or httpx.AsyncClient(timeout=10)

    async def send(self, recipient: str, message: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        resp = await self.client.post(self.url, json={"to": recipient, "text": message}, headers=headers)
        resp.raise_for_status()


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** attempts))


async def deliver_due(session: AsyncSession, channel: Channel, cipher: CardCipher, *, max_attempts: int,
                      limit: int = 200) -> int:
    """Send the notices that are due; failures are retried with backoff, then marked failed."""
    now = datetime.now(UTC)
    rows = (await session.execute(select(tables.notifications).where(N.status == "pending", N.next_attempt_at <= now)
                                  .order_by(N.id).limit(limit).with_for_update(skip_locked=True))).all()
    sent = 0
    for row in rows:
        try:
            await channel.send(cipher.decrypt(row.recipient_cipher, row.student_key), row.message)
        except Exception as exc:  # noqa: BLE001 - any channel failure is retried
            attempts = row.attempts + 1
            log.warning("notice %s not delivered (attempt %d): %s", row.id, attempts, type(exc).__name__)
            await session.execute(update(tables.notifications).where(N.id == row.id).values(
                attempts=attempts, last_error=type(exc).__name__[:200], channel=channel.name,
                status="failed" if attempts >= max_attempts else "pending", next_attempt_at=now + _backoff(attempts)))
            continue
        await session.execute(update(tables.notifications).where(N.id == row.id).values(
            status="sent", sent_at=now, attempts=row.attempts + 1, channel=channel.name))
        sent += 1
    return sent
