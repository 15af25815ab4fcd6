from aid_chassis.audit import verify_command
from aid_chassis.cli import service_main
from query.adapters import tables
from query.entrypoints.api import create
from query.entrypoints.worker import build_loops
from query.service_layer import rebuild
from query.settings import Settings

raise SystemExit(service_main("query", Settings, create, build_loops, commands={
    "audit-verify": verify_command(tables.audit_log),
    "rebuild": ("empty the read models and replay every topic into them (the worker stopped)", rebuild.command)}))
