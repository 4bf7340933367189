"""Keep no more than needed: delete what is past its retention period (`make purge`, issue 11.3).

What is deleted (periods in haven/settings.py, HAVEN_RETAIN_*):
- a conversation (every event of it in Rasa's tracker store: the visitor's words, the slots) once
  its last message is older than `retain_conversation_days` (30);
- a booking, hand-off request (with its transcript) or safety event once it was marked handled more
  than `retain_handled_days` (180) ago. Unhandled ones are never deleted: the therapist has not
  seen them yet.

Both stores are covered on SQLite and PostgreSQL: the application database (DATABASE_URL) and the
tracker store named in the Rasa endpoints file (endpoints.yml, or deploy/endpoints.scale-out.yml),
when it is Rasa's SQL store. A SQLite file is then compacted (VACUUM, and a WAL checkpoint), so the
deleted text is gone from the file and the file shrinks. Nothing is created: on a fresh clone there
is nothing to purge and the report says so. The launcher runs this module as a child process every
`purge_interval_hours`; `make purge` runs it once. Only counts are printed, never content.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sqlalchemy import bindparam, create_engine, delete, inspect, text
from sqlalchemy.engine import URL, Engine, make_url

from haven import settings as settings_module
from haven import yaml_files
from haven.ops.file_modes import owner_only, sqlite_path
from haven.settings import Settings

#: Rasa's SQL tracker store classes, as an endpoints file names them.
SQL_TRACKER_TYPES = {
    "sql",
    "haven.plugins.tracker_store.forgettingsqltrackerstore",
    "rasa.core.tracker_store.sqltrackerstore",
}


@dataclass
class PurgeReport:
    conversations: int = 0
    events: int = 0
    bookings: int = 0
    handoffs: int = 0
    safety_events: int = 0
    #: SQLite files compacted: path -> (bytes before, bytes after).
    compacted: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    def lines(self, settings: Settings) -> List[str]:
        s = settings
        out = [
            f"Deleted {self.conversations} conversation(s) ({self.events} events) whose last message was "
            f"more than {s.retain_conversation_days} days ago.",
            f"Deleted {self.bookings} booking(s), {self.handoffs} hand-off request(s) and "
            f"{self.safety_events} safety event(s) handled more than {s.retain_handled_days} days ago "
            "(unhandled ones are kept).",
        ]
        for path, (before, after) in self.compacted.items():
            if after < before:
                out.append(f"Compacted {path}: {_size(before)} -> {_size(after)}.")
        return out + self.notes


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


# ----------------------------------------------------------------------------- the tracker store
def tracker_store_url(settings: Settings) -> Tuple[Optional[URL], Optional[str]]:
    """The SQL tracker store's database URL from the Rasa endpoints file, as Rasa builds it
    (SQLTrackerStore.get_db_url); or (None, why not)."""
    import yaml

    from haven.ops.processes import _expand, runtime_env  # Rasa's ${VAR} expansion, one copy

    path = settings.rasa_endpoints
    try:
        content = yaml_files.read(path) or {}
    except (OSError, yaml.YAMLError) as error:
        return None, f"cannot read the Rasa endpoints file {path}: {error}"
    section = content.get("tracker_store") if isinstance(content, dict) else None
    if not isinstance(section, dict):
        return None, f"the tracker store in {path} keeps conversations in memory only (nothing on disk)"
    env = runtime_env(settings)  # the environment the launcher gives the Rasa server
    values = {k: _expand(v, env) if isinstance(v, str) else v for k, v in section.items()}
    kind = str(values.get("type") or "").strip().lower()
    if kind not in SQL_TRACKER_TYPES:
        return None, (
            f"the tracker store in {path} is of type {kind or 'in_memory'!r}: Haven purges SQL tracker "
            "stores only (for Redis, set its record_exp)"
        )
    dialect = str(values.get("dialect") or "sqlite")
    db = str(values.get("db") or "rasa.db")
    if dialect == "sqlite":
        return make_url(f"sqlite:///{Path(db).expanduser()}"), None
    port = str(values.get("port") or "").strip()
    return (
        URL.create(
            drivername=dialect,
            username=str(values.get("username") or "") or None,
            password=str(values.get("password") or "") or None,
            host=str(values.get("url") or "") or None,
            port=int(port) if port else None,
            database=db,
            query=values.get("query") or {},
        ),
        None,
    )


def purge_tracker(engine: Engine, cutoff: datetime) -> Tuple[int, int]:
    """Deletes every conversation whose newest event is older than `cutoff`: (conversations, events)."""
    if not inspect(engine).has_table("events"):
        return 0, 0
    stale = "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"
    with engine.begin() as connection:
        senders = [row[0] for row in connection.execute(text(stale), {"cutoff": cutoff.timestamp()})]
        events = 0
        for start in range(0, len(senders), 500):
            chunk = senders[start : start + 500]
            result = connection.execute(
                text("DELETE FROM events WHERE sender_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": chunk},
            )
            events += result.rowcount or 0
    return len(senders), events


# ----------------------------------------------------------------------- the application database
def purge_application(engine: Engine, cutoff: datetime) -> Dict[str, int]:
    """Deletes bookings, hand-offs and safety events handled before `cutoff` (never unhandled ones)."""
    from haven.db.models import Booking, HandoffRequest, SafetyEvent

    present = set(inspect(engine).get_table_names())
    counts = {}
    with engine.begin() as connection:
        for key, model in (
            ("bookings", Booking),
            ("handoffs", HandoffRequest),
            ("safety_events", SafetyEvent),
        ):
            if model.__tablename__ not in present:
                counts[key] = 0
                continue
            result = connection.execute(
                delete(model).where(model.handled_at.isnot(None), model.handled_at < cutoff)
            )
            counts[key] = result.rowcount or 0
    return counts


def purge_staff_log(engine: Engine, now: datetime) -> int:
    """Deletes staff sign-in log rows older than 90 days and sessions past their 7-day limit."""
    from haven.db import staff_accounts
    from haven.db.models import StaffSession, StaffSignin

    if StaffSignin.__tablename__ not in set(inspect(engine).get_table_names()):
        return 0
    with engine.begin() as connection:
        old = now - staff_accounts.SIGNIN_RETENTION
        result = connection.execute(delete(StaffSignin).where(StaffSignin.created_at < old))
        connection.execute(
            delete(StaffSession).where(StaffSession.created_at < now - staff_accounts.SESSION_ABSOLUTE)
        )
    return result.rowcount or 0


# ------------------------------------------------------------------------------ SQLite compaction
def compact_sqlite(path: Path) -> Tuple[int, int]:
    """VACUUM (only when there are free pages) and checkpoint the WAL: (bytes before, bytes after),
    counting the -wal file."""

    def size() -> int:
        return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())

    before = size()
    connection = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
        if free:
            connection.execute("VACUUM")
        if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return before, size()


# ----------------------------------------------------------------------------------------- purge
def purge(settings: Settings, now: Optional[datetime] = None) -> PurgeReport:
    """Deletes what is past its retention period in both stores and compacts SQLite files."""
    now = now or datetime.now(UTC)
    report = PurgeReport()
    sqlite_files: List[Path] = []

    tracker_url, why_not = tracker_store_url(settings)
    if tracker_url is None:
        report.notes.append(f"Conversations: {why_not}.")
    else:
        file = sqlite_path(str(tracker_url))
        if file is not None and not file.exists():
            report.notes.append("Conversations: no tracker store file yet (nothing stored).")
        else:
            engine = create_engine(tracker_url, connect_args=_connect_args(tracker_url))
            try:
                cutoff = now - timedelta(days=settings.retain_conversation_days)
                report.conversations, report.events = purge_tracker(engine, cutoff)
            finally:
                engine.dispose()
            if file is not None:
                sqlite_files.append(file)

    app_url = make_url(settings.database_url)
    file = sqlite_path(settings.database_url)
    if file is not None and not file.exists():
        report.notes.append("Bookings, hand-offs, safety events: no database file yet (nothing stored).")
    else:
        engine = create_engine(app_url, connect_args=_connect_args(app_url))
        try:
            counts = purge_application(engine, now - timedelta(days=settings.retain_handled_days))
            purge_staff_log(engine, now)
        finally:
            engine.dispose()
        report.bookings, report.handoffs, report.safety_events = (
            counts["bookings"], counts["handoffs"], counts["safety_events"]
        )  # fmt: skip
        if file is not None:
            sqlite_files.append(file)

    for file in sqlite_files:
        report.compacted[str(file)] = compact_sqlite(file)
    return report


def _connect_args(url: URL) -> dict:
    if url.get_backend_name() == "sqlite":
        return {"timeout": 30}
    if url.get_backend_name() == "postgresql":
        return {"connect_timeout": 10}
    return {}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m haven.ops.retention",
        description="Delete conversations and handled items past their retention period (make purge).",
    )
    parser.parse_args(argv)
    owner_only()
    try:
        settings = settings_module.load()
    except ValueError as error:
        print(f"Purge: bad setting: {error}", file=sys.stderr)
        return 2
    began = time.monotonic()
    try:
        report = purge(settings)
    except Exception as error:  # noqa: BLE001 - said plainly; the driver's first line, never the SQL's parameters
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        print(f"Purge failed: {type(error).__name__}: {reason[0] if reason else ''}", file=sys.stderr)
        return 1
    for line in report.lines(settings):
        print(f"Purge: {line}", flush=True)
    print(f"Purge: done in {time.monotonic() - began:.1f} s.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
