"""A service's batch intake (``intake.apply``) against its one-at-a-time handlers (``ONE_AT_A_TIME``):
the contract tests apply the same events both ways and compare what people see."""

from __future__ import annotations

from aid_contracts import Envelope


async def apply(sessions, intake, events: list[Envelope], *, one_at_a_time: bool) -> None:
    """``events`` in one transaction, as one batch or each by its own handler in order."""
    async with sessions() as s, s.begin():
        if one_at_a_time:
            for envelope in events:
                await intake.ONE_AT_A_TIME[envelope.type](s, envelope)
        else:
            await intake.apply(s, events)
