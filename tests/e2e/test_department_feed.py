"""A department pushes its list on Kafka and closes the batch with list-imported."""

from __future__ import annotations

import asyncio

from aid_local import flow
from tests.e2e import feeds

FEED = "civil-affairs-push-1"


def test_a_list_pushed_on_kafka_goes_through_the_same_pipeline(running, province, result):
    rows = feeds.rows_of(province.list_csv("civil_affairs"))
    asyncio.run(feeds.push(running.platform.bootstrap_servers, "civil_affairs", FEED, rows))
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
