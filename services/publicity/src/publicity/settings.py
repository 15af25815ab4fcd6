from pathlib import Path

from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("PUBLICITY_")

    service_name: str = "publicity"
    http_port: int = 8103
    notice_working_days: int = 5
    notice_seconds: float | None = None  # demo only: shortens the notice window
    finalise_every_seconds: float = 1.0
    calendar_dir: Path | None = None  # yearly working-day files that add to or replace the shipped ones
    objections_per_hour: int = 5  # per client address, across lists (投诉举报 rate limit)
