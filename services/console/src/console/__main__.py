"""``python -m console api``: serve the console."""

import sys

from aid_chassis.logs import configure_logging
from aid_chassis.telemetry import configure_telemetry


def main(argv: list[str]) -> int:
    if argv[:1] != ["api"]:
        print("usage: python -m console api", file=sys.stderr)
        return 2
    import uvicorn

    from console.app import create
    from console.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    provider = configure_telemetry(settings, "api")
    try:
        uvicorn.run(create(settings), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
    finally:
        provider.shutdown()
    return 0


raise SystemExit(main(sys.argv[1:]))
