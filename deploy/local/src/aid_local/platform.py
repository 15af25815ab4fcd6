"""The platform's shape on one machine: services, their processes, ports, databases and env."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Service:
    name: str  # identity-matching
    package: str  # identity_matching
    port_offset: int

    @property
    def prefix(self) -> str:
        return self.package.upper() + "_"

    @property
    def database(self) -> str:
        return self.package


SERVICES = (
    Service("identity-matching", "identity_matching", 1),
    Service("verification", "verification", 2),
    Service("publicity", "publicity", 3),
    Service("disbursement", "disbursement", 4),
    Service("query", "query", 5),
    Service("reporting", "reporting", 6),
)
ROLES = ("api", "worker")
CONSOLE = Service("console", "console", 0)  # the web console: one API process, no database
PROCESSES = (*((s, r) for s in SERVICES for r in ROLES), (CONSOLE, "api"))


@dataclass
class Platform:
    """Where everything lives and listens. Environment variables override the defaults."""

    state_dir: Path
    http_base: int = 8100
    kafka_port: int = 19092
    postgres_port: int = 15432
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, state_dir: Path | None = None) -> Platform:
        root = state_dir or Path(os.environ.get("AID_STATE_DIR", Path.cwd() / ".state"))
        return cls(state_dir=root.resolve(), http_base=int(os.environ.get("AID_HTTP_BASE", 8100)),
                   kafka_port=int(os.environ.get("AID_KAFKA_PORT", 19092)),
                   postgres_port=int(os.environ.get("AID_POSTGRES_PORT", 15432)))

    @property
    def external_kafka(self) -> str | None:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS")

    @property
    def external_postgres(self) -> str | None:
        """``AID_POSTGRES_URL``: a server URL without database; one database per service is made there."""
        return os.environ.get("AID_POSTGRES_URL")

    @property
    def bootstrap_servers(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.kafka_port}"

    def server_url(self) -> str:
        return (self.external_postgres or f"postgresql://aid@127.0.0.1:{self.postgres_port}").rstrip("/")

    def database_url(self, service: Service) -> str:
        own = os.environ.get(f"{service.prefix}DATABASE_URL")
        return own or f"{self.server_url()}/{service.database}"

    def port(self, service: Service) -> int:
        return self.http_base + service.port_offset

    def metrics_port(self, service: Service) -> int:
        """The worker's Prometheus port (the API serves its own on ``/metrics``)."""
        return self.http_base + 10 + service.port_offset

    def url(self, service: Service) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    @property
    def console_url(self) -> str:
        return self.url(CONSOLE)

    @property
    def demo_accounts_file(self) -> Path:
        """The demo accounts the console's dev sign-in offers (written by the demo flow)."""
        return self.state_dir / "demo-accounts.json"

    @property
    def keys_dir(self) -> Path:
        return self.state_dir / "keys"

    @property
    def trace_dir(self) -> Path:
        return self.state_dir / "traces"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def notifications_file(self) -> Path:
        """Where the local notice channel writes payment notices (发放告知), one JSON line each."""
        return self.state_dir / "notifications.jsonl"

    def pseudonym_key(self) -> str:
        """The platform's pseudonym secret: from the environment, else generated once per state dir."""
        return self._secret("AID_PSEUDONYM_KEY", "pseudonym.key")

    def field_keys(self) -> str:
        """The key ring sealing students' ID numbers and names in events: from the environment, else
        a ring of one key generated once per state dir."""
        return os.environ.get("AID_FIELD_KEYS") or f"1={self._secret('AID_FIELD_KEY', 'field.key')}"

    def card_key(self) -> str:
        """disbursement's card-encryption key (32 bytes, base64url), like the pseudonym secret."""
        return self._secret("DISBURSEMENT_CARD_KEY", "card.key")

    def _secret(self, variable: str, file_name: str) -> str:
        if os.environ.get(variable):
            return os.environ[variable]
        path = self.keys_dir / file_name
        if not path.exists():
            self.keys_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))  # 32 random bytes, base64url
            path.chmod(0o600)
        return path.read_text().strip()

    def console_env(self) -> dict[str, str]:
        """The console's environment: the services' URLs, and dev sign-in with the demo accounts."""
        env = self._base_env()
        env.update({
            "CONSOLE_HTTP_PORT": str(self.port(CONSOLE)),
            "CONSOLE_SERVICE_URLS": json.dumps({s.name: self.url(s) for s in SERVICES}),
            "CONSOLE_WORKER_METRICS_URLS": json.dumps({s.name: f"http://127.0.0.1:{self.metrics_port(s)}" for s in SERVICES}),
            "CONSOLE_DEV_KEYS_DIR": str(self.keys_dir),
            "CONSOLE_DEMO_ACCOUNTS_FILE": str(self.demo_accounts_file),
            "AID_JWT_PUBLIC_KEY_FILE": str(self.keys_dir / "dev-jwt-public.pem"),
            "AID_TRACE_DIR": str(self.trace_dir),
        })
        env.update(self.extra_env)
        return env

    def env_for(self, service: Service) -> dict[str, str]:
        return self.console_env() if service is CONSOLE else self.service_env(service)

    @staticmethod
    def _base_env() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("AID_") or k == "AID_LOG_LEVEL"}

    def service_env(self, service: Service) -> dict[str, str]:
        """The environment of one service's processes."""
        env = self._base_env()
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "AID_PSEUDONYM_KEY": self.pseudonym_key(),
            "AID_JWT_PUBLIC_KEY_FILE": str(self.keys_dir / "dev-jwt-public.pem"),
            "AID_TRACE_DIR": str(self.trace_dir),
            f"{service.prefix}DATABASE_URL": self.database_url(service),
            f"{service.prefix}HTTP_PORT": str(self.port(service)),
            f"{service.prefix}WORKER_METRICS_PORT": str(self.metrics_port(service)),
        })
        if service.name != "reporting":  # every service holding students' names and ID numbers
            env["AID_FIELD_KEYS"] = self.field_keys()
        if service.name == "disbursement":
            env["DISBURSEMENT_CARD_KEY"] = self.card_key()
            env["DISBURSEMENT_NOTIFY_FILE"] = str(self.notifications_file)
        env.update(self.extra_env)
        return env
