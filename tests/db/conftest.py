"""Fixtures for the database tests: every test runs on SQLite and on a throwaway PostgreSQL.

PostgreSQL: HAVEN_TEST_POSTGRES_URL (an existing server whose user may CREATE DATABASE) is used
when set; otherwise a private server is started from /usr/lib/postgresql/*/bin for the session
(as the `postgres` user when running as root) and removed afterwards.  If none can start, the
PostgreSQL variants are skipped with the reason printed in the summary; set
HAVEN_REQUIRE_POSTGRES=1 (CI) to make that a failure instead.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from haven.db import migrate, session
from haven_devtools.throwaway import ThrowawayPostgres

_PG_SKIP_REASONS = []


@pytest.fixture(scope="session")
def postgres_admin_url():
    """URL of a PostgreSQL database whose user may create databases, or a skip with the reason."""
    given = os.environ.get("HAVEN_TEST_POSTGRES_URL", "").strip()
    if given:
        yield given
        return
    server = None
    try:
        server = ThrowawayPostgres()
        url = server.start()
    except Exception as error:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        if server is not None:
            server.stop()
        reason = f"PostgreSQL tests skipped: could not start a throwaway server: {error}"
        if os.environ.get("HAVEN_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        _PG_SKIP_REASONS.append(reason)
        print(f"\n{reason}")
        pytest.skip(reason)
    try:
        yield url
    finally:
        session.dispose_all()
        server.stop()


# The PostgreSQL variants start a server on a free port: `e2e`, outside `make test-unit`.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)])
def database_url(request, tmp_path):
    """An empty database (no schema yet) on each backend; removed after the test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'haven.db'}"
        yield url
        session.dispose_engine(url)
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"haven_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        yield url
        session.dispose_engine(url)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def db_url(database_url):
    """A database with the current schema."""
    migrate.upgrade(database_url)
    return database_url


def pytest_terminal_summary(terminalreporter):
    for reason in dict.fromkeys(_PG_SKIP_REASONS):
        terminalreporter.write_line(reason, yellow=True)
