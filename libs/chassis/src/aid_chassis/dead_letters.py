"""Dead letters: the headers a dead-lettered record carries, and replaying one for one group.

A record a consumer group cannot apply goes to ``aid.dead-letter.v1`` with its original topic,
partition, offset, the group and the error (``consumer.py``). Once the cause is fixed, ``aidctl dlq
replay`` sends it again to its original topic with ``REPLAY_FOR`` naming the group: that group
applies it (once — its inbox keeps the event id), every other group passes over it (they applied
or dead-lettered it the first time). A replayed event arrives after the events that followed it.
"""

from __future__ import annotations

from aiokafka import ConsumerRecord

ORIGINAL_TOPIC = "dlq_original_topic"
ORIGINAL_PARTITION = "dlq_original_partition"
ORIGINAL_OFFSET = "dlq_original_offset"
GROUP = "dlq_consumer_group"
ERROR = "dlq_error"
REPLAY_FOR = "aid_replay_for"
HEADERS = (ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, GROUP, ERROR, REPLAY_FOR)


def replay_target(record: ConsumerRecord) -> str | None:
    """The group a replayed record is meant for; None for an ordinary record. The replay appends
    ``REPLAY_FOR`` as the last header, so only that one is looked at (every record passes here)."""
    headers = record.headers
    if headers and headers[-1][0] == REPLAY_FOR and headers[-1][1]:
        return headers[-1][1].decode(errors="replace")
    return None
