"""Kafka and PostgreSQL from testcontainers, for machines with a Docker engine.

Chosen by ``AID_TEST_CONTAINERS=1``; the fixtures then see them as external servers
through ``KAFKA_BOOTSTRAP_SERVERS`` and ``AID_POSTGRES_URL``. (No Docker engine runs on
the project's own machines, so CI uses the local servers.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def containers() -> Iterator[None]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka, PostgresContainer("postgres:17") as pg:
        url = pg.get_connection_url(driver=None).rsplit("/", 1)[0]
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = kafka.get_bootstrap_server()
        os.environ["AID_POSTGRES_URL"] = url
        try:
            yield
        finally:
            os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
            os.environ.pop("AID_POSTGRES_URL", None)
