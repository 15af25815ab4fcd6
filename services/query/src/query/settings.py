from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("QUERY_")

    service_name: str = "query"
    http_port: int = 8105
    consumer_batch_size: int = 2000  # a burst is projected in bulks of this many events
