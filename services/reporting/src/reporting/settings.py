from aid_chassis.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("REPORTING_")

    service_name: str = "reporting"
    http_port: int = 8106
    consumer_lanes: int = 2  # two transactions at once: one folds while the other waits for PostgreSQL
    consumer_batch_size: int = 8000  # a burst is counted in bulks of this many events (two lanes of ~4,000)
