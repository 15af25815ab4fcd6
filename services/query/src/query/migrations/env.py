from aid_chassis.migrations import run_env
from query.adapters.tables import metadata

run_env(metadata)
