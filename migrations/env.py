"""Alembic environment for Haven's application database.

The URL comes from, in order: `alembic -x url=...`, the `url` attribute set by
haven.db.migrate.upgrade(), `sqlalchemy.url` in alembic.ini (left empty on purpose), and finally
haven.settings (DATABASE_URL).  Concurrent upgrades (several servers starting at once) are
serialised: a lock file beside a SQLite database, an advisory lock on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import make_url

from haven import settings
from haven.db.models import Base
from haven.db.session import get_engine

config = context.config
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Any constant works; it only has to be the same for every Haven process.
_PG_LOCK_KEY = 4_815_162_342


def _url() -> str:
    given = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
    )
    if not given:
        return settings.load().database_url
    if given == "sqlite://" or ":memory:" in given:
        return given
    # settings.load() makes a relative sqlite:///var/haven.db relative to the project, as everywhere.
    return settings.load({"DATABASE_URL": given}).database_url


@contextlib.contextmanager
def _sqlite_file_lock(url: str):
    database = make_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no cross-process lock, best effort
        yield
        return
    lock_path = Path(database).expanduser().resolve().with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # A separate lock file: closing a descriptor of the database file itself would drop SQLite's
    # own POSIX locks held by this process.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = get_engine(url)
    is_sqlite = engine.dialect.name == "sqlite"
    is_pg = engine.dialect.name == "postgresql"
    with _sqlite_file_lock(url) if is_sqlite else contextlib.nullcontext():
        with engine.connect() as connection:
            if is_pg:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
            try:
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=is_sqlite,  # SQLite can only ALTER through table copies
                    compare_type=True,
                )
                with context.begin_transaction():
                    context.run_migrations()
                connection.commit()
            finally:
                if is_pg:
                    connection.rollback()
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
