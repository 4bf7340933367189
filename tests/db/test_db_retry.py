"""The retry helper: waits out a locked SQLite file, gives up with DatabaseUnavailable, never hides bugs."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError

from haven.db import migrate, repository
from haven.db.models import SafetyEvent
from haven.db.session import DatabaseUnavailable, get_engine, is_transient, retrying, session_scope


@pytest.fixture
def sqlite_db(tmp_path):
    """A migrated SQLite file, plus a URL for it whose busy timeout is only 50 ms."""
    path = tmp_path / "locked.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path, f"sqlite:///{path}?timeout=0.05"


def _hold_write_lock(path):
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    return locker


def _handoff(url):
    return repository.create_handoff(name="Jo", contact_method="email", contact="jo@example.org", url=url)


def test_sqlite_setup(sqlite_db):
    _, url = sqlite_db
    with get_engine(url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 50


def test_write_succeeds_once_a_brief_lock_is_released(sqlite_db):
    path, url = sqlite_db
    locker = _hold_write_lock(path)
    release = threading.Timer(0.3, locker.commit)
    release.start()
    try:
        started = time.monotonic()
        created = _handoff(url)  # 50 ms busy timeout, so this only works because of the retries
        assert time.monotonic() - started >= 0.25
    finally:
        release.join()
        locker.close()
    assert repository.list_handoffs(url=url) == [created]


def test_lock_outlasting_the_retries_gives_database_unavailable(sqlite_db):
    path, url = sqlite_db
    calls = []

    def write():
        calls.append(1)
        with session_scope(url) as session:
            session.execute(update(SafetyEvent).values(rule="x"))

    locker = _hold_write_lock(path)
    try:
        with pytest.raises(DatabaseUnavailable, match="3 attempts") as caught:
            retrying(write, attempts=3)
        assert isinstance(caught.value.__cause__, OperationalError)
        assert len(calls) == 3
        with pytest.raises(DatabaseUnavailable):
            _handoff(url)
    finally:
        locker.rollback()
        locker.close()
    assert repository.list_handoffs(url=url) == []


@pytest.fixture
def unused_tcp_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg2://nobody@127.0.0.1:{port}/nothing?connect_timeout=1"


def test_unreachable_postgres_gives_database_unavailable(unused_tcp_port_url):
    with pytest.raises(DatabaseUnavailable):
        repository.list_bookings(url=unused_tcp_port_url)


def test_non_transient_errors_are_not_retried(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"  # no migrations: "no such table" is a bug, not busy
    calls = []

    def read():
        calls.append(1)
        return repository.list_bookings(url=url)

    with pytest.raises(OperationalError, match="no such table"):
        retrying(read)
    assert len(calls) == 1

    def fails():
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate"))

    calls.clear()
    with pytest.raises(IntegrityError):
        retrying(fails)
    assert calls == [1]


def test_is_transient_classification():
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    missing = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: bookings"))

    class PgError(Exception):
        def __init__(self, pgcode):
            super().__init__("pg")
            self.pgcode = pgcode

    assert is_transient(locked)
    assert not is_transient(missing)
    assert is_transient(OperationalError("x", {}, PgError(None)))  # connection refused
    assert is_transient(OperationalError("x", {}, PgError("40001")))  # serialization failure
    assert is_transient(OperationalError("x", {}, PgError("57P01")))  # admin shutdown
    assert not is_transient(OperationalError("x", {}, PgError("42P01")))  # undefined table
    assert not is_transient(ValueError("nope"))


def test_retrying_returns_the_value_after_transient_failures():
    failures = [OperationalError("x", {}, sqlite3.OperationalError("database is locked"))] * 2

    def flaky():
        if failures:
            raise failures.pop()
        return 42

    assert retrying(flaky, attempts=3, base_delay=0.001) == 42
    with pytest.raises(ValueError):
        retrying(flaky, attempts=0)
