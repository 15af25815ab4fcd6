from aid_chassis.migrations import run_env
from disbursement.adapters.tables import metadata

run_env(metadata)
