"""The six services as real processes on the test run's Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from aid_chassis.dev_issuer import DevIssuer
from aid_local import demo_data
from aid_local.supervisor import Supervisor


@contextmanager
def services(platform) -> Iterator[Supervisor]:
    """Every service's API and worker on ``platform``, migrated and ready; stopped at the end."""
    platform.extra_env.update({"PUBLICITY_NOTICE_SECONDS": "6", "PUBLICITY_FINALISE_EVERY_SECONDS": "0.5",
                               "DISBURSEMENT_NOTIFY_EVERY_SECONDS": "0.5", "AID_LOG_LEVEL": "INFO"})
    DevIssuer(platform.keys_dir)
    supervisor = Supervisor(platform)
    supervisor.migrate()
    supervisor.start_all()
    try:
        supervisor.wait_ready(timeout=120)
        yield supervisor
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="session")
def running(platform):
    with services(platform) as supervisor:
        yield supervisor


@pytest.fixture(scope="session")
def province():
    return demo_data.generate(400, seed=7, schools_per_county=2)


@pytest.fixture(scope="session")
def result(running, province):
    """The walking skeleton, run once: import, verify, publish, pay, look up."""
    from aid_local import flow

    return flow.run_flow(running.platform, province)
