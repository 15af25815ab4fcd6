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

from aid_chassis import db
from aid_chassis.fields import FieldCipher
from aid_chassis.masking import mask_name
from disbursement.adapters import tables

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


NAME = "{姓名}"  # in a written notice, where the student's masked name goes when it is sent (names are sealed)
_NOTICE = ("'【学生资助发放告知】" + NAME + "同学：' || n.programme_name || '（' || n.period || '）' || "
           "(n.amount_fen / 100)::text || '.' || lpad((n.amount_fen %% 100)::text, 2, '0') || ' 元已于 ' || "
           "to_char(n.returned_on, 'YYYY\"年\"MM\"月\"DD\"日\"') || ' 发放至学生本人银行卡。'")
WRITE_CHUNK = 20_000


async def write_notices(session: AsyncSession, chunk: int = WRITE_CHUNK) -> int:
    """Write the next chunk of one import's payment notices (no ID number, a place for the masked
    name, yuan with two decimals); a job is done when its batch has no result left after its cursor."""
    j = tables.notice_jobs.c
    job = (await session.execute(select(tables.notice_jobs).order_by(j.import_sha256).limit(1)
                                 .with_for_update(skip_locked=True))).first()
    if job is None:
        return 0
    conn = await db.driver(session)
    upper = (await (await conn.execute(
        "SELECT max(payment_id) FROM (SELECT payment_id FROM payment_results WHERE batch_id = %s "
        "AND payment_id > %s ORDER BY payment_id LIMIT %s) s", (job.batch_id, job.after_payment_id, chunk))).fetchone())[0]
    if upper is None:
        await session.execute(tables.notice_jobs.delete().where(j.import_sha256 == job.import_sha256))
        return 0
    written = await conn.execute(
        "INSERT INTO notifications (payment_id, student_key, recipient_cipher, message, status, next_attempt_at) "
        "SELECT n.payment_id, n.student_key, n.phone_cipher, " + _NOTICE + ", "
        "CASE WHEN n.phone_cipher IS NULL THEN 'no_recipient' ELSE 'pending' END, now() FROM ("
        "SELECT p.payment_id, p.student_key, a.phone_cipher, p.programme_name, p.period, "
        "p.amount_fen, r.returned_on FROM payment_results r JOIN payments p ON p.payment_id = r.payment_id "
        "LEFT JOIN bank_accounts a ON a.student_key = p.student_key WHERE r.batch_id = %s AND r.payment_id > %s "
        "AND r.payment_id <= %s AND r.state = 'paid') n ON CONFLICT (payment_id) DO NOTHING",
        (job.batch_id, job.after_payment_id, upper))
    await session.execute(tables.notice_jobs.update().where(j.import_sha256 == job.import_sha256)
                          .values(after_payment_id=upper))
    return written.rowcount


def notice_text(message: str, student: dict, key: str, fields: FieldCipher) -> str:
    """A written notice as it is sent and shown: the student's name opened and masked in its place."""
    return message.replace(NAME, mask_name(fields.shown(student["name"], key, "name")))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** attempts))


async def deliver_due(session: AsyncSession, channel: Channel, cipher: FieldCipher, *, max_attempts: int,
                      fields: FieldCipher, limit: int = 200) -> int:
    """Write the next chunk of notices, then send the ones that are due (the student's name opened
    with ``fields`` and masked); failures are retried with backoff, then marked failed."""
    await write_notices(session)
    now = datetime.now(UTC)
    P = tables.payments.c
    rows = (await session.execute(
        select(tables.notifications, P.student).join(tables.payments, P.payment_id == N.payment_id)
        .where(N.status == "pending", N.next_attempt_at <= now).order_by(N.id).limit(limit)
        .with_for_update(of=tables.notifications, skip_locked=True))).all()
    sent = 0
    for row in rows:
        try:
            message = notice_text(row.message, row.student, row.student_key, fields)
            await channel.send(cipher.open(row.recipient_cipher, row.student_key, "phone"), message)
        except Exception as exc:  # noqa: BLE001 - any channel failure is retried
            attempts = row.attempts + 1
            log.warning("notice %s not delivered (attempt %d): %s", row.id, attempts, type(exc).__name__)
            await session.execute(update(tables.notifications).where(N.id == row.id).values(
                attempts=attempts, last_error=type(exc).__name__[:200], channel=channel.name,
                status="failed" if attempts >= max_attempts else "pending", next_attempt_at=now + _backoff(attempts)))
            continue
        await session.execute(update(tables.notifications).where(N.id == row.id).values(
            status="sent", sent_at=now, attempts=row.attempts + 1, channel=channel.name, message=message))
        sent += 1
    return sent
