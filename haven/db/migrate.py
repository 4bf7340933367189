"""Bring the database schema up to date (Alembic `upgrade head`), programmatically.

Every server calls upgrade() at start; it is idempotent and safe when several processes start
together (env.py serialises them).  `python -m haven.db.migrate [URL]` does the same by hand.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

# Alembic announces each of its plug-ins at INFO as it imports them: seven lines in every server's
# start. Set before the import; its migrations ("Running upgrade …") still log at INFO.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

from haven.db.session import resolve_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
ALEMBIC_INI = ROOT / "alembic.ini"
MIGRATIONS = ROOT / "migrations"

#: Databases this process has brought up to date (resolved URLs), and the one lock every caller
#: takes: Alembic's migration context is process-wide, so two threads must never migrate at once
#: (the action server's writes, the insights counter's thread and the staff pages share it).
_current: set = set()
_current_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config bound to this project's migrations and to url (settings' URL when None)."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = resolve_url(url)
    # Servers own their logging; the ini's logging section is only for the alembic CLI.
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply every migration not yet applied; a no-op when the schema is current."""
    command.upgrade(alembic_config(url), revision)


def ensure_schema(url: str | None = None) -> None:
    """upgrade() once per database per process, for servers that reach the database lazily.

    Why here and only here: the action server, the staff pages and the insights writers all need
    "migrate before the first query, once, and again later if the database was down"; one copy
    means one lock (see _current_lock) and one notion of "done". A failure raises what the upgrade
    raised and is not remembered, so the next call tries again; each caller decides what a failure
    means for it (a "try again" reply, a 503, a logged count).
    """
    resolved = resolve_url(url)
    if resolved in _current:
        return
    with _current_lock:
        if resolved not in _current:
            upgrade(resolved)
            _current.add(resolved)


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    from haven.db.session import get_engine

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def main(argv: list | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in {"-h", "--help"}:
        print(
            "usage: python -m haven.db.migrate [DATABASE_URL]   (default: DATABASE_URL from the environment)"
        )
        return 0
    url = argv[0] if argv else None
    upgrade(url)
    print(f"database at revision {current_revision(url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
