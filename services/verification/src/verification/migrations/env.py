from aid_chassis.migrations import run_env
from verification.adapters.tables import metadata

run_env(metadata)
