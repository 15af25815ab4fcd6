from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("VERIFICATION_")

    service_name: str = "verification"
    http_port: int = 8102
    consumer_batch_size: int = 2000  # a first round's matches become tasks a batch at a time (intake.py)
