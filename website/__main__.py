"""Runs the website server on SITE_PORT (see haven/settings.py)."""

from haven import settings as settings_module
from website.app import create_app


def main() -> None:
    settings = settings_module.load()
    app = create_app(settings)
    app.run(host=settings.host, port=settings.site_port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
