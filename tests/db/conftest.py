"""Fixtures for the database tests: every test runs on SQLite and on a throwaway PostgreSQL.

PostgreSQL: HAVEN_TEST_POSTGRES_URL (an existing server whose user may CREATE DATABASE) is used
when set; otherwise a private server is started from /usr/lib/postgresql/*/bin for the session
(as the `postgres` user when running as root) and removed afterwards.  If none can start, the
PostgreSQL variants are skipped with the reason printed in the summary; set
HAVEN_REQUIRE_POSTGRES=1 (CI) to make that a failure instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from haven.db import migrate, session

_PG_SKIP_REASONS = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: [int(part) if part.isdigit() else 0 for part in Path(p).parts[-3].split(".")],
    )
    if not candidates:
        raise RuntimeError(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install the postgresql package)"
        )
    return Path(candidates[-1]).parent


class _ThrowawayPostgres:
    def __init__(self):
        self.bin = _pg_bin()
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="haven-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "server.log"
        self.sockets.mkdir()
        self.port = _free_port()
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.base)

    def start(self) -> str:
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "haven",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=120 "
            "-c shared_buffers=32MB"
        )
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
        )
        if result.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"pg_ctl start failed: {result.stderr.strip() or result.stdout.strip()}\n{log}"
            )
        return f"postgresql+psycopg2://haven@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url():
    """URL of a PostgreSQL database whose user may create databases, or a skip with the reason."""
    given = os.environ.get("HAVEN_TEST_POSTGRES_URL", "").strip()
    if given:
        yield given
        return
    server = None
    try:
        server = _ThrowawayPostgres()
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


@pytest.fixture(params=["sqlite", "postgresql"])
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
