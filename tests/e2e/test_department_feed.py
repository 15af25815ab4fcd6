"""A department pushes its list on Kafka and closes the batch with list-imported."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime

from aid_chassis.kafka import make_producer
from aid_contracts import DepartmentRecord, Envelope, ListImported
from aid_local import flow

FEED = "civil-affairs-push-1"


async def _push(bootstrap: str, rows: list[dict[str, str]]) -> None:
    producer = await make_producer(bootstrap, client_id="civil-affairs-system")
    try:
        for number, fields in enumerate(rows, start=1):
            env = Envelope.wrap(DepartmentRecord(batch_id=FEED, department="civil_affairs", row=number, fields=fields),
                                source="department:civil_affairs", key=FEED)
            await producer.send(DepartmentRecord.TOPIC, key=FEED.encode(), value=env.value(), headers=env.headers())
        close = ListImported(batch_id=FEED, list_kind="department", department="civil_affairs", read=len(rows),
                             accepted=0, rejected=0, imported_at=datetime.now(UTC))
        env = Envelope.wrap(close, source="department:civil_affairs", key=FEED)
        await producer.send_and_wait(ListImported.TOPIC, key=FEED.encode(), value=env.value(), headers=env.headers())
    finally:
        await producer.stop()


def test_a_list_pushed_on_kafka_goes_through_the_same_pipeline(running, province, result):
    rows = list(csv.DictReader(io.StringIO(province.list_csv("civil_affairs").decode("utf-8-sig"))))
    asyncio.run(_push(running.platform.bootstrap_servers, rows))
    c = flow.Clients(running.platform)
    who = c.token("department", department="civil_affairs")

    def imported():
        status = c.call("GET", "identity-matching", f"/imports/feeds/{FEED}", headers=who).json()
        return status if status["state"] == "imported" else None

    status = flow.wait_for("the pushed batch to be imported", imported, timeout=60)
    report = c.call("GET", "identity-matching", f"/imports/{status['import_batch_id']}", headers=who).json()
    assert (report["read"], report["rejected"]) == (len(rows), 2)
    assert (report["matched_new"], report["matched_changed"], report["withdrawn"]) == (0, 0, 0)  # the same list again
    assert sorted(r["code"] for r in report["rejections"]) == ["bad_check_digit", "bad_length"]
