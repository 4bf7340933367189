"""The only way into the application database for the rest of Haven.

Inputs are validated here (raising ValueError with a message meant for developers), every
operation is retried on transient errors (then DatabaseUnavailable), and results are plain
frozen dataclasses that stay usable after the session is gone.  Every function takes an
optional `url`; without it the URL comes from haven.settings.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Dict, List, Set
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from haven.db.models import (
    BOOKING_PREFIX,
    BOOKING_STATUSES,
    CONTACT_METHODS,
    HANDOFF_PREFIX,
    SAFETY_CATEGORIES,
    SAFETY_SUBJECTS,
    SAFETY_TIERS,
    Booking,
    HandoffRequest,
    SafetyEvent,
    new_reference,
    utcnow,
)
from haven.db.session import DatabaseUnavailable, retrying, session_scope
from haven.text import EMAIL

__all__ = [
    "BookingRecord",
    "DatabaseUnavailable",
    "HandoffRecord",
    "SafetyEventRecord",
    "SlotTaken",
    "booked_slots",
    "create_booking",
    "create_handoff",
    "get_booking",
    "get_handoff",
    "list_bookings",
    "list_handoffs",
    "list_safety_events",
    "mark_handled",
    "normalize_contact",
    "record_safety_event",
    "set_booking_status",
]

MAX_NAME = 80
MAX_CONTACT = 254
MAX_MESSAGE = 4000
MAX_TRANSCRIPT = 100_000
MAX_TIME_PREFERENCE = 200
MAX_TIMEZONE = 64
MAX_CONVERSATION_ID = 255
MAX_RULE = 100
DEFAULT_LIST_LIMIT = 500
MAX_ID = 2**63 - 1
_REFERENCE_ATTEMPTS = 5


class SlotTaken(Exception):
    """The requested slot already has an active (not cancelled) booking."""

    def __init__(self, slot_start: datetime):
        super().__init__(f"slot {slot_start.isoformat()} is already booked")
        self.slot_start = slot_start


class _ReferenceTaken(Exception):
    """A freshly drawn reference collided with an existing one (rare): draw another."""


# --------------------------------------------------------------------------- records


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Record:
    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings with +00:00."""
        return {
            key: _iso(value) if isinstance(value, datetime) else value for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class BookingRecord(_Record):
    id: int
    reference: str
    created_at: datetime
    name: str
    contact_method: str
    contact: str
    slot_start: datetime | None
    time_preference: str | None
    timezone: str
    consent: bool
    status: str
    conversation_id: str | None
    handled_at: datetime | None


@dataclass(frozen=True)
class HandoffRecord(_Record):
    id: int
    reference: str
    created_at: datetime
    name: str
    contact_method: str
    contact: str
    message: str | None
    transcript: str | None
    transcript_consent: bool
    conversation_id: str | None
    handled_at: datetime | None


@dataclass(frozen=True)
class SafetyEventRecord(_Record):
    id: int
    created_at: datetime
    conversation_id: str | None
    category: str
    subject: str
    rule: str
    tier: str
    message_text: str | None
    handled_at: datetime | None


def _booking(row: Booking) -> BookingRecord:
    return BookingRecord(**{f: getattr(row, f) for f in BookingRecord.__dataclass_fields__})


def _handoff(row: HandoffRequest) -> HandoffRecord:
    return HandoffRecord(**{f: getattr(row, f) for f in HandoffRecord.__dataclass_fields__})


def _safety(row: SafetyEvent) -> SafetyEventRecord:
    return SafetyEventRecord(**{f: getattr(row, f) for f in SafetyEventRecord.__dataclass_fields__})


# --------------------------------------------------------------------------- validation

_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text(field: str, value: Any, limit: int, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValueError(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        if required:
            raise ValueError(f"{field} must not be empty")
        return None
    if len(value) > limit:
        raise ValueError(f"{field} is too long ({len(value)} characters, at most {limit})")
    if _UNSTORABLE.search(value):
        # Lone surrogates cannot be encoded (SQLite and PostgreSQL both fail); control characters
        # other than tab and line breaks never belong in what a person typed (haven/text.py cleans them).
        raise ValueError(f"{field} contains a control character or an unpaired surrogate")
    return value


def _choice(field: str, value: Any, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be True or False, got {value!r}")
    return value


def _aware_utc(field: str, value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{field} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware (UTC), got the naive {value.isoformat()}")
    return value.astimezone(UTC)


def normalize_contact(method: str, contact: Any) -> str:
    """The contact as it will be stored, or ValueError: the action server can check early with it.

    Deliberately lenient (a person will read it): an e-mail needs one @ and a dot in the domain;
    a phone number may use + ( ) . / - and spaces around 6 to 20 digits.
    """
    method = _choice("contact_method", method, CONTACT_METHODS)
    contact = _text("contact", contact, MAX_CONTACT, required=True)
    if method == "email":
        if not EMAIL.match(contact):
            raise ValueError("contact does not look like an e-mail address (expected name@domain.tld)")
        return contact
    digits = sum(ch.isdigit() for ch in contact)
    if not _PHONE_CHARS.match(contact) or not 6 <= digits <= 20:
        raise ValueError(
            "contact does not look like a phone number (6-20 digits, optionally + ( ) - . / spaces)"
        )
    return " ".join(contact.split())


def _timezone_name(value: Any) -> str:
    name = _text("timezone", value, MAX_TIMEZONE, required=True)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"timezone must be an IANA time zone name like America/New_York, got {name!r}"
        ) from error
    return name


def _slot(value: Any) -> datetime | None:
    if value is None:
        return None
    value = _aware_utc("slot_start", value)
    if value.second or value.microsecond:
        raise ValueError(f"slot_start must be on a whole minute, got {value.isoformat()}")
    return value


def _sender(name: Any, contact_method: Any, contact: Any) -> Dict[str, str]:
    """Who a booking or a hand-off is from, checked the same way for both (they are read the same way)."""
    return dict(
        name=_text("name", name, MAX_NAME, required=True),
        contact_method=_choice("contact_method", contact_method, CONTACT_METHODS),
        contact=normalize_contact(contact_method, contact),
    )


def _conversation_id(value: Any) -> str | None:
    return _text("conversation_id", value, MAX_CONVERSATION_ID, required=False)


def _violates(error: IntegrityError, constraint: str, column: str) -> bool:
    """Whether an IntegrityError came from this constraint (PostgreSQL names it, SQLite names the column)."""
    diag = getattr(error.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return name == constraint
    text = str(error.orig)
    return constraint in text or column in text


# --------------------------------------------------------------------------- bookings


def create_booking(
    *,
    name: str,
    contact_method: str,
    contact: str,
    timezone: str,
    consent: bool,
    slot_start: datetime | None = None,
    time_preference: str | None = None,
    conversation_id: str | None = None,
    status: str = "requested",
    url: str | None = None,
) -> BookingRecord:
    """Store a consultation booking; SlotTaken when the slot already has an active booking.

    The database's partial unique index decides races, so two processes can never both get a slot.
    """
    if consent is not True:
        raise ValueError("consent must be True: a booking is only stored with the visitor's consent")
    values = dict(
        **_sender(name, contact_method, contact),
        slot_start=_slot(slot_start),
        time_preference=_text("time_preference", time_preference, MAX_TIME_PREFERENCE, required=False),
        timezone=_timezone_name(timezone),
        consent=True,
        status=_choice("status", status, ("requested", "confirmed")),
        conversation_id=_conversation_id(conversation_id),
    )
    if values["slot_start"] is None and values["time_preference"] is None:
        raise ValueError("either slot_start or time_preference is required")
    return _insert_request(Booking, _booking, BOOKING_PREFIX, values, url)


def _insert_request(model, convert, prefix: str, values: Dict[str, Any], url: str | None):
    """Store a visitor's request (a Booking or a HandoffRequest) under a fresh reference.

    One copy because the two differ only in their table: the same reference constraint
    (uq_<table>_reference), the same retries, the same record back. A conflict on a booking's
    active-slot index becomes SlotTaken (hand-offs have no such index).
    """
    table = model.__tablename__

    def insert(reference: str):
        try:
            with session_scope(url) as session:
                row = model(reference=reference, created_at=utcnow(), **values)
                session.add(row)
                session.flush()
                return convert(row)
        except IntegrityError as error:
            if _violates(error, f"uq_{table}_reference", f"{table}.reference"):
                raise _ReferenceTaken() from error
            if model is Booking and _violates(error, "uq_bookings_active_slot", "bookings.slot_start"):
                raise SlotTaken(values["slot_start"]) from error
            raise

    return _insert_with_reference(prefix, insert, lambda ref: _get(model, convert, ref, url), values)


def _insert_with_reference(prefix, insert, fetch, values):
    """Run insert(reference) with retries, drawing a new reference on a (rare) collision.

    A retry after a lost connection may find that the first attempt did commit: the row then
    carries our reference (a reference or slot conflict with ourselves) and is returned as is.
    """
    for _ in range(_REFERENCE_ATTEMPTS):
        reference = new_reference(prefix)
        try:
            return retrying(lambda reference=reference: insert(reference))
        except (_ReferenceTaken, SlotTaken):
            existing = fetch(reference)
            if (
                existing is not None
                and existing.conversation_id == values.get("conversation_id")
                and (existing.contact == values["contact"])
            ):
                return existing
            if existing is None:
                raise  # a genuine SlotTaken (a _ReferenceTaken always has an existing row)
    raise RuntimeError(f"could not draw an unused {prefix} reference in {_REFERENCE_ATTEMPTS} tries")


def _normalize_reference(reference: Any) -> str:
    if not isinstance(reference, str):
        raise ValueError(f"reference must be a string, got {type(reference).__name__}")
    return reference.strip().upper()


def get_booking(reference: str, *, url: str | None = None) -> BookingRecord | None:
    """The booking with this reference (case-insensitive), or None."""
    return _get(Booking, _booking, reference, url)


def _get(model, convert, reference: Any, url: str | None):
    """The row of a table with references (bookings, hand-off requests) as its record, or None."""
    reference = _normalize_reference(reference)

    def read():
        with session_scope(url) as session:
            row = session.execute(select(model).where(model.reference == reference)).scalar_one_or_none()
            return convert(row) if row is not None else None

    return retrying(read)


def set_booking_status(reference: str, status: str, *, url: str | None = None) -> BookingRecord | None:
    """Confirm or cancel a booking (cancelling frees its slot); None when no such booking.

    SlotTaken if a cancelled booking is revived while someone else holds its slot.
    """
    reference = _normalize_reference(reference)
    status = _choice("status", status, BOOKING_STATUSES)

    def change():
        try:
            with session_scope(url) as session:
                # Write first: on SQLite a read-then-write transaction cannot wait for the lock.
                changed = session.execute(
                    update(Booking).where(Booking.reference == reference).values(status=status)
                ).rowcount
                if not changed:
                    return None
                row = session.execute(select(Booking).where(Booking.reference == reference)).scalar_one()
                return _booking(row)
        except IntegrityError as error:
            if _violates(error, "uq_bookings_active_slot", "bookings.slot_start"):
                raise SlotTaken(get_booking(reference, url=url).slot_start) from error
            raise

    return retrying(change)


def booked_slots(start: datetime, end: datetime, *, url: str | None = None) -> Set[datetime]:
    """Starts (UTC) of the active bookings with start <= slot_start < end, for availability."""
    start = _aware_utc("start", start)
    end = _aware_utc("end", end)

    def read():
        with session_scope(url) as session:
            rows = session.execute(
                select(Booking.slot_start).where(
                    Booking.slot_start.is_not(None),
                    Booking.slot_start >= start,
                    Booking.slot_start < end,
                    Booking.status != "cancelled",
                )
            ).scalars()
            return set(rows)

    return retrying(read)


def booking_counts(
    contact_method: str, contact: str, conversation_id: str | None, now: datetime, *, url: str | None = None
) -> tuple[int, int]:
    """(open bookings for this contact, bookings this conversation made in the last 24 hours).

    Open: not cancelled, not yet handled by the therapist, and its slot (if any) still to come. For
    the per-contact and per-client caps (HAVEN_BOOKING_LIMIT_PER_CONTACT / _PER_CLIENT, issue 12.7).
    """
    now = _aware_utc("now", now)
    normalized = normalize_contact(contact_method, contact)

    def read() -> tuple[int, int]:
        with session_scope(url) as session:
            open_for_contact = session.scalar(
                select(func.count()).where(
                    func.lower(Booking.contact) == normalized.lower(),
                    Booking.status != "cancelled",
                    Booking.handled_at.is_(None),
                    or_(Booking.slot_start.is_(None), Booking.slot_start >= now),
                )
            )
            recent = 0
            if conversation_id:
                recent = session.scalar(
                    select(func.count()).where(
                        Booking.conversation_id == conversation_id,
                        Booking.created_at >= now - timedelta(days=1),
                    )
                )
            return int(open_for_contact or 0), int(recent or 0)

    return retrying(read)


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive whole number or None, got {limit!r}")
    return limit


def _list(model, convert, limit, unhandled_only, url):
    limit = _limit(limit)

    def read():
        with session_scope(url) as session:
            query = select(model).order_by(model.created_at.desc(), model.id.desc())
            if unhandled_only:
                query = query.where(model.handled_at.is_(None))
            if limit is not None:
                query = query.limit(limit)
            return [convert(row) for row in session.execute(query).scalars()]

    return retrying(read)


def list_bookings(
    *, limit: int | None = DEFAULT_LIST_LIMIT, unhandled_only: bool = False, url: str | None = None
) -> List[BookingRecord]:
    """Bookings, newest first."""
    return _list(Booking, _booking, limit, unhandled_only, url)


def list_handoffs(
    *, limit: int | None = DEFAULT_LIST_LIMIT, unhandled_only: bool = False, url: str | None = None
) -> List[HandoffRecord]:
    """Hand-off requests, newest first."""
    return _list(HandoffRequest, _handoff, limit, unhandled_only, url)


def list_safety_events(
    *, limit: int | None = DEFAULT_LIST_LIMIT, unhandled_only: bool = False, url: str | None = None
) -> List[SafetyEventRecord]:
    """Safety events, newest first."""
    return _list(SafetyEvent, _safety, limit, unhandled_only, url)


# --------------------------------------------------------------------------- hand-offs


def create_handoff(
    *,
    name: str,
    contact_method: str,
    contact: str,
    message: str | None = None,
    transcript: str | None = None,
    transcript_consent: bool = False,
    conversation_id: str | None = None,
    url: str | None = None,
) -> HandoffRecord:
    """Store a message for the therapist; the transcript only with the visitor's consent."""
    transcript_consent = _bool("transcript_consent", transcript_consent)
    values = dict(
        **_sender(name, contact_method, contact),
        message=_text("message", message, MAX_MESSAGE, required=False),
        transcript=_text("transcript", transcript, MAX_TRANSCRIPT, required=False),
        transcript_consent=transcript_consent,
        conversation_id=_conversation_id(conversation_id),
    )
    if values["transcript"] is not None and not transcript_consent:
        raise ValueError("transcript given without transcript_consent=True; drop it or ask the visitor first")
    return _insert_request(HandoffRequest, _handoff, HANDOFF_PREFIX, values, url)


def get_handoff(reference: str, *, url: str | None = None) -> HandoffRecord | None:
    """The hand-off request with this reference (case-insensitive), or None."""
    return _get(HandoffRequest, _handoff, reference, url)


# --------------------------------------------------------------------------- safety events


def record_safety_event(
    *,
    category: str,
    subject: str,
    rule: str,
    tier: str = "crisis",
    conversation_id: str | None = None,
    message_text: str | None = None,
    url: str | None = None,
) -> SafetyEventRecord:
    """Log a detected crisis message.  Callers must still send the crisis reply if this raises.

    `rule` says what fired (`rule:<pattern id>`, `model:<score>`, `classifier`, `check_in:yes`),
    `tier` which reply was sent: the full crisis reply or a check-in question."""
    values = dict(
        category=_choice("category", category, SAFETY_CATEGORIES),
        subject=_choice("subject", subject, SAFETY_SUBJECTS),
        rule=_text("rule", rule, MAX_RULE, required=True),
        tier=_choice("tier", tier, SAFETY_TIERS),
        conversation_id=_conversation_id(conversation_id),
        message_text=_text("message_text", message_text, MAX_MESSAGE, required=False),
    )

    def insert():
        with session_scope(url) as session:
            row = SafetyEvent(created_at=utcnow(), **values)
            session.add(row)
            session.flush()
            return _safety(row)

    return retrying(insert)


# --------------------------------------------------------------------------- staff


_KINDS = {
    "booking": Booking,
    "bookings": Booking,
    "handoff": HandoffRequest,
    "handoffs": HandoffRequest,
    "handoff_request": HandoffRequest,
    "safety_event": SafetyEvent,
    "safety_events": SafetyEvent,
    "safety-events": SafetyEvent,
}


def mark_handled(kind: str, id: int, *, url: str | None = None) -> bool:
    """Mark one item as handled by staff (idempotent: the first time is kept); False if no such id.

    kind: "booking", "handoff" or "safety_event" (the plural API names are accepted too).
    """
    model = _KINDS.get(kind)
    if model is None:
        raise ValueError(f"kind must be one of booking, handoff, safety_event; got {kind!r}")
    if not isinstance(id, int) or isinstance(id, bool):
        raise ValueError(f"id must be a whole number, got {id!r}")
    if not 0 < id <= MAX_ID:
        return False  # no row has it; SQLite and PostgreSQL would fail on ids past 64 bits

    def change():
        with session_scope(url) as session:
            # Write first: on SQLite a read-then-write transaction cannot wait for the lock.
            changed = session.execute(
                update(model).where(model.id == id, model.handled_at.is_(None)).values(handled_at=utcnow())
            ).rowcount
            if changed:
                return True
            return session.execute(select(model.id).where(model.id == id)).scalar_one_or_none() is not None

    return retrying(change)
