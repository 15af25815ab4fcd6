from aid_chassis.audit import verify_command
from aid_chassis.cli import service_main
from aid_chassis.rekey import rekey_command
from disbursement.adapters import tables
from disbursement.entrypoints.api import create
from disbursement.entrypoints.worker import build_loops
from disbursement.settings import Settings

raise SystemExit(service_main("disbursement", Settings, create, build_loops, commands={
    "audit-verify": verify_command(tables.audit_log),
    "rekey": rekey_command(tables.SEALED, Settings.cipher)}))
