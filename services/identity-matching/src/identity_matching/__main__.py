from aid_chassis.audit import verify_command
from aid_chassis.cli import service_main
from aid_chassis.vault import rekey_command
from identity_matching.adapters import tables
from identity_matching.entrypoints.api import create
from identity_matching.entrypoints.worker import build_loops
from identity_matching.service_layer.snapshots import SEALED_KEYS, bound_name_of
from identity_matching.settings import Settings

raise SystemExit(service_main("identity_matching", Settings, create, build_loops, commands={
    "audit-verify": verify_command(tables.audit_log),
    "rekey": rekey_command(tables.sealed_snapshots.name, SEALED_KEYS, bound_name_of)}))
