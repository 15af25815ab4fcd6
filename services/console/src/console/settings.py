"""The console's settings (prefix ``CONSOLE_``): where the six services listen and how people sign in."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("identity-matching", "verification", "publicity", "disbursement", "query", "reporting")


def _shared(name: str, **kwargs):
    return Field(validation_alias=AliasChoices(name), **kwargs)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", populate_by_name=True)

    service_name: str = "console"
    http_host: str = "127.0.0.1"
    http_port: int = 8100
    api_workers: int = 1
    service_urls: dict[str, str] = Field(default_factory=dict, description="each service's base URL, by name (JSON)")
    worker_metrics_urls: dict[str, str] = Field(default_factory=dict,
                                                description="each service worker's /metrics base URL, by name (JSON)")
    traces_url: str | None = Field(None, description="the trace viewer (e.g. Jaeger's UI) the operator page links to")
    secure_cookies: bool = Field(False, description="mark the session cookie Secure (behind HTTPS)")
    session_hours: float = 8.0
    dev_keys_dir: Path | None = Field(None, description="the local dev issuer's key directory: dev sign-in on")
    demo_accounts_file: Path | None = Field(None, description="JSON list of demo accounts (dev sign-in only)")
    demo_password: str = "demo"
    oidc_issuer_url: str | None = Field(None, description="the provider's issuer URL (Keycloak: …/realms/aid): OIDC sign-in on")
    oidc_client_id: str = "aid-console"
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str | None = Field(None, description="this console's /auth/callback as the browser reaches it")
    cookie_secret: SecretStr | None = Field(None, description="signs the short-lived sign-in state cookie (OIDC)")

    jwt_public_key_file: Path | None = _shared("AID_JWT_PUBLIC_KEY_FILE", default=None)
    jwks_url: str | None = _shared("AID_JWKS_URL", default=None)
    jwt_issuer: str = _shared("AID_JWT_ISSUER", default="aid-dev-issuer")
    jwt_audience: str = _shared("AID_JWT_AUDIENCE", default="aid-platform")
    trace_dir: Path | None = _shared("AID_TRACE_DIR", default=None)
    otlp_endpoint: str | None = _shared("OTEL_EXPORTER_OTLP_ENDPOINT", default=None)
    log_level: str = _shared("AID_LOG_LEVEL", default="INFO")

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        missing = [s for s in SERVICES if s not in self.service_urls]
        if missing:
            raise ValueError(f"CONSOLE_SERVICE_URLS lacks {', '.join(missing)}")
        if self.oidc_issuer_url and not (self.oidc_redirect_url and self.cookie_secret
                                         and len(self.cookie_secret.get_secret_value()) >= 32):
            raise ValueError("OIDC sign-in needs CONSOLE_OIDC_REDIRECT_URL and a CONSOLE_COOKIE_SECRET of 32+ characters")
        if (self.jwt_public_key_file is None) == (self.jwks_url is None):
            raise ValueError("set exactly one of AID_JWKS_URL and AID_JWT_PUBLIC_KEY_FILE")
        return self
