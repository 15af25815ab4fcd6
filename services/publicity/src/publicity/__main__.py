from aid_chassis.audit import verify_command
from aid_chassis.cli import service_main
from publicity.adapters import tables
from publicity.entrypoints.api import create
from publicity.entrypoints.worker import build_loops
from publicity.settings import Settings

raise SystemExit(service_main("publicity", Settings, create, build_loops, commands={
    "audit-verify": verify_command(tables.audit_log)}))
