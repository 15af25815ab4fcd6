from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("DISBURSEMENT_")

    service_name: str = "disbursement"
    http_port: int = 8104
    card_key: SecretStr  # DISBURSEMENT_CARD_KEY: 32 bytes, base64url; encrypts card numbers and phones at rest
    batch_max: int = 1_000_000
    notify_channel: Literal["file", "sms"] = "file"
    notify_file: Path | None = None  # the file channel's JSON-lines file (default: ./notifications.jsonl)
    sms_gateway_url: str | None = None  # the SMS gateway adapter's endpoint
    sms_gateway_token: SecretStr | None = None
    notify_every_seconds: float = 1.0
    notify_max_attempts: int = 6

    def cipher(self):
        from disbursement.domain.cards import CardCipher

        return CardCipher.from_text(self.card_key.get_secret_value())
