from aid_chassis.audit import verify_command
from aid_chassis.cli import service_main
from identity_matching.adapters import tables
from identity_matching.entrypoints.api import create
from identity_matching.entrypoints.worker import build_loops
from identity_matching.service_layer import data_keys, rekey
from identity_matching.settings import Settings

raise SystemExit(service_main("identity_matching", Settings, create, build_loops, commands={
    "audit-verify": verify_command(tables.audit_log),
    "rekey": rekey.command(),
    "republish-data-keys": data_keys.republish_command()}))
