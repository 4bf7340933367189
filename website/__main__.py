"""Runs the website server on SITE_PORT (see haven/settings.py)."""

import sys

from haven.plugins import quiet

quiet.quiet_deprecation_warnings()  # before Sanic's and the database's imports print them

from haven import settings as settings_module  # noqa: E402
from website.app import create_app  # noqa: E402


def main() -> None:
    try:
        settings = settings_module.load()
    except ValueError as error:  # a bad setting: one line that names it, no traceback
        sys.exit(f"The website server could not start: {error}")
    app = create_app(settings)
    app.run(host=settings.host, port=settings.site_port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
