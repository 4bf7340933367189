"""What the actions need around the database: the schema in place, and the visitor's time zone."""

from __future__ import annotations

import logging
import threading
from typing import Optional, Text
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rasa_sdk import Tracker

from haven.db import migrate
from haven.db.session import DatabaseUnavailable

logger = logging.getLogger(__name__)
_schema_ready = False
_lock = threading.Lock()


def ensure_schema() -> None:
    """Runs the migrations once per process, and again later if the database was down at start."""
    global _schema_ready
    if _schema_ready:
        return
    with _lock:
        if _schema_ready:
            return
        try:
            migrate.upgrade()
        except Exception as error:  # any driver error means "not now": callers answer "try again"
            logger.warning("database schema not ready: %s", type(error).__name__)
            raise DatabaseUnavailable("the database could not be migrated") from error
        _schema_ready = True


def visitor_timezone(tracker: Tracker) -> Optional[Text]:
    """The IANA time zone the widget reported in the message metadata, if it is a real one."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            name = (event.get("metadata") or {}).get("timezone")
            if isinstance(name, str) and 0 < len(name) <= 64:
                try:
                    ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    return None
                return name
            return tracker.get_slot("visitor_timezone")
    return tracker.get_slot("visitor_timezone")
