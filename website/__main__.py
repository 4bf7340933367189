"""Runs the website server on SITE_PORT (see haven/settings.py)."""

import sys

from haven import settings as settings_module
from website.app import create_app


def main() -> None:
    try:
        settings = settings_module.load()
    except ValueError as error:  # a bad setting: one line that names it, no traceback
        sys.exit(f"The website server could not start: {error}")
    app = create_app(settings)
    app.run(host=settings.host, port=settings.site_port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
