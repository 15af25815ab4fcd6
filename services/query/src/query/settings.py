from pydantic import SecretStr

from aid_chassis.settings import ServiceSettings, field_keys_required, service_config


class Settings(ServiceSettings):
    model_config = service_config("QUERY_")

    service_name: str = "query"
    field_keys: SecretStr = field_keys_required()  # AID_FIELD_KEYS: its data holds students' names and IDs
    http_port: int = 8105
    consumer_lanes: int = 2  # two transactions at once: one folds while the other waits for PostgreSQL
    consumer_batch_size: int = 8000  # a burst is projected in bulks of this many events (two lanes of ~4,000)
    lookup_per_client: int = 30  # personal lookups per client address per window (0: no limit)
    lookup_per_student: int = 10  # lookups of one ID number per window, whatever the name tried
    lookup_window_seconds: float = 600
    lookup_trace_ratio: float = 0.05  # share of public lookups traced (see entrypoints/lookup_routes.py)
