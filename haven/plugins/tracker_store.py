"""Rasa's SQL tracker store, able to forget a conversation, with one query less a turn and SQLite
opened the way the application database is.

Patches of Rasa 3.6's `SQLTrackerStore` (checked against 3.6.21), all in this class:

1. **Forgetting.** "Clear conversation" and "Quick exit" replace a conversation's events with none
   through Rasa's HTTP API (`PUT /conversations/<id>/tracker/events`). Rasa's store only ever appends
   the events it has not stored yet, so the replaced conversation stayed in the database (on the
   PostgreSQL store of a scale-out deployment too). `_additional_events`, which Rasa's `save` asks
   for the events to insert, notices a tracker shorter than what is stored — a replacement, never a
   normal turn, which only adds events — and deletes the stored rows in the same transaction as the
   inserts. It also counts a new conversation for the insights (haven/db/counts.py). Counting the
   stored rows once there replaces the second count the earlier version of this store made.
2. **SQLite engine.** Rasa opens SQLite through SQLAlchemy 1.4's default for files (`NullPool`: a new
   connection for each of the three or four sessions of a turn) on a rollback-journal file with
   `synchronous=FULL` (several fsyncs per commit). For SQLite this store swaps in
   `haven.db.session.sqlite_engine`: pooled connections, WAL, `synchronous=NORMAL`, a busy timeout —
   the same file and tables. PostgreSQL keeps Rasa's engine.

Load it with `type: haven.plugins.tracker_store.ForgettingSQLTrackerStore` (endpoints.yml,
deploy/endpoints.scale-out.yml).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Iterator

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import Session, sessionmaker

from haven.db import counts
from haven.db.session import sqlite_engine
from haven.ops import file_modes


class ForgettingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A SQLite file's folder (var/ on a fresh clone) may not exist yet; SQLite would not create it.
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db"):
            file_modes.private_sqlite_file(Path(kwargs["db"]))
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            self.engine = sqlite_engine(url, future=False)
            self.sessionmaker = sessionmaker(bind=self.engine)

    def _additional_events(self, session: Session, tracker: DialogueStateTracker) -> Iterator[Event]:
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        if len(tracker.events) < stored:
            session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == tracker.sender_id).delete(
                synchronize_session=False
            )
            return iter(tracker.events)  # everything that is left, usually nothing
        if not stored and tracker.events:
            counts.note("conversation")  # insights: a new conversation, counted, never read
        return itertools.islice(tracker.events, stored, len(tracker.events))
