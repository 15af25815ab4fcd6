"""reporting's copy of the audit trail as a witness of each service's chain: the newest entry it
holds of a service must still be in that service's log, with the same hash. A chain cut at its end
leaves no broken link in the service's own log; this finds it (for entries reporting had seen)."""

from __future__ import annotations

import psycopg

from aid_local.platform import SERVICES, Platform

SVC = {s.name: s for s in SERVICES}


def _table(service: str) -> str:
    return service.replace("-", "_") + "_audit_log"


def compare_with_reporting(platform: Platform, reports: list[dict]) -> None:
    """Add a ``truncated`` problem to each report whose service lost an entry reporting holds."""
    with psycopg.connect(platform.database_url(SVC["reporting"])) as conn:
        newest = {service: (entry_id, digest) for service, entry_id, digest in conn.execute(
            "SELECT DISTINCT ON (service) service, entry_id, hash FROM audit_trail ORDER BY service, entry_id DESC")}
    for report in reports:
        seen = newest.get(report["service"])
        if seen is None:
            continue
        with psycopg.connect(platform.database_url(SVC[report["service"]])) as conn:
            row = conn.execute(f"SELECT hash FROM {_table(report['service'])} WHERE id = %s", (seen[0],)).fetchone()
        if row is None or row[0] != seen[1]:
            report["problems"].append({
                "entry": seen[0], "problem": "truncated",
                "message": f"报表服务已收到的第 {seen[0]} 条记录在本服务日志中缺失或不同 (entry {seen[0]}, which reporting "
                           "holds, is missing or different here: entries were removed from the end)"})
