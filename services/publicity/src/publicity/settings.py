from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("PUBLICITY_")

    service_name: str = "publicity"
    http_port: int = 8103
    notice_working_days: int = 5
    notice_seconds: float | None = None  # demo only: shortens the notice window
    finalise_every_seconds: float = 1.0
