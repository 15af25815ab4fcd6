from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("VERIFICATION_")

    service_name: str = "verification"
    http_port: int = 8102
