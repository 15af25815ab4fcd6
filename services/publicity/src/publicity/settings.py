from pathlib import Path

from pydantic import SecretStr

from aid_chassis.settings import ServiceSettings, field_keys_required, service_config


class Settings(ServiceSettings):
    model_config = service_config("PUBLICITY_")

    service_name: str = "publicity"
    field_keys: SecretStr = field_keys_required()  # AID_FIELD_KEYS: its data holds students' names and IDs
    http_port: int = 8103
    consumer_batch_size: int = 2000  # a round's matches of students who are no candidate pass a batch at a time
    notice_working_days: int = 5
    notice_seconds: float | None = None  # demo only: shortens the notice window
    finalise_every_seconds: float = 1.0
    calendar_dir: Path | None = None  # yearly working-day files that add to or replace the shipped ones
    objections_per_hour: int = 5  # per client address, across lists (投诉举报 rate limit)
