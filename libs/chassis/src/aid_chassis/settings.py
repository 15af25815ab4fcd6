"""Typed settings. Platform-wide values use unprefixed names (``KAFKA_BOOTSTRAP_SERVERS``,
``AID_PSEUDONYM_KEY`` …); a service's own values use its prefix (``VERIFICATION_DATABASE_URL``).
Secrets have no defaults: a service refuses to start without them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aid_chassis.fields import FieldCipher, FieldKeyError, parse_ring

_PLACEHOLDERS = {"changeme", "secret", "password", ""}


def _shared(name: str, **kwargs):
    return Field(validation_alias=AliasChoices(name), **kwargs)


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclass with ``model_config = service_config("PREFIX_")``."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str
    database_url: str = Field(description="SQLAlchemy URL of the service's own database")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    db_pool_size: int = 5
    api_workers: int = Field(default=1, description="API processes sharing the port (uvicorn workers)")
    worker_metrics_port: int | None = Field(default=None, description="the worker's /metrics port on 127.0.0.1")

    kafka_bootstrap_servers: str = _shared("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:19092")
    pseudonym_key: SecretStr = _shared("AID_PSEUDONYM_KEY")
    # seals and opens students' ID numbers and names (aid_chassis.fields); required by the services that
    # hold them (``field_keys_required``), not given to the others
    field_keys: SecretStr | None = _shared("AID_FIELD_KEYS", default=None)
    data_keys_wait_seconds: float = Field(default=15.0, description="how long an API waits at start to have read "
                                          "the students' data keys (aid_chassis.datakeys) before serving")
    jwt_public_key_file: Path | None = _shared("AID_JWT_PUBLIC_KEY_FILE", default=None)
    jwks_url: str | None = _shared("AID_JWKS_URL", default=None)  # the OIDC provider's keys, e.g. Keycloak's certs
    jwt_issuer: str = _shared("AID_JWT_ISSUER", default="aid-dev-issuer")
    jwt_audience: str = _shared("AID_JWT_AUDIENCE", default="aid-platform")
    trace_dir: Path | None = _shared("AID_TRACE_DIR", default=None)
    otlp_endpoint: str | None = _shared("OTEL_EXPORTER_OTLP_ENDPOINT", default=None)
    log_level: str = _shared("AID_LOG_LEVEL", default="INFO")

    consumer_batch_size: int = 200
    consumer_lanes: int = Field(default=1, description="transactions a consumer applies at once (by partition)")
    relay_batch_size: int = Field(default=20_000, description="events the relay sends per transaction "
                                  "(a packed row counts its events; 500 made a province's import wait 1.6 s more)")
    relay_idle_seconds: float = 0.2

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, value: str) -> str:
        """Normalise ``postgresql://`` URLs to the psycopg 3 async driver."""
        for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value

    @field_validator("pseudonym_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret.lower() in _PLACEHOLDERS or len(secret) < 16:
            raise ValueError("AID_PSEUDONYM_KEY must be a real secret of at least 16 characters")
        return value

    @field_validator("field_keys")
    @classmethod
    def _a_usable_ring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        try:
            parse_ring(value.get_secret_value())
        except FieldKeyError as exc:
            raise ValueError(f"AID_FIELD_KEYS: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> ServiceSettings:
        if (self.jwt_public_key_file is None) == (self.jwks_url is None):
            raise ValueError("set exactly one of AID_JWKS_URL (the OIDC provider's keys) and AID_JWT_PUBLIC_KEY_FILE "
                             "(the local dev issuer's key)")
        return self

    @property
    def pseudonym_secret(self) -> bytes:
        return self.pseudonym_key.get_secret_value().encode()

    def field_cipher(self) -> FieldCipher:
        """Seals and opens students' ID numbers and names (one per ring, kept)."""
        if self.field_keys is None:
            raise ValueError("AID_FIELD_KEYS is not set: this service holds no students' names or ID numbers")
        return _field_cipher(self.field_keys.get_secret_value())


def field_keys_required():
    """``field_keys`` of a service that holds students' names and ID numbers: it refuses to start without it."""
    return _shared("AID_FIELD_KEYS")


@lru_cache(maxsize=4)
def _field_cipher(ring: str) -> FieldCipher:
    return FieldCipher.from_text(ring)


def service_config(prefix: str) -> SettingsConfigDict:
    """The settings config of a service whose own variables start with ``prefix``."""
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", populate_by_name=True)
