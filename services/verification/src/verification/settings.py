from pydantic import SecretStr

from aid_chassis.settings import ServiceSettings, field_keys_required, service_config


class Settings(ServiceSettings):
    model_config = service_config("VERIFICATION_")

    service_name: str = "verification"
    field_keys: SecretStr = field_keys_required()  # AID_FIELD_KEYS: its data holds students' names and IDs
    http_port: int = 8102
    consumer_batch_size: int = 2000  # a first round's matches become tasks a batch at a time (intake.py)
