"""The servers the platform stands on: Kafka and PostgreSQL, local unless named in the environment."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psycopg

from aid_chassis.kafka import ensure_topics
from aid_local.kafka import KafkaBroker
from aid_local.platform import SERVICES, Platform
from aid_local.postgres import PostgresServer


def cache_dir() -> Path:
    return Path(os.environ.get("AID_CACHE_DIR", Path.home() / ".cache" / "aid-platform"))


def kafka(platform: Platform) -> KafkaBroker:
    return KafkaBroker(platform.state_dir, port=platform.kafka_port, controller_port=platform.kafka_port + 1,
                       cache_dir=cache_dir())


def postgres(platform: Platform) -> PostgresServer:
    return PostgresServer(platform.state_dir, port=platform.postgres_port)


def start(platform: Platform, *, partitions: int = 6) -> None:
    """Start what is not external, then create the topics and one database per service."""
    if not platform.external_kafka:
        kafka(platform).start()
    if not platform.external_postgres:
        postgres(platform).start()
    asyncio.run(ensure_topics(platform.bootstrap_servers, partitions=partitions))
    create_databases(platform)


def stop(platform: Platform) -> None:
    if not platform.external_kafka:
        kafka(platform).stop()
    if not platform.external_postgres:
        postgres(platform).stop()


def create_databases(platform: Platform) -> None:
    with psycopg.connect(platform.server_url() + "/postgres", autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for service in SERVICES:
            if service.database not in existing:
                conn.execute(f'CREATE DATABASE "{service.database}"')
