"""What visitors asked the FAQ, as counts (issue 15): outcome and nearest entry, words only if allowed.

Why: the therapist should see which questions her FAQ does not answer yet, without Haven keeping
visitors' words. A row holds the outcome ("answered", "did_you_mean", "unmatched"), the nearest entry
id and the similarity; the question's text only when she turns HAVEN_FAQ_KEEP_QUESTIONS on, and then
only for the conversation retention period (HAVEN_RETAIN_CONVERSATIONS_DAYS): every write and every
read of the staff page first clears older texts, and `make purge` compacts the file afterwards.

`note` is what the action calls: it never raises and never waits for the database (one background
thread, like haven/db/counts.py), because a count must not get between a visitor and her reply.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import List, Optional

from sqlalchemy import func, select, update

from haven import settings as settings_module
from haven.db import migrate
from haven.db.models import FAQ_OUTCOMES, FaqQuestion
from haven.db.session import resolve_url, retrying, session_scope

log = logging.getLogger(__name__)

MAX_TEXT = 1000
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="haven-faq-questions")


@dataclass(frozen=True)
class Tally:
    outcome: str
    entry_id: Optional[str]
    count: int


@dataclass(frozen=True)
class KeptQuestion:
    created_at: datetime
    outcome: str
    entry_id: Optional[str]
    score: int
    text: str


def record(outcome: str, entry_id: Optional[str], score: float, text: Optional[str] = None, *,
           url: Optional[str] = None, now: Optional[datetime] = None,
           retain_days: Optional[int] = None) -> None:  # fmt: skip
    """Write one row now (ValueError for an unknown outcome); clears expired texts first."""
    if outcome not in FAQ_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(FAQ_OUTCOMES)}; got {outcome!r}")
    now = now or datetime.now(UTC)

    def write() -> None:
        with session_scope(url) as session:
            if retain_days is not None:
                _clear_expired(session, now - timedelta(days=retain_days))
            session.add(
                FaqQuestion(
                    created_at=now,
                    outcome=outcome,
                    entry_id=entry_id,
                    score=int(round(max(-1.0, min(1.0, score)) * 100)),
                    question_text=(text or "")[:MAX_TEXT] or None,
                )
            )

    retrying(write)


def _clear_expired(session, cutoff: datetime) -> int:
    result = session.execute(
        update(FaqQuestion)
        .where(FaqQuestion.question_text.isnot(None), FaqQuestion.created_at < cutoff)
        .values(question_text=None)
    )
    return result.rowcount or 0


def clear_expired(retain_days: int, *, url: Optional[str] = None, now: Optional[datetime] = None) -> int:
    """Clear the texts older than the retention period; returns how many were cleared."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retain_days)

    def change() -> int:
        with session_scope(url) as session:
            return _clear_expired(session, cutoff)

    return retrying(change)


def note(outcome: str, entry_id: Optional[str], score: float, text: Optional[str] = None) -> None:
    """Count one question on the background writer; the text is kept only if HAVEN_FAQ_KEEP_QUESTIONS."""
    try:
        settings = settings_module.load()
        url = resolve_url(settings.database_url)
        kept = text if settings.faq_keep_questions else None
        _writer.submit(_write, outcome, entry_id, score, kept, url, settings.retain_conversation_days)
    except Exception as error:  # noqa: BLE001 - a count never gets between a visitor and her reply
        log.warning("faq: could not queue a question count (%s)", error.__class__.__name__)


def drain() -> None:
    """Wait until every row queued so far is written (tests)."""
    _writer.submit(lambda: None).result()


def _write(outcome, entry_id, score, text, url, retain_days) -> None:
    try:
        migrate.ensure_schema(url)  # the process-wide lock every migration takes (Alembic is not thread-safe)
        record(outcome, entry_id, score, text, url=url, retain_days=retain_days)
    except Exception as error:  # noqa: BLE001 - logged; the conversation goes on regardless
        log.warning("faq: could not count a question (%s)", error.__class__.__name__)


def tallies(since: datetime, *, url: Optional[str] = None) -> List[Tally]:
    """(outcome, nearest entry) -> count since `since`, largest first."""

    def read() -> List[Tally]:
        with session_scope(url) as session:
            rows = session.execute(
                select(FaqQuestion.outcome, FaqQuestion.entry_id, func.count())
                .where(FaqQuestion.created_at >= since)
                .group_by(FaqQuestion.outcome, FaqQuestion.entry_id)
            ).all()
        return sorted(
            (Tally(o, e, n) for o, e, n in rows), key=lambda t: (-t.count, t.outcome, t.entry_id or "")
        )

    return retrying(read)


def kept_questions(retain_days: int, *, limit: int = 50, url: Optional[str] = None) -> List[KeptQuestion]:
    """The newest questions whose text was kept (unmatched or "Did you mean" first), after clearing
    the expired ones, so an expired text is never shown."""
    clear_expired(retain_days, url=url)

    def read() -> List[KeptQuestion]:
        with session_scope(url) as session:
            rows = session.execute(
                select(FaqQuestion)
                .where(FaqQuestion.question_text.isnot(None), FaqQuestion.outcome != "answered")
                .order_by(FaqQuestion.created_at.desc())
                .limit(limit)
            ).scalars()
            return [KeptQuestion(r.created_at, r.outcome, r.entry_id, r.score, r.question_text) for r in rows]

    return retrying(read)
