from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("DISBURSEMENT_")

    service_name: str = "disbursement"
    http_port: int = 8104
    settle_every_seconds: float = 1.0
    bank_batch_size: int = 500
