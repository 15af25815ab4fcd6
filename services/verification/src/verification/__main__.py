from aid_chassis.cli import service_main
from verification.entrypoints.api import create
from verification.entrypoints.worker import build_loops
from verification.settings import Settings

raise SystemExit(service_main("verification", Settings, create, build_loops))
