"""The chassis's own tables, added to each service's metadata: the outbox, the inbox and, for services
whose consumer applies whole batches, the consumer offsets."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB


def outbox_table(metadata: MetaData) -> Table:
    """Events waiting to be published; written in the same transaction as the state change."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", String(200), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Events a consumer group has applied; its key makes redelivery a no-op."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def consumer_offsets_table(metadata: MetaData) -> Table:
    """Per consumer group and partition, the next offset a bulk consumer has not applied yet.

    Written in the transaction that applies a batch, so a batch redelivered after a crash (the
    database committed, Kafka's offset commit did not happen) is recognised by its offsets: one
    row per partition instead of an inbox row per event."""
    return Table(
        "consumer_offsets",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("topic", String(200), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class ChassisTables:
    """The outbox and inbox of one service's metadata, and its consumer offsets when ``offsets``."""

    def __init__(self, metadata: MetaData, *, offsets: bool = False) -> None:
        self.outbox = outbox_table(metadata)
        self.inbox = inbox_table(metadata)
        self.offsets = consumer_offsets_table(metadata) if offsets else None
