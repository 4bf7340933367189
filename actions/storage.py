"""What the actions need around the database: the schema in place, and the visitor's time zone."""

from __future__ import annotations

import logging
from typing import Optional, Text
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rasa_sdk import Tracker
from sqlalchemy.exc import SQLAlchemyError

from haven.db import migrate
from haven.db.session import DatabaseUnavailable

logger = logging.getLogger(__name__)


def ensure_schema() -> None:
    """haven.db.migrate.ensure_schema (once per process, again later if the database was down at start)
    with a failure as DatabaseUnavailable, the one error the actions answer with "try again"."""
    try:
        migrate.ensure_schema()
    except Exception as error:  # any driver error means "not now": callers answer "try again"
        logger.warning("database schema not ready: %s", type(error).__name__)
        raise DatabaseUnavailable("the database could not be migrated") from error


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


#: What a visitor over a booking cap is told (kind, and a way on: the therapist can still be reached).
BOOKING_LIMIT_MESSAGE = (
    "It looks like there are already consultation requests waiting for you, so I haven't added another. "
    "The therapist will be in touch about the ones already sent. If something has changed, you can leave "
    "her a message instead."
)


def booking_limit_message(tracker: Tracker) -> Optional[Text]:
    """The kind refusal when this booking would pass a cap (issue 12.7), else None.

    Caps: open bookings per contact (HAVEN_BOOKING_LIMIT_PER_CONTACT, 2) and bookings one
    conversation makes in a day (HAVEN_BOOKING_LIMIT_PER_CLIENT, 3), so a script cannot take every
    free slot. A database that cannot be read lets the booking through (the save itself will say).
    """
    from datetime import UTC, datetime

    from haven import settings as settings_module
    from haven.db import repository

    settings = settings_module.load()
    try:
        ensure_schema()
        per_contact, per_client = repository.booking_counts(
            tracker.get_slot("booking_contact_method") or "",
            tracker.get_slot("booking_contact") or "",
            tracker.sender_id,
            datetime.now(UTC),
        )
    except (DatabaseUnavailable, SQLAlchemyError, ValueError) as error:
        logger.warning("booking caps not checked: %s", type(error).__name__)
        return None
    if settings.booking_limit_per_contact and per_contact >= settings.booking_limit_per_contact:
        return BOOKING_LIMIT_MESSAGE
    if settings.booking_limit_per_client and per_client >= settings.booking_limit_per_client:
        return BOOKING_LIMIT_MESSAGE
    return None
