from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("REPORTING_")

    service_name: str = "reporting"
    http_port: int = 8106
