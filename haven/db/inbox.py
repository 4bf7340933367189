"""The staff inbox's reads and writes: pages of items with open ones first, true counts, bulk
"mark handled" with undo, and the rows the insights count.

Why a module of its own: haven.db.repository is what the action server writes through; the inbox
needs the therapist's views of the same tables (counts from the database, not from listed rows;
pagination; undo), and keeping them here keeps each module to one concern.  Results are
repository's frozen records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Dict, Iterable, List, NamedTuple, Tuple

from sqlalchemy import case, func, select, update

from haven.db import repository
from haven.db.models import Booking, HandoffRequest, SafetyEvent, utcnow
from haven.db.session import retrying, session_scope

#: URL name -> (model, record converter).
KINDS = {
    "bookings": (Booking, repository._booking),
    "handoffs": (HandoffRequest, repository._handoff),
    "safety-events": (SafetyEvent, repository._safety),
}
MAX_PAGE = 200
MAX_BULK = 500


class Counts(NamedTuple):
    open: int
    total: int


def _model(kind: str):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind]


def _ids(ids: Iterable[int]) -> List[int]:
    clean = sorted(
        {i for i in ids if isinstance(i, int) and not isinstance(i, bool) and 0 < i <= repository.MAX_ID}
    )
    if len(clean) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} items at once")
    return clean


def counts(kind: str, *, url: str | None = None) -> Counts:
    """How many items are open (not handled) and how many there are in all, counted by the database."""
    model, _ = _model(kind)

    def read() -> Counts:
        with session_scope(url) as session:
            total, open_ = session.execute(
                select(func.count(model.id), func.count(case((model.handled_at.is_(None), 1))))
            ).one()
            return Counts(open=int(open_ or 0), total=int(total or 0))

    return retrying(read)


def page(
    kind: str, *, offset: int = 0, limit: int = 20, open_only: bool = False, url: str | None = None
) -> list:
    """One page of items: open ones first, then handled; newest first within each."""
    model, convert = _model(kind)
    if not isinstance(offset, int) or offset < 0:
        raise ValueError("offset must be 0 or more")
    if not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}")

    def read() -> list:
        with session_scope(url) as session:
            query = select(model).order_by(
                case((model.handled_at.is_(None), 0), else_=1), model.created_at.desc(), model.id.desc()
            )
            if open_only:
                query = query.where(model.handled_at.is_(None))
            rows = session.execute(query.offset(offset).limit(limit)).scalars()
            return [convert(row) for row in rows]

    return retrying(read)


def with_safety_events(conversation_ids: Iterable[str | None], *, url: str | None = None) -> frozenset:
    """Which of these conversations also have a safety event (crisis resources shown or a check-in asked).

    Why: a message for the therapist or a booking may come from a visitor who was just given the crisis
    lines ("Send what I wrote", actions/handoff.py); the inbox marks such cards so she reads them first."""
    wanted = sorted({c for c in conversation_ids if isinstance(c, str) and c})[:MAX_BULK]
    if not wanted:
        return frozenset()

    def read() -> frozenset:
        with session_scope(url) as session:
            query = select(SafetyEvent.conversation_id).where(SafetyEvent.conversation_id.in_(wanted))
            return frozenset(session.execute(query.distinct()).scalars())

    return retrying(read)


def get(kind: str, item_id: int, *, url: str | None = None):
    """One item by id, or None."""
    model, convert = _model(kind)
    if not isinstance(item_id, int) or not 0 < item_id <= repository.MAX_ID:
        return None

    def read():
        with session_scope(url) as session:
            row = session.get(model, item_id)
            return convert(row) if row is not None else None

    return retrying(read)


def mark_handled(
    kind: str, ids: Iterable[int], *, url: str | None = None
) -> Tuple[List[int], datetime | None]:
    """Mark the open ones among `ids` handled, all with one time stamp; returns (those ids, the stamp).

    Items already handled keep their first time and are not returned, so an undo cannot reopen them.
    """
    model, _ = _model(kind)
    wanted = _ids(ids)
    if not wanted:
        return [], None
    stamp = utcnow()

    def change() -> List[int]:
        with session_scope(url) as session:
            session.execute(
                update(model)
                .where(model.id.in_(wanted), model.handled_at.is_(None))
                .values(handled_at=stamp)
                .execution_options(synchronize_session=False)
            )
            changed = session.execute(
                select(model.id).where(model.id.in_(wanted), model.handled_at == stamp)
            ).scalars()
            return sorted(changed)

    changed = retrying(change)
    return changed, (stamp if changed else None)


def undo_handled(kind: str, ids: Iterable[int], stamp: datetime, *, url: str | None = None) -> int:
    """Reopen the items that `mark_handled` closed at exactly `stamp` (nothing handled at another time)."""
    model, _ = _model(kind)
    wanted = _ids(ids)
    if not wanted:
        return 0

    def change() -> int:
        with session_scope(url) as session:
            return session.execute(
                update(model)
                .where(model.id.in_(wanted), model.handled_at == stamp)
                .values(handled_at=None)
                .execution_options(synchronize_session=False)
            ).rowcount

    return retrying(change)


class Happened(NamedTuple):
    kind: str  # "bookings", "handoffs", "safety-events"
    created_at: datetime
    category: str | None = None  # safety events only
    tier: str | None = None


def happened_between(start: datetime, end: datetime, *, url: str | None = None) -> List[Happened]:
    """When each booking, hand-off and safety event of [start, end) happened: times and categories only."""

    def read() -> List[Happened]:
        out: List[Happened] = []
        with session_scope(url) as session:
            for kind, model in (("bookings", Booking), ("handoffs", HandoffRequest)):
                query = select(model.created_at).where(model.created_at >= start, model.created_at < end)
                out += [Happened(kind, moment) for moment in session.execute(query).scalars()]
            query = select(SafetyEvent.created_at, SafetyEvent.category, SafetyEvent.tier).where(
                SafetyEvent.created_at >= start, SafetyEvent.created_at < end
            )
            out += [Happened("safety-events", *row) for row in session.execute(query).all()]
        return out

    return retrying(read)


def all_counts(*, url: str | None = None) -> Dict[str, Counts]:
    return {kind: counts(kind, url=url) for kind in KINDS}
