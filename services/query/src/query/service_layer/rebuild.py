"""Rebuilding the read models (``python -m query rebuild``, ``aidctl rebuild query``).

With the worker stopped, the read models are emptied and every topic is replayed from its
beginning through the same bulk projection; the consumer group resumes after the replayed
events. Since each projection is a fold that ignores what it has already seen and does not
depend on how the topics interleave, the rebuilt read models show what the live ones show: the
same rows, and the same timelines — though a student's row may keep another event's line than
live (the line of the event that made the row, ``students.first_line``, depends on the order the
topics were read in), so the timeline table's row count may differ.
"""

from __future__ import annotations

from aid_chassis import replay
from query.adapters import tables
from query.entrypoints.worker import TOPICS
from query.service_layer import projections


async def rebuild(settings, sessions, progress=None, topics: list[str] = TOPICS) -> dict:
    """Empty the read models and replay every topic into them; the counts of what was rebuilt."""
    return await replay.rebuild(settings, sessions, tables.chassis, tables.READ_MODELS, topics=topics,
                                bulk=projections.project, bulk_types=projections.TYPES, progress=progress)


def command(settings) -> int:
    return replay.rebuild_command(settings, rebuild)
