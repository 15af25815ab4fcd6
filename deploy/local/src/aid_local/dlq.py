"""``aidctl dlq``: the dead letters on the broker, and replaying them for the group that failed.

Listing shows where each record came from, which group could not apply it and why — never its
value (events carry personal data). Replaying sends the record again to its original topic and
key with ``aid_replay_for`` naming the group (see ``aid_chassis.dead_letters``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from aid_chassis import dead_letters as dl
from aid_chassis.kafka import make_producer
from aid_contracts.topics import Topic
from aid_local.platform import Platform

app = typer.Typer(help="Dead letters (死信): events a service could not apply.", no_args_is_help=True)
StateDir = Annotated[Optional[Path], typer.Option(help="State directory (default: $AID_STATE_DIR or ./.state)")]
Group = Annotated[Optional[str], typer.Option("--group", help="only this consumer group's (e.g. query)")]


@dataclass(frozen=True)
class DeadLetter:
    offset: str  # where it sits in the dead-letter topic: "partition:offset"
    group: str
    topic: str
    partition: int
    original_offset: int
    event_type: str
    error: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def listing(self) -> dict:
        """What ``aidctl dlq list`` shows (no key, no value)."""
        return {"dlq": self.offset, "group": self.group, "topic": self.topic, "partition": self.partition,
                "offset": self.original_offset, "type": self.event_type, "error": self.error}


async def read(bootstrap_servers: str) -> list[DeadLetter]:
    """Every dead letter the topic holds now, oldest first per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="aidctl-dlq", enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap_servers, Topic.DEAD_LETTER.value)
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                letters += [_letter(r) for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]]
        return letters
    finally:
        await _stop(consumer)


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="aidctl-dlq")
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in sorted(described["partitions"], key=lambda p: p["partition"])]


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a group-less consumer: aiokafka may raise the cancellation of its own never-started
    task from ``stop()``; only ours is passed on."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if asyncio.current_task().cancelling():
            raise


def _letter(record) -> DeadLetter:
    headers = {k: v.decode(errors="replace") for k, v in record.headers or () if v is not None}
    return DeadLetter(
        offset=f"{record.partition}:{record.offset}", group=headers.get(dl.GROUP, "?"),
        topic=headers.get(dl.ORIGINAL_TOPIC, "?"), partition=int(headers.get(dl.ORIGINAL_PARTITION, -1)),
        original_offset=int(headers.get(dl.ORIGINAL_OFFSET, -1)), event_type=headers.get("ce_type", "?"),
        error=headers.get(dl.ERROR, ""), key=record.key, value=record.value,
        headers=tuple((k, v) for k, v in record.headers or () if k not in dl.HEADERS))


async def replay(bootstrap_servers: str, letters: Iterable[DeadLetter]) -> int:
    """Send each letter again to its original topic, for its group only; how many were sent."""
    producer = await make_producer(bootstrap_servers, client_id="aidctl-dlq")
    sent = 0
    try:
        for letter in letters:
            headers = [*letter.headers, (dl.REPLAY_FOR, letter.group.encode())]  # last: see replay_target
            await producer.send_and_wait(letter.topic, key=letter.key, value=letter.value, headers=headers)
            sent += 1
    finally:
        await producer.stop()
    return sent


@app.command("list")
def list_command(group: Group = None, state_dir: StateDir = None,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every dead letter: where it came from, the group that failed and the error."""
    letters = [x for x in asyncio.run(read(Platform.from_env(state_dir).bootstrap_servers))
               if group in (None, x.group)]
    if as_json:
        typer.echo(json.dumps([x.listing() for x in letters], ensure_ascii=False))
        return
    for x in letters:
        typer.echo(f"{x.offset:<8} {x.group:<20} {x.topic}[{x.partition}]@{x.original_offset} {x.event_type}: {x.error}")
    typer.echo(f"{len(letters)} dead letter(s)")


@app.command("replay")
def replay_command(group: Annotated[str, typer.Option("--group", help="the consumer group that failed")],
                   only: Annotated[Optional[list[str]], typer.Option("--dlq", help="just these (partition:offset "
                                                                     "as listed); default: all of the group's")] = None,
                   state_dir: StateDir = None) -> None:
    """After the cause is fixed: send the group's dead letters again, for that group only (it
    applies each once; the others pass over them)."""
    bootstrap = Platform.from_env(state_dir).bootstrap_servers
    letters = [x for x in asyncio.run(read(bootstrap)) if x.group == group and (not only or x.offset in only)]
    if only and len(letters) < len(set(only)):
        typer.echo(f"not dead letters of {group}: {', '.join(sorted(set(only) - {x.offset for x in letters}))}", err=True)
        raise typer.Exit(1)
    typer.echo(f"replayed {asyncio.run(replay(bootstrap, letters))} dead letter(s) for {group}")
