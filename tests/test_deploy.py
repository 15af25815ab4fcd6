"""deploy/compose and the service image, checked offline (no container engine here): the compose
file against the Compose Specification, and what a province's IT team relies on — pinned images,
health checks, start order on health, loopback-only ports, a non-root image, every API and worker
scraped, dashboards and alerts that use metrics the services export."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from aid_chassis import metrics
from aid_local.platform import SERVICES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy/compose"
OBSERVABILITY = ROOT / "deploy/observability"
SPEC = yaml.safe_load((COMPOSE / "compose.yml").read_text(encoding="utf-8"))
SERVICES_IN = SPEC["services"]
ONE_SHOT = {"topics", *(f"{s.name}-migrate" for s in SERVICES)}


def test_the_compose_file_follows_the_compose_specification():
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE / "compose.yml")],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(SERVICES_IN))
def test_every_container_is_pinned_healthy_and_restarts(name):
    service = SERVICES_IN[name]
    image = service["image"]
    assert ":" in image and not image.endswith(":latest"), image
    if name not in ONE_SHOT and name != "otel-collector":
        assert service["healthcheck"]["test"], name
    assert service["restart"] == ("no" if name in ONE_SHOT else "unless-stopped")
    for port in service.get("ports", []):
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


@pytest.mark.parametrize("svc", SERVICES, ids=[s.name for s in SERVICES])
def test_each_service_migrates_first_and_starts_on_health(svc):
    for role in ("api", "worker"):
        service = SERVICES_IN[f"{svc.name}-{role}"]
        needs = service["depends_on"]
        assert needs[f"{svc.name}-migrate"]["condition"] == "service_completed_successfully"
        assert needs["kafka"]["condition"] == needs["postgres"]["condition"] == "service_healthy"
        assert needs["topics"]["condition"] == "service_completed_successfully"
        assert service["read_only"] and service["cap_drop"] == ["ALL"]
        env = service["environment"]
        assert env[f"{svc.prefix}DATABASE_URL"].endswith(f"@postgres:5432/{svc.database}")
        assert env["AID_JWKS_URL"].startswith("http://keycloak:8080/realms/aid/")
    # byte order: the local server compares bytes anyway (initdb --no-locale), the postgres image by en_US.utf8
    made = "CREATE DATABASE $db OWNER $db TEMPLATE template0 LOCALE_PROVIDER libc LC_COLLATE 'C';"
    assert made in (COMPOSE / "init-databases.sh").read_text()
    assert svc.database in (COMPOSE / "init-databases.sh").read_text()


def test_the_image_is_small_pinned_and_unprivileged():
    text = (ROOT / "deploy/docker/service.Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", b) for b in bases), bases
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].isdigit() and int(users[-1]) >= 1000
    assert not re.search(r"^ADD ", text, re.M)
    assert "-c constraints.txt" in text and "--no-cache-dir" in text


def test_prometheus_scrapes_every_api_and_worker():
    config = yaml.safe_load((COMPOSE / "prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    wanted = set()
    for svc in SERVICES:
        env = SERVICES_IN[f"{svc.name}-api"]["environment"]
        wanted |= {f"{svc.name}-api:{env[svc.prefix + 'HTTP_PORT']}",
                   f"{svc.name}-worker:{env[svc.prefix + 'WORKER_METRICS_PORT']}"}
    assert targets == wanted


def _exported() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        for family in value.describe() if isinstance(value, MetricWrapperBase) else ():
            names |= {family.name, f"{family.name}_total", f"{family.name}_bucket"}
    return names


def test_dashboards_and_alerts_use_metrics_the_services_export():
    dashboard = json.loads((OBSERVABILITY / "aid-platform.json").read_text(encoding="utf-8"))
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text(encoding="utf-8"))
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    expressions += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {name for e in expressions for name in re.findall(r"\baid_[a-z_]+", e)}
    assert used and used <= _exported(), used - _exported()
    assert {"ConsumerLagGrowing", "DeadLetters", "OutboxNotDraining"} <= {r["alert"] for g in rules["groups"]
                                                                          for r in g["rules"]}


def test_the_dockerfile_passes_hadolint():
    """hadolint's rules (pinned bases, no sudo, exec-form entrypoints, …) on the one service recipe."""
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), "--failure-threshold", "info", str(ROOT / "deploy/docker/service.Dockerfile")],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
