from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator

from aid_chassis.fields import FieldCipher
from aid_chassis.settings import ServiceSettings, field_keys_required, service_config


class Settings(ServiceSettings):
    model_config = service_config("DISBURSEMENT_")

    service_name: str = "disbursement"
    field_keys: SecretStr = field_keys_required()  # AID_FIELD_KEYS: its data holds students' names and IDs
    http_port: int = 8104
    # Card numbers and phones at rest: DISBURSEMENT_CARD_KEYS is the key ring ("2=<key>,1=<key>", 32 bytes
    # base64url each, the first seals; aid_chassis.fields). DISBURSEMENT_CARD_KEY alone is a ring of one
    # (key id 0) and also opens what was sealed before key ids (rotate: put a new key first, ``rekey``).
    card_keys: SecretStr | None = None
    card_key: SecretStr | None = None
    batch_max: int = 1_000_000
    notify_channel: Literal["file", "sms"] = "file"
    notify_file: Path | None = None  # the file channel's JSON-lines file (default: ./notifications.jsonl)
    sms_gateway_url: str | None = None  # the SMS gateway adapter's endpoint
    sms_gateway_token: SecretStr | None = None
    notify_every_seconds: float = 1.0
    notify_max_attempts: int = 6

    @model_validator(mode="after")
    def _some_card_key(self) -> Settings:
        if not (_text(self.card_keys) or _text(self.card_key)):
            raise ValueError("set DISBURSEMENT_CARD_KEYS (a key ring) or DISBURSEMENT_CARD_KEY: cards are encrypted")
        return self

    def cipher(self) -> FieldCipher:
        legacy = _text(self.card_key)
        return FieldCipher.from_text(_text(self.card_keys) or f"0={legacy}", legacy=legacy)


def _text(secret: SecretStr | None) -> str | None:
    """The secret's value; None when unset or blank (compose passes unset variables as '')."""
    return (secret.get_secret_value().strip() or None) if secret else None
