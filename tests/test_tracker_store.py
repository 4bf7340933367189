"""The SQL tracker store forgets a conversation replaced with no events (Clear conversation, Quick
exit), and keeps appending as Rasa's does otherwise. Runs on SQLite, the same SQL code path as the
PostgreSQL store of the scale-out deployment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from haven import settings
from haven.db import counts
from haven.plugins.tracker_store import ForgettingSQLTrackerStore
from haven.services.availability import therapist_timezone

DOMAIN = Domain.empty()
WORDS = "he lied to me for years"


@pytest.fixture(autouse=True)
def counts_url(monkeypatch, tmp_path) -> str:
    """A new conversation is counted for the insights (haven/db/counts.py): into a throwaway database."""
    url = f"sqlite:///{tmp_path}/haven.db"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def conversation(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered(WORDS),
        ],
    )


def rows(store: SQLTrackerStore, sender: str) -> int:
    with store.session_scope() as session:
        return session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender).count()


def test_a_replaced_conversation_is_deleted_from_the_database(tmp_path) -> None:
    # The folder does not exist yet, as var/ on a fresh clone.
    store = ForgettingSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "var" / "tracker.db"))
    asyncio.run(store.save(conversation("visitor-1")))
    asyncio.run(store.save(conversation("visitor-2")))
    assert rows(store, "visitor-1") == 4
    asyncio.run(store.save(DialogueStateTracker.from_events("visitor-1", [])))
    assert rows(store, "visitor-1") == 0
    assert rows(store, "visitor-2") == 4, "other conversations are untouched"
    with store.session_scope() as session:
        assert WORDS not in " ".join(
            e.data for e in session.query(store.SQLEvent).filter_by(sender_id="visitor-1")
        )


def test_rasas_own_store_keeps_a_replaced_conversation(tmp_path) -> None:
    """Why this store exists: the stock one leaves every row in place."""
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    asyncio.run(store.save(conversation("visitor-1")))
    asyncio.run(store.save(DialogueStateTracker.from_events("visitor-1", [])))
    assert rows(store, "visitor-1") == 4


def test_normal_turns_are_stored_exactly_as_rasas_own_store_does(tmp_path) -> None:
    counts = []
    for kind in (SQLTrackerStore, ForgettingSQLTrackerStore):
        store = kind(DOMAIN, dialect="sqlite", db=str(tmp_path / f"{kind.__name__}.db"))
        tracker = conversation("visitor-1")
        asyncio.run(store.save(tracker))
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered("and then?"))
        asyncio.run(store.save(tracker))
        restored = asyncio.run(store.retrieve("visitor-1"))
        counts.append(
            (rows(store, "visitor-1"), [e.text for e in restored.events if isinstance(e, UserUttered)])
        )
    assert counts[0] == counts[1]
    assert counts[1][1][-1] == "and then?"


def test_a_new_conversation_is_counted_once_and_its_words_are_not(tmp_path, counts_url) -> None:
    store = ForgettingSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    first = conversation("visitor-1")
    asyncio.run(store.save(first))
    first.update(ActionExecuted("action_listen"))
    first.update(UserUttered("and another message"))
    asyncio.run(store.save(first))  # a later turn of the same conversation
    asyncio.run(store.save(conversation("visitor-2")))
    counts.drain()  # counts are written in the background
    week = counts.week_start(datetime.now(UTC), therapist_timezone(settings.load()))
    assert [(c.metric, c.key, c.count) for c in counts.weekly(week, week, url=counts_url)] == [
        ("conversation", "", 2)
    ]
    assert WORDS.encode() not in (tmp_path / "haven.db").read_bytes()


def test_a_replaced_conversation_that_keeps_some_events_is_stored_as_given(tmp_path) -> None:
    """A replacement with fewer (but some) events: the old rows go and the given ones are stored, in
    one transaction."""
    store = ForgettingSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    asyncio.run(store.save(conversation("visitor-1")))
    kept = DialogueStateTracker.from_events("visitor-1", [ActionExecuted("action_session_start")])
    asyncio.run(store.save(kept))
    assert rows(store, "visitor-1") == 1
    restored = asyncio.run(store.retrieve("visitor-1"))
    assert [e.action_name for e in restored.events] == ["action_session_start"]


def test_sqlite_is_opened_pooled_in_wal_mode_and_stays_owner_only(tmp_path) -> None:
    """Rasa's own engine for SQLite opens a connection per session on a rollback journal with
    synchronous=FULL; this store's engine pools connections and writes a WAL (haven/db/session.py)."""
    import os
    import sqlite3
    import stat

    from sqlalchemy.pool import QueuePool

    path = tmp_path / "var" / "tracker.db"
    store = ForgettingSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))
    assert isinstance(store.engine.pool, QueuePool)
    asyncio.run(store.save(conversation("visitor-1")))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    plain = sqlite3.connect(str(path))
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()
    for file in path.parent.iterdir():
        assert stat.S_IMODE(os.stat(file).st_mode) & 0o077 == 0, file.name
    assert asyncio.run(store.retrieve("visitor-1")).latest_message.text == WORDS
