"""deploy/k8s rendered with kustomize and checked offline: every overlay against Kubernetes' own
schemas (strict: an unknown field is an error) and Strimzi's CRD schemas, then what the platform
relies on — each service an API and a worker that scale apart, probes, limits, non-root pods,
disruption budgets, worker autoscalers bounded by the partition count, one partition count for
every topic, the network policy's few ways out. Needs `make k8s-tools` (``make test`` runs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from aid_contracts.topics import Topic
from aid_local.platform import SERVICES

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ["dev", "prod"]
KUBERNETES = "1.34.0"  # the oldest minor a province is likely to run that the schemas cover
EXTERNAL_SECRETS = {"aid-platform-secrets", "console-secrets", *(f"{s.name}-secrets" for s in SERVICES)}  # docs/deploy.md


def _tool(name: str, hint: str) -> str:
    found = ROOT / ".tools/bin" / name
    if found.exists():
        return str(found)
    if which := shutil.which(name):
        return which
    pytest.fail(f"{name} is missing: {hint}")


@cache
def rendered(overlay: str) -> tuple[dict, ...]:
    kustomize = _tool("kustomize", "run `make k8s-tools`")
    done = subprocess.run([kustomize, "build", str(ROOT / "deploy/k8s/overlays" / overlay)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def _of(overlay: str, kind: str) -> list[dict]:
    return [d for d in rendered(overlay) if d["kind"] == kind]


def _named(overlay: str, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _of(overlay, kind)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_resources_follow_the_kubernetes_schemas_strictly(overlay):
    problems = []
    for doc in rendered(overlay):
        if doc["apiVersion"].startswith("kafka.strimzi.io/"):
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_resources_follow_strimzis_schemas(overlay):
    docs = [d for d in rendered(overlay) if d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {d["kind"] for d in docs} == {"Kafka", "KafkaNodePool", "KafkaTopic"}
    node = _tool("node", "install Node.js")
    if not (ROOT / "deploy/k8s/validate/node_modules").exists():
        pytest.fail("the Strimzi schemas are missing: run `make k8s-tools`")
    done = subprocess.run([node, str(ROOT / "deploy/k8s/validate/strimzi.mjs")], input=json.dumps(docs),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_an_api_and_a_worker_that_scale_apart(overlay):
    deployments, pdbs, hpas = (_named(overlay, k) for k in ("Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"))
    services = _named(overlay, "Service")
    for svc in SERVICES:
        for role in ("api", "worker"):
            name = f"{svc.name}-{role}"
            spec = deployments[name]["spec"]
            assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/component": role,
                                                       "app.kubernetes.io/name": svc.name}
            assert spec["template"]["spec"]["initContainers"][0]["args"] == ["migrate"]
            assert pdbs[name]["spec"]["selector"] == spec["selector"]
            assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert services[f"{svc.name}-api"]["spec"]["selector"] == deployments[f"{svc.name}-api"]["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_probed_bounded_and_unprivileged(overlay):
    for deployment in _of(overlay, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        name = deployment["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] and not pod["automountServiceAccountToken"], name
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert ":" in container["image"] and not container["image"].endswith(":latest"), name
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"], name
            assert security["capabilities"]["drop"] == ["ALL"], name
        if deployment["metadata"]["labels"].get("app.kubernetes.io/component") in ("api", "worker"):
            app = pod["containers"][0]
            assert app["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert app["readinessProbe"]["httpGet"]["path"] == "/readyz", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_are_configured_by_what_they_read(overlay):
    """Each service's settings carry its own prefix, and every Secret is one the operators make."""
    configs = _named(overlay, "ConfigMap")
    for svc in SERVICES:
        for role in ("api", "worker"):
            refs = _named(overlay, "Deployment")[f"{svc.name}-{role}"]["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            maps = [configs[r["configMapRef"]["name"]]["data"] for r in refs if "configMapRef" in r]
            secrets = {r["secretRef"]["name"] for r in refs if "secretRef" in r}
            assert secrets == {"aid-platform-secrets", f"{svc.name}-secrets"}
            keys = {k for data in maps for k in data}
            assert {f"{svc.prefix}HTTP_HOST", f"{svc.prefix}HTTP_PORT", f"{svc.prefix}WORKER_METRICS_PORT",
                    "KAFKA_BOOTSTRAP_SERVERS", "AID_JWKS_URL", "AID_JWT_ISSUER"} <= keys
            assert not {k for k in keys if k.endswith(("DATABASE_URL", "PSEUDONYM_KEY", "CARD_KEY"))}, "a secret in a ConfigMap"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_named_is_one_the_operators_make(overlay):
    """No Secret is in the repository: each one a pod names is in the documented list (docs/deploy.md)."""
    assert not _of(overlay, "Secret")
    named = set()
    for deployment in _of(overlay, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            named |= {r["secretRef"]["name"] for r in container.get("envFrom", []) if "secretRef" in r}
            named |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                      if "secretKeyRef" in e.get("valueFrom", {})}
        named |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    assert named == EXTERNAL_SECRETS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_share_one_partition_count_and_workers_stop_there(overlay):
    topics = _named(overlay, "KafkaTopic")
    assert set(topics) == {t.value for t in Topic}
    partitions = {t["spec"]["partitions"] for t in topics.values()}
    assert len(partitions) == 1, partitions
    brokers = _of(overlay, "KafkaNodePool")[0]["spec"]["replicas"]
    assert {t["spec"]["replicas"] for t in topics.values()} == {min(brokers, 3)}
    (count,) = partitions
    workers = [h for n, h in _named(overlay, "HorizontalPodAutoscaler").items() if n.endswith("-worker")]
    assert len(workers) == len(SERVICES) and {h["spec"]["maxReplicas"] for h in workers} == {count}


def test_production_replicates_kafka_and_keeps_two_apis():
    config = _of("prod", "Kafka")[0]["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2
    for name, hpa in _named("prod", "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= (2 if name.endswith("-api") else 1), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_only_kafka_the_database_the_collector_keycloak_and_dns(overlay):
    policy = _named(overlay, "NetworkPolicy")["aid-services"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"aid.platform/role": "service"}
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ports = sorted((p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"])
    assert ports == [(53, "TCP"), (53, "UDP"), (4318, "TCP"), (5432, "TCP"), (8080, "TCP"), (9092, "TCP")]
    labelled = [d for d in _of(overlay, "Deployment")
                if d["metadata"]["labels"].get("app.kubernetes.io/component") in ("api", "worker")]
    assert all(d["spec"]["template"]["metadata"]["labels"]["aid.platform/role"] == "service" for d in labelled)
    listener = _of(overlay, "Kafka")[0]["spec"]["kafka"]["listeners"][0]
    assert listener["networkPolicyPeers"] == [{"podSelector": {"matchLabels": {"aid.platform/role": "service"}}}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_reaches_only_the_apis_keycloak_the_collector_and_dns(overlay):
    """The console holds no data: no database, no Kafka, no secret of the services; the APIs admit it."""
    policies = _named(overlay, "NetworkPolicy")
    console = policies["aid-console"]["spec"]
    assert console["podSelector"]["matchLabels"] == {"aid.platform/role": "console"}
    ports = sorted((p["port"], p["protocol"]) for rule in console["egress"] for p in rule["ports"])
    assert ports == [(53, "TCP"), (53, "UDP"), (4318, "TCP"), (8000, "TCP"), (8080, "TCP")]
    [to_apis] = [r["to"][0]["podSelector"]["matchLabels"] for r in console["egress"] if r["ports"][0]["port"] == 8000]
    assert to_apis == {"aid.platform/role": "service", "app.kubernetes.io/component": "api"}
    admits = [r for r in policies["aid-services"]["spec"]["ingress"]
              if r["from"][0].get("podSelector", {}).get("matchLabels") == {"aid.platform/role": "console"}]
    assert [p["port"] for r in admits for p in r["ports"]] == [8000]  # the APIs, not the workers' metrics
    pod = _named(overlay, "Deployment")["console"]["spec"]["template"]
    assert pod["metadata"]["labels"]["aid.platform/role"] == "console" and "initContainers" not in pod["spec"]
    refs = pod["spec"]["containers"][0]["envFrom"]
    assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} == {"console-secrets"}
    config = next(c for n, c in _named(overlay, "ConfigMap").items() if n.startswith("console-config"))["data"]
    assert set(json.loads(config["CONSOLE_SERVICE_URLS"])) == {s.name for s in SERVICES}


def test_the_grafana_dashboard_and_alerts_ship_with_the_manifests():
    configs = _named("prod", "ConfigMap")
    dashboard = next(c for n, c in configs.items() if n.startswith("grafana-dashboard"))
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["aid-platform.json"])["panels"]
    rules = next(c for n, c in configs.items() if n.startswith("alert-rules"))
    assert yaml.safe_load(rules["data"]["alerts.yml"])["groups"]


def test_kustomize_is_the_pinned_version():
    makefile = (ROOT / "Makefile").read_text()
    version = next(line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("KUSTOMIZE_VERSION"))
    done = subprocess.run([_tool("kustomize", "run `make k8s-tools`"), "version"], capture_output=True, text=True)
    assert version in done.stdout, done.stdout


def test_the_data_keys_topic_is_compacted_as_the_contracts_say():
    from aid_contracts.topics import TOPIC_CONFIGS
    topics = _named("prod", "KafkaTopic")
    for topic, config in TOPIC_CONFIGS.items():
        assert {k: str(v) for k, v in topics[topic.value]["spec"]["config"].items()} == config
