"""A department system pushing its list on Kafka: records, then list-imported closing the batch."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from aid_chassis.kafka import make_producer
from aid_contracts import DepartmentRecord, Envelope, ListImported


def rows_of(list_csv: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(list_csv.decode("utf-8-sig"))))


async def push(bootstrap: str, department: str, batch_id: str, rows: list[dict[str, str]]) -> None:
    producer = await make_producer(bootstrap, client_id=f"{department}-system")
    source = f"department:{department}"
    try:
        for number, fields in enumerate(rows, start=1):
            env = Envelope.wrap(DepartmentRecord(batch_id=batch_id, department=department, row=number, fields=fields),
                                source=source, key=batch_id)
            await producer.send(DepartmentRecord.TOPIC, key=batch_id.encode(), value=env.value(), headers=env.headers())
        close = ListImported(batch_id=batch_id, list_kind="department", department=department, read=len(rows),
                             accepted=0, rejected=0, imported_at=datetime.now(UTC))
        env = Envelope.wrap(close, source=source, key=batch_id)
        await producer.send_and_wait(ListImported.TOPIC, key=batch_id.encode(), value=env.value(), headers=env.headers())
    finally:
        await producer.stop()
