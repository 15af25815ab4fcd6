from aid_chassis.migrations import run_env
from publicity.adapters.tables import metadata

run_env(metadata)
