from aid_chassis.cli import service_main
from reporting.entrypoints.api import create
from reporting.entrypoints.worker import build_loops
from reporting.settings import Settings

raise SystemExit(service_main("reporting", Settings, create, build_loops))
