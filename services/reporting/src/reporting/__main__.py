from aid_chassis.cli import service_main
from reporting.entrypoints.api import create
from reporting.entrypoints.worker import build_loops
from reporting.service_layer import rebuild
from reporting.settings import Settings

raise SystemExit(service_main("reporting", Settings, create, build_loops, commands={
    "rebuild": ("empty the aggregates and replay every topic into them (the worker stopped)", rebuild.command)}))
