"""schemathesis against every service's OpenAPI on the running platform, as a province bureau
(the widest jurisdiction): generated requests — valid ones and invalid ones — never get a server
error, and JSON answers match the documented schema of their status. Runs last in the e2e suite
(by its name): generated requests may change state the other e2e tests read."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from aid_local import flow
from aid_local.platform import SERVICES

CHECKS = [not_a_server_error, response_schema_conformance]
FUZZ = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _fuzz(operation, headers: dict, mode: GenerationMode) -> None:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    run()


@pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
def test_no_server_error_and_answers_as_documented(running, service):
    schema = schemathesis.openapi.from_url(running.platform.url(service) + "/openapi.json")
    headers = flow.Clients(running.platform).token("province_bureau", region="520000")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, headers, mode)
            except Unsatisfiable:
                continue  # nothing invalid can be sent (no parameters, no body)
            except Exception as exc:  # noqa: BLE001 — every operation is tried; all failures are reported
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:600]}")
    assert failures == []
