from aid_chassis.audit import verify_command
from aid_chassis.cli import service_main
from aid_chassis.rekey import rows_command
from verification.adapters import tables
from verification.entrypoints.api import create
from verification.entrypoints.worker import build_loops
from verification.service_layer.checks import resealed
from verification.settings import Settings

raise SystemExit(service_main("verification", Settings, create, build_loops, commands={
    "audit-verify": verify_command(tables.audit_log),
    "rekey": rows_command([(tables.abnormal_items, resealed)])}))
