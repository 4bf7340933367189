"""ORM models of the application database.

The schema itself is created by the Alembic migrations in migrations/versions (hand-written, so
SQLite and PostgreSQL get the same tables); these classes must stay in step with them, which
tests/db checks by comparing the two.  Only haven.db.repository uses these classes.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

Base = declarative_base()

CONTACT_METHODS = ("email", "phone")
BOOKING_STATUSES = ("requested", "confirmed", "cancelled")
SAFETY_CATEGORIES = ("suicide", "self_harm", "danger")
SAFETY_SUBJECTS = ("self", "other")
# "crisis": the full crisis reply was sent; "check_in": Haven asked directly whether the visitor is at risk.
SAFETY_TIERS = ("crisis", "check_in")

#: Reference codes are read aloud and typed from an e-mail: no 0/O, 1/I/L or U/V look-alikes.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
REFERENCE_LENGTH = 6
BOOKING_PREFIX = "HV"
HANDOFF_PREFIX = "HR"


def new_reference(prefix: str = BOOKING_PREFIX) -> str:
    """A random code like HV-7K3Q9P (29**6, about 6e8 possibilities; uniqueness is enforced by the DB)."""
    return f"{prefix}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL stores TIMESTAMP WITH TIME ZONE; SQLite has no zones, so values are normalised to
    UTC before they are written (equal instants give equal text, which the unique slot index and
    range queries rely on) and come back tagged as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the database; pass a timezone-aware (UTC) datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Booking(Base):
    """A request for the free 15-minute consultation."""

    __tablename__ = "bookings"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    name = Column(String(80), nullable=False)
    contact_method = Column(String(10), nullable=False)
    contact = Column(String(254), nullable=False)
    slot_start = Column(UTCDateTime(), nullable=True)
    time_preference = Column(String(200), nullable=True)
    timezone = Column(String(64), nullable=False)
    consent = Column(Boolean(create_constraint=False), nullable=False)
    status = Column(String(16), nullable=False, default="requested")
    conversation_id = Column(String(255), nullable=True)
    handled_at = Column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("reference", name="uq_bookings_reference"),
        CheckConstraint(_in("contact_method", CONTACT_METHODS), name="ck_bookings_contact_method"),
        CheckConstraint(_in("status", BOOKING_STATUSES), name="ck_bookings_status"),
        CheckConstraint("consent", name="ck_bookings_consent"),
        CheckConstraint("slot_start IS NOT NULL OR time_preference IS NOT NULL", name="ck_bookings_when"),
        Index("ix_bookings_created_at", "created_at"),
        # The guarantee that one slot is never booked twice, even by racing processes.
        Index(
            "uq_bookings_active_slot",
            "slot_start",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
    )


class HandoffRequest(Base):
    """A message for the therapist (the visitor asked for a real person)."""

    __tablename__ = "handoff_requests"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    name = Column(String(80), nullable=False)
    contact_method = Column(String(10), nullable=False)
    contact = Column(String(254), nullable=False)
    message = Column(Text, nullable=True)
    transcript = Column(Text, nullable=True)
    transcript_consent = Column(Boolean(create_constraint=False), nullable=False, default=False)
    conversation_id = Column(String(255), nullable=True)
    handled_at = Column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("reference", name="uq_handoff_requests_reference"),
        CheckConstraint(_in("contact_method", CONTACT_METHODS), name="ck_handoff_requests_contact_method"),
        CheckConstraint(
            "transcript IS NULL OR transcript_consent", name="ck_handoff_requests_transcript_consent"
        ),
        Index("ix_handoff_requests_created_at", "created_at"),
    )


class SafetyEvent(Base):
    """A crisis message was detected (stored so staff can review; the text only when configured)."""

    __tablename__ = "safety_events"

    id = Column(Integer, primary_key=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    conversation_id = Column(String(255), nullable=True)
    category = Column(String(16), nullable=False)
    subject = Column(String(8), nullable=False)
    rule = Column(String(100), nullable=False)
    tier = Column(String(16), nullable=False, default="crisis", server_default="crisis")
    message_text = Column(Text, nullable=True)
    handled_at = Column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint(_in("category", SAFETY_CATEGORIES), name="ck_safety_events_category"),
        CheckConstraint(_in("subject", SAFETY_SUBJECTS), name="ck_safety_events_subject"),
        CheckConstraint(_in("tier", SAFETY_TIERS), name="ck_safety_events_tier"),
        Index("ix_safety_events_created_at", "created_at"),
    )


class WeeklyCount(Base):
    """How often something happened in a week (the therapist's insights): a number, never words.

    metric: "topic" (key: the topic id answered), "did_you_mean", "could_not_answer", "conversation"
    (key: "" for the plain counts).  Written only by haven.db.counts.
    """

    __tablename__ = "weekly_counts"

    week_start = Column(Date, nullable=False)
    metric = Column(String(32), nullable=False)
    key = Column(String(64), nullable=False)
    count = Column(Integer, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("week_start", "metric", "key", name="pk_weekly_counts"),
        CheckConstraint("count >= 0", name="ck_weekly_counts_count"),
    )


#: What a sign-in attempt came to (haven.db.staff_accounts); the log never holds the password.
SIGNIN_RESULTS = ("ok", "wrong", "unknown", "locked", "throttled")


class StaffAccount(Base):
    """A staff account (today only the therapist's): the argon2id hash and its lockout state."""

    __tablename__ = "staff_accounts"

    username = Column(String(64), primary_key=True)
    password_hash = Column(String(255), nullable=False)
    password_changed_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    failed_count = Column(Integer, nullable=False, default=0, server_default="0")
    lockouts = Column(Integer, nullable=False, default=0, server_default="0")
    locked_until = Column(UTCDateTime(), nullable=True)


class StaffSession(Base):
    """A signed-in browser, keyed by the SHA-256 of its cookie value (the value itself is not stored)."""

    __tablename__ = "staff_sessions"

    id_hash = Column(String(64), primary_key=True)
    username = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    last_seen_at = Column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_staff_sessions_username", "username"),)


class StaffSignin(Base):
    """One sign-in attempt: time, username, result, client address. Kept 90 days."""

    __tablename__ = "staff_signins"

    id = Column(Integer, primary_key=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    username = Column(String(64), nullable=False)
    result = Column(String(16), nullable=False)
    client = Column(String(64), nullable=False)

    __table_args__ = (
        Index("ix_staff_signins_created_at", "created_at"),
        Index("ix_staff_signins_client", "client", "created_at"),
    )


FAQ_OUTCOMES = ("answered", "did_you_mean", "unmatched")


class FaqQuestion(Base):
    """One question the FAQ matcher saw (issue 15): the outcome and the nearest entry, for the staff FAQ
    page's counts. `question_text` stays empty unless HAVEN_FAQ_KEEP_QUESTIONS is on, and is cleared
    once older than the conversation retention period. Written only by haven.db.faq_questions."""

    __tablename__ = "faq_questions"

    id = Column(Integer, primary_key=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    outcome = Column(String(16), nullable=False)
    entry_id = Column(String(40), nullable=True)
    score = Column(Integer, nullable=False, default=0)  # similarity x 100, rounded
    question_text = Column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint(_in("outcome", FAQ_OUTCOMES), name="ck_faq_questions_outcome"),
        Index("ix_faq_questions_created_at", "created_at"),
    )
