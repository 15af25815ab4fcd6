from aid_chassis.migrations import run_env
from identity_matching.adapters.tables import metadata

run_env(metadata)
