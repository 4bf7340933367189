"""Engines, sessions and the retry policy for the application database.

One engine per database URL (created lazily, shared by all threads). SQLite gets WAL, a busy
timeout and foreign keys on every connection so the website and the action server can write to
the same file at once; PostgreSQL works with the same code.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool

from haven.ops import file_modes

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long one SQLite statement waits for another writer before failing with "database is locked".
#: A `?timeout=<seconds>` query parameter on the URL overrides it (the tests use a tiny one).
SQLITE_BUSY_TIMEOUT_S = 2.0
#: PostgreSQL connection attempts give up after this many seconds (then `retrying` tries again).
PG_CONNECT_TIMEOUT_S = 5

_engines: Dict[str, Engine] = {}
_sessionmakers: Dict[str, sessionmaker] = {}
_lock = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The database stayed locked or unreachable through every retry.

    Callers turn this into a kind "please try again in a moment" for the visitor.
    """


def resolve_url(url: str | None = None) -> str:
    """The given URL, else the one from haven.settings (the only place settings are read)."""
    if url:
        return str(url)
    from haven import settings

    return settings.load().database_url


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return not database or database == ":memory:" or "mode=memory" in database


def sqlite_engine(url: URL, *, future: bool = True) -> Engine:
    """A pooled SQLite engine with a busy timeout, foreign keys and, for files, WAL with
    synchronous=NORMAL: one commit is one write to the log, not several fsyncs of a rollback journal,
    and a crash of the process loses nothing committed (a power cut can lose the last commits, never
    consistency). The file and its folder are created owner-only first. The application database
    uses it, and so does Rasa's tracker store (haven/plugins/tracker_store.py, with `future=False` for Rasa's
    1.x-style sessions)."""
    timeout_s = float(url.query.get("timeout", SQLITE_BUSY_TIMEOUT_S))
    path = _sqlite_file(url)
    if path is not None:
        file_modes.private_sqlite_file(path.expanduser().resolve())
    connect_args = {"check_same_thread": False, "timeout": timeout_s}
    if _is_memory_sqlite(url):
        engine = create_engine(url, future=future, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(
            url,
            future=future,
            connect_args=connect_args,
            poolclass=QueuePool,
            pool_size=5,
            max_overflow=20,
            pool_timeout=30,
        )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not _is_memory_sqlite(url):
                # journal_mode=WAL is persistent; switching needs a lock, so only switch once.
                mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return engine


def _create_engine(url_text: str) -> Engine:
    url = make_url(url_text)
    backend = url.get_backend_name()

    if backend == "sqlite":
        return sqlite_engine(url)

    kwargs = {"future": True, "pool_pre_ping": True, "pool_size": 5, "max_overflow": 20, "pool_timeout": 30}
    if backend == "postgresql" and url.get_driver_name() == "psycopg2" and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return create_engine(url, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for this URL (settings' URL when None), created on first use."""
    key = resolve_url(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create_engine(key)
        return engine


def _sessionmaker(url: str | None) -> sessionmaker:
    key = resolve_url(url)
    engine = get_engine(key)
    with _lock:
        factory = _sessionmakers.get(key)
        if factory is None:
            factory = _sessionmakers[key] = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        return factory


def dispose_engine(url: str | None = None) -> None:
    """Close the pooled connections of one URL (tests drop their databases afterwards)."""
    key = resolve_url(url)
    with _lock:
        engine = _engines.pop(key, None)
        _sessionmakers.pop(key, None)
    if engine is not None:
        engine.dispose()


def dispose_all() -> None:
    """Close every pooled connection (at process shutdown, or after forking)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _sessionmakers.clear()
    for engine in engines:
        engine.dispose()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error, always closes."""
    session: Session = _sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# PostgreSQL SQLSTATE classes worth another try: connection exceptions, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention (shutdown,
# "cannot connect now", statement timeout).
_TRANSIENT_PG_CLASSES = {"08", "40", "53", "57"}


def is_transient(error: BaseException) -> bool:
    """True when the same operation may well succeed if tried again shortly."""
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    original = error.orig
    if isinstance(original, sqlite3.OperationalError):
        text = str(original).lower()
        # "no such table", "disk I/O error" and the like are not cured by waiting.
        return "locked" in text or "busy" in text
    pgcode = getattr(original, "pgcode", None)
    if pgcode is None:
        # Client-side failures (connection refused, server closed the connection) carry no code.
        return True
    return str(pgcode)[:2] in _TRANSIENT_PG_CLASSES


def retrying(
    fn: Callable[[], T], attempts: int = 5, *, base_delay: float = 0.05, max_delay: float = 1.0
) -> T:
    """Call fn(); on a transient database error try again with short jittered backoff.

    fn must be a whole unit of work (open its own session_scope) so a retry starts clean.
    Non-transient errors (integrity errors, missing tables, bugs) propagate unchanged at once.
    After the last attempt the error is raised as DatabaseUnavailable.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (OperationalError, DBAPIError, PoolTimeoutError) as error:
            if not is_transient(error):
                raise
            if attempt == attempts:
                raise DatabaseUnavailable(
                    f"database still unavailable after {attempts} attempts: {error.__class__.__name__}: "
                    f"{getattr(error, 'orig', None) or error}"
                ) from error
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
            log.warning(
                "database busy or unreachable (attempt %d/%d), retrying in %.2fs: %s",
                attempt,
                attempts,
                delay,
                getattr(error, "orig", None) or error,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
