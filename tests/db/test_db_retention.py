"""Retention (haven/ops/retention.py, `make purge`) on SQLite and on a throwaway PostgreSQL, with rows
dated in the past: old conversations and long-handled items go, recent and unhandled ones stay, and
a SQLite file shrinks and no longer holds the deleted words."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from haven import settings as settings_module
from haven.db import repository
from haven.db.models import Booking, HandoffRequest, SafetyEvent
from haven.ops import retention
from haven.plugins.tracker_store import ForgettingSQLTrackerStore
from haven.settings import ROOT

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OLD_WORDS = "he lied to me for years and I found the messages"


def conversation(sender: str, when: datetime, turns: int) -> DialogueStateTracker:
    at = when.timestamp()
    events = [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at)]
    for turn in range(turns):
        events += [
            ActionExecuted("action_listen", timestamp=at + turn),
            UserUttered(f"{OLD_WORDS} {turn} " + "x" * 500, timestamp=at + turn),
        ]
    return DialogueStateTracker.from_events(sender, events)


def endpoints_for(tmp_path: Path, db_url: str) -> tuple[Path, dict]:
    """An endpoints file whose tracker store is a database next to the application one, as
    endpoints.yml (SQLite) or deploy/endpoints.scale-out.yml (PostgreSQL) configure it."""
    url = make_url(db_url)
    path = tmp_path / "endpoints.yml"
    if url.get_backend_name() == "sqlite":
        path.write_text(
            "tracker_store:\n  type: haven.plugins.tracker_store.ForgettingSQLTrackerStore\n"
            "  dialect: sqlite\n  db: ${HAVEN_TRACKER_DB}\n"
        )
        return path, {"dialect": "sqlite", "db": str(tmp_path / "var" / "rasa-tracker.db")}
    path.write_text(
        "tracker_store:\n  type: haven.plugins.tracker_store.ForgettingSQLTrackerStore\n"
        "  dialect: postgresql\n"
        f"  url: {url.host}\n  port: {url.port}\n  db: {url.database}\n  username: {url.username}\n"
    )
    return path, {"dialect": "postgresql", "host": url.host, "port": url.port, "db": url.database,
                  "username": url.username}  # fmt: skip


def age(db_url: str, model, reference_or_id, created: datetime, handled: datetime | None) -> None:
    engine = create_engine(db_url)
    with engine.begin() as connection:
        column = model.reference if hasattr(model, "reference") else model.id
        connection.execute(
            model.__table__.update()
            .where(column == reference_or_id)
            .values(created_at=created, handled_at=handled)
        )
    engine.dispose()


def test_purge_deletes_what_is_past_retention_and_keeps_the_rest(db_url, tmp_path, monkeypatch) -> None:
    endpoints, store_args = endpoints_for(tmp_path, db_url)
    monkeypatch.setenv("HAVEN_TRACKER_DB", str(tmp_path / "var" / "rasa-tracker.db"))
    settings = settings_module.load(
        {"DATABASE_URL": db_url, "HAVEN_RASA_ENDPOINTS": str(endpoints),
         "HAVEN_TRACKER_DB": str(tmp_path / "var" / "rasa-tracker.db")}
    )  # fmt: skip
    store = ForgettingSQLTrackerStore(Domain.empty(), **store_args)
    asyncio.run(store.save(conversation("old-visitor", NOW - timedelta(days=31), turns=200)))
    asyncio.run(store.save(conversation("recent-visitor", NOW - timedelta(days=29), turns=3)))
    # Started long ago, last message yesterday: kept (30 days after the LAST message).
    long_running = conversation("long-visitor", NOW - timedelta(days=90), turns=2)
    long_running.update(UserUttered("still here", timestamp=(NOW - timedelta(days=1)).timestamp()))
    asyncio.run(store.save(long_running))
    store.engine.dispose()

    def booking(name, slot_days):
        return repository.create_booking(
            name=name, contact_method="email", contact=f"{name.lower()}@example.org", timezone="UTC",
            consent=True, slot_start=NOW + timedelta(days=slot_days), url=db_url,
        ).reference  # fmt: skip

    old_handled, recent_handled, old_unhandled = booking("Ash", 1), booking("Birch", 2), booking("Cedar", 3)
    age(db_url, Booking, old_handled, NOW - timedelta(days=400), NOW - timedelta(days=181))
    age(db_url, Booking, recent_handled, NOW - timedelta(days=400), NOW - timedelta(days=179))
    age(db_url, Booking, old_unhandled, NOW - timedelta(days=400), None)
    handoffs = [
        repository.create_handoff(
            name=n, contact_method="email", contact=f"{n}@example.org", url=db_url
        ).reference
        for n in ("dana", "eli")
    ]
    age(db_url, HandoffRequest, handoffs[0], NOW - timedelta(days=300), NOW - timedelta(days=200))
    age(db_url, HandoffRequest, handoffs[1], NOW - timedelta(days=300), None)
    events = [
        repository.record_safety_event(category="suicide", subject="self", rule="test", url=db_url).id
        for _ in range(2)
    ]
    age(db_url, SafetyEvent, events[0], NOW - timedelta(days=365), NOW - timedelta(days=364))
    age(db_url, SafetyEvent, events[1], NOW - timedelta(days=365), None)
    tracker_file = tmp_path / "var" / "rasa-tracker.db"
    before = tracker_file.stat().st_size if store_args["dialect"] == "sqlite" else None

    report = retention.purge(settings, now=NOW)

    assert (report.conversations, report.bookings, report.handoffs, report.safety_events) == (1, 1, 1, 1)
    assert report.events == 2 + 2 * 200
    store = ForgettingSQLTrackerStore(Domain.empty(), **store_args)
    assert sorted(asyncio.run(store.keys())) == ["long-visitor", "recent-visitor"]
    store.engine.dispose()
    assert {b.reference for b in repository.list_bookings(url=db_url)} == {recent_handled, old_unhandled}
    assert {h.reference for h in repository.list_handoffs(url=db_url)} == {handoffs[1]}
    assert [e.id for e in repository.list_safety_events(url=db_url)] == [events[1]]
    if before is not None:
        after = tracker_file.stat().st_size
        assert after < before / 2, f"the tracker file did not shrink: {before} -> {after}"
        assert b"for years and I found the messages 150" not in tracker_file.read_bytes()
        assert str(tracker_file) in report.compacted
    # A second run finds nothing more.
    again = retention.purge(settings, now=NOW)
    assert (again.conversations, again.bookings, again.handoffs, again.safety_events) == (0, 0, 0, 0)


def test_purge_on_a_fresh_clone_creates_nothing_and_exits_0(tmp_path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'haven.db'}",
        "HAVEN_TRACKER_DB": str(tmp_path / "var" / "rasa-tracker.db"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "haven.ops.retention"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Deleted 0 conversation(s)" in result.stdout and "nothing stored" in result.stdout
    assert not (tmp_path / "var").exists(), "the purge created files"


def test_a_broken_database_is_a_clear_error_not_a_traceback(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "HAVEN_TRACKER_DB": str(tmp_path / "none.db")}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "haven.ops.retention"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Purge failed: OperationalError:") and "Traceback" not in result.stderr


def test_rasas_plain_sql_store_is_purged_too(tmp_path) -> None:
    """`type: sql` (Rasa's own class) names the same table."""
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))
    asyncio.run(store.save(conversation("v", NOW - timedelta(days=60), turns=1)))
    store.engine.dispose()
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    assert retention.purge_tracker(engine, NOW - timedelta(days=30)) == (1, 4)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM events")).scalar() == 0
    engine.dispose()
