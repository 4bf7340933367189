"""The Alembic migrations build the schema the models describe, once, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from haven.db import migrate, repository
from haven.db.models import Base
from haven.db.session import get_engine

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"bookings", "handoff_requests", "safety_events"}


def _indexes(url):
    """name -> (columns, unique, partial-index condition) for every index of our tables."""
    inspector = inspect(get_engine(url))
    return {
        index["name"]: (
            tuple(index["column_names"]),
            bool(index["unique"]),
            {key: str(value) for key, value in index.get("dialect_options", {}).items()},
        )
        for table in TABLES
        for index in inspector.get_indexes(table)
    }


HEAD = "0007"


def test_upgrade_creates_schema(database_url):
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == HEAD
    inspector = inspect(get_engine(database_url))
    assert TABLES <= set(inspector.get_table_names())
    indexes = _indexes(database_url)
    assert indexes["uq_bookings_active_slot"][:2] == (("slot_start",), True)
    assert {"ix_bookings_created_at", "ix_handoff_requests_created_at", "ix_safety_events_created_at"} <= set(
        indexes
    )
    uniques = {c["name"] for c in inspector.get_unique_constraints("bookings")}
    assert "uq_bookings_reference" in uniques


def test_upgrade_twice_is_a_noop(database_url):
    migrate.upgrade(database_url)
    booking = repository.create_booking(
        name="Sam",
        contact_method="email",
        contact="sam@example.org",
        timezone="UTC",
        consent=True,
        slot_start=datetime(2031, 1, 6, 14, 0, tzinfo=UTC),
        url=database_url,
    )
    before = _indexes(database_url)
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == HEAD
    assert _indexes(database_url) == before
    assert repository.get_booking(booking.reference, url=database_url) == booking


def test_models_match_migrations(database_url):
    migrate.upgrade(database_url)
    with get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_concurrent_upgrades_from_separate_processes(database_url):
    """The three servers start together and each runs the migrations."""
    env = {**os.environ}
    env.pop("DATABASE_URL", None)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "haven.db.migrate", database_url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert HEAD in out
    assert migrate.current_revision(database_url) == HEAD


def test_alembic_cli_takes_url_argument(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(ROOT / "alembic.ini"),
            "-x",
            f"url={url}",
            "upgrade",
            "head",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert migrate.current_revision(url) == HEAD


def test_default_url_comes_from_settings(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'settings.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    migrate.upgrade()
    assert (tmp_path / "nested" / "dir" / "settings.db").exists()
    assert migrate.current_revision() == HEAD


def test_ensure_schema_migrates_each_database_once_and_retries_after_a_failure(database_url, monkeypatch):
    """The one lazy bootstrap the action server, the staff pages and the insights writers share:
    a failure is not remembered (the next call tries again), success is, even for threads that
    ask at the same moment."""
    calls = []
    real_upgrade = migrate.upgrade

    def upgrade(url=None, revision="head"):
        calls.append(url)
        if len(calls) == 1:
            raise OSError("the database is down")
        real_upgrade(url, revision)

    monkeypatch.setattr(migrate, "upgrade", upgrade)
    with pytest.raises(OSError):
        migrate.ensure_schema(database_url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: migrate.ensure_schema(database_url), range(8)))
    migrate.ensure_schema(database_url)
    assert calls == [database_url, database_url]
    assert migrate.current_revision(database_url) == HEAD


def test_safety_events_from_before_the_tier_keep_their_rows(database_url):
    """0002 adds `tier`; an event recorded at 0001 (always a full crisis reply) reads back as one."""
    migrate.upgrade(database_url, revision="0001")
    with get_engine(database_url).begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO safety_events (created_at, category, subject, rule) "
            "VALUES ('2026-11-01 10:00:00', 'suicide', 'self', 'not_want_to_live')"
        )
    migrate.upgrade(database_url)
    [event] = repository.list_safety_events(url=database_url)
    assert (event.rule, event.tier) == ("not_want_to_live", "crisis")
    with pytest.raises(ValueError):
        repository.record_safety_event(
            category="suicide", subject="self", rule="x", tier="maybe", url=database_url
        )
    checked = repository.record_safety_event(
        category="danger", subject="self", rule="model:0.61", tier="check_in", url=database_url
    )
    assert checked.tier == "check_in"
