from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("IDENTITY_MATCHING_")

    service_name: str = "identity-matching"
    http_port: int = 8101
    departments: list[str] = ["poverty_office", "civil_affairs", "disabled_federation", "trade_union"]
