from aid_chassis.migrations import run_env
from reporting.adapters.tables import metadata

run_env(metadata)
