"""The command line every service shares: ``python -m <service> api|worker|migrate``."""

from __future__ import annotations

import sys
from collections.abc import Callable

from aid_chassis import migrations, outbox
from aid_chassis.process import run_worker, serve_api
from aid_chassis.settings import ServiceSettings

USAGE = "usage: python -m {pkg} api|worker|migrate\n  api      serve the HTTP API\n  worker   run consumers, outbox relay and schedulers\n  migrate  upgrade the service's database to the newest schema"


def service_main(package: str, settings_cls: type[ServiceSettings], app_factory: Callable,
                 build_loops: Callable, argv: list[str] | None = None,
                 commands: dict[str, tuple[str, Callable[[ServiceSettings], int]]] | None = None) -> int:
    """Run one command; ``commands`` adds a service's own (name → (help, function of the settings)),
    beside the outbox's (``outbox-parked``, ``outbox-release``)."""
    args = sys.argv[1:] if argv is None else argv
    extra = {**(commands or {}), **outbox.outbox_commands()}
    if not args or args[0] in {"-h", "--help"} or args[0] not in {"api", "worker", "migrate", *extra}:
        names = "|".join(["api", "worker", "migrate", *extra])
        print(USAGE.format(pkg=package).replace("api|worker|migrate", names)
              + "".join(f"\n  {name:<8} {text}" for name, (text, _) in extra.items()))
        return 0 if args and args[0] in {"-h", "--help"} else 2
    settings = settings_cls()
    if args[0] in extra:
        return extra[args[0]][1](settings)
    if args[0] == "api":
        serve_api(settings, app_factory, package)
    elif args[0] == "worker":
        run_worker(settings, lambda sessions: build_loops(settings, sessions))
    else:
        try:
            migrations.upgrade(f"{package}:migrations", settings.database_url)
        except migrations.MigrationLockTimeout as exc:
            print(exc, file=sys.stderr)
            return 1
    return 0
