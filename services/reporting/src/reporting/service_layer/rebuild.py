"""Rebuilding the aggregates and the state they are kept from (``python -m reporting rebuild``,
``aidctl rebuild reporting``): the same replay as query's, into reporting's own tables."""

from __future__ import annotations

from aid_chassis import replay
from reporting.adapters import tables
from reporting.entrypoints.worker import TOPICS
from reporting.service_layer import projections


async def rebuild(settings, sessions, progress=None) -> dict:
    return await replay.rebuild(settings, sessions, tables.chassis, (*tables.STATE, *tables.COUNTS.values()),
                                topics=TOPICS, bulk=projections.project, bulk_types=projections.TYPES,
                                progress=progress)


def command(settings) -> int:
    return replay.rebuild_command(settings, rebuild)
