"""Rasa's SQL tracker store, able to forget a conversation.

"Clear conversation" and "Quick exit" replace a conversation's events with none through Rasa's HTTP
API (`PUT /conversations/<id>/tracker/events`). Rasa 3.6's SQLTrackerStore only ever appends the
events it has not stored yet, so on the PostgreSQL store of a scale-out deployment the replaced
conversation stayed in the database. This store notices a tracker shorter than what is stored — a
replacement, never a normal turn, which only adds events — and deletes the stored rows first.
Load it with `type: haven.tracker_store.ForgettingSQLTrackerStore` (deploy/endpoints.scale-out.yml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from haven import file_modes
from haven.db import counts


class ForgettingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A SQLite file's folder (var/ on a fresh clone) may not exist yet; SQLite would not create it.
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db"):
            file_modes.private_sqlite_file(Path(kwargs["db"]))
        super().__init__(*args, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            stored = self._event_query(
                session, tracker.sender_id, fetch_events_from_all_sessions=False
            ).count()
            if len(tracker.events) < stored:
                session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == tracker.sender_id).delete()
                session.commit()
            if not stored and tracker.events:
                counts.note("conversation")  # insights: a new conversation, counted, never read
        await super().save(tracker)
