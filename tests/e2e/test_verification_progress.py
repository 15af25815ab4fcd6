"""reporting's verification counters on the running platform equal what verification itself
counts: tasks, answers before audit, submitted, approved, returned and overdue ones."""

from __future__ import annotations

from aid_local import flow
from tests.e2e.counts import caught_up as _caught_up
from tests.e2e.counts import reported as _reported
from tests.e2e.counts import verification as _verification


def test_reporting_counts_the_tasks_as_verification_does_and_overdue_once_a_deadline_passes(running, result):
    c = flow.Clients(running.platform)
    province = c.token("province_bureau", region=result.school_code[:2] + "0000")
    for report in result.import_reports.values():
        c.call("PUT", "verification", f"/deadlines/verification/{report['batch_id']}", headers=province,
               json={"due": "2026-01-05"})

    def agreed() -> bool:
        return _caught_up(running) and _reported(c, province) == _verification(c, province)

    try:
        flow.wait_for("reporting to count what verification counts", agreed, timeout=60)
    except flow.FlowError:
        pass  # the comparison below shows the difference
    counted = _reported(c, province)
    assert counted == _verification(c, province)
    assert counted["tasks"] > 0 and counted["approved"] >= 1 and counted["overdue"] > 0
    assert counted["overdue"] == counted["tasks"] - counted["approved"]
