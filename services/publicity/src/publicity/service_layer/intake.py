"""The worker's events a whole batch at a time (a comparison round's matches arrive as a burst).

A match or a withdrawal only changes a student who is already a candidate (verified and
approved); in a first round almost none is, so the batch's matches of students without a
candidate row cost one query for the whole batch (each is still parsed: a broken one is
dead-lettered, not skipped). A student who is a candidate, or whose batch holds a ``verified``
event, has every event applied by its one-at-a-time handler, in order.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.consumer import by_key
from aid_contracts import Envelope, StudentMatched, StudentMatchWithdrawn, Verified
from publicity.adapters import tables
from publicity.service_layer import candidates

ONE_AT_A_TIME = {Verified.EVENT_TYPE: candidates.on_verified,
                 StudentMatched.EVENT_TYPE: candidates.on_matched,
                 StudentMatchWithdrawn.EVENT_TYPE: candidates.on_withdrawn}
MODELS = {StudentMatched.EVENT_TYPE: StudentMatched, StudentMatchWithdrawn.EVENT_TYPE: StudentMatchWithdrawn}
TYPES = frozenset(ONE_AT_A_TIME)
C = tables.candidates.c


async def apply(session: AsyncSession, envelopes: list[Envelope]) -> None:
    students = by_key(envelopes)
    known = set((await session.execute(select(C.student_key).where(C.student_key.in_(list(students))))).scalars())
    for key, events in students.items():
        if key in known or any(e.type == Verified.EVENT_TYPE for e in events):
            for envelope in events:
                await ONE_AT_A_TIME[envelope.type](session, envelope)
        else:
            for envelope in events:
                envelope.parse(MODELS[envelope.type])  # nothing to change, but a broken event is refused
