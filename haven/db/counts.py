"""Weekly counts for the therapist's insights, written where the events happen.

Why a table of numbers: the insights page shows what visitors ask without keeping their words, so
the action server adds one to a (week, metric, key) row when it answers a topic, offers a "Did you
mean" or cannot answer, and the tracker store when a conversation starts.  A key is an identifier
(a topic id), never text a visitor typed: `note` refuses anything else.  Bookings, hand-offs and
safety events are rows of their own and are counted from those tables (website/insights.py).

`note` is the one call the actions make (one line each); it never raises, because a count must not
get between a visitor and her reply, and it does not wait for the database either: the write (about
2 ms on SQLite) happens on one background thread, in order, so a turn is not slowed by its count.
`drain` waits for the writes queued so far (tests, and a clean shutdown: the thread is joined at exit).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import List, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from haven import settings as settings_module
from haven.db import migrate
from haven.db.models import WeeklyCount
from haven.db.session import resolve_url, retrying, session_scope
from haven.services.availability import therapist_timezone

log = logging.getLogger(__name__)

#: What is counted here ("topic" carries the topic id as its key; the others have the key "").
METRICS = ("conversation", "topic", "did_you_mean", "could_not_answer")
_KEY = re.compile(r"^[a-z0-9_]{0,64}$")
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="haven-counts")


class Count(NamedTuple):
    week_start: date
    metric: str
    key: str
    count: int


def week_start(moment: datetime, zone: str) -> date:
    """The Monday of the moment's week in the therapist's time zone."""
    local = moment.astimezone(ZoneInfo(zone)).date()
    return local - timedelta(days=local.weekday())


def increment(metric: str, key: str = "", *, zone: str = "UTC", now: datetime | None = None,
              url: str | None = None) -> None:  # fmt: skip
    """Add one to this week's count (ValueError for an unknown metric or a key that is not an id)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError("key must be an identifier (lower-case letters, digits, _), never visitor text")
    week = week_start(now or datetime.now(UTC), zone)
    match = (WeeklyCount.week_start == week, WeeklyCount.metric == metric, WeeklyCount.key == key)

    def add() -> None:
        for _ in range(2):
            try:
                with session_scope(url) as session:
                    # Update first: the common case, and on SQLite a write lock taken at once.
                    changed = session.execute(
                        update(WeeklyCount).where(*match).values(count=WeeklyCount.count + 1)
                    ).rowcount
                    if not changed:
                        session.add(WeeklyCount(week_start=week, metric=metric, key=key, count=1))
                        session.flush()
                return
            except IntegrityError:
                continue  # another process inserted the row first: the update now finds it
        raise RuntimeError("could not add to the weekly count")

    retrying(add)


def note(metric: str, key: str = "", *, url: str | None = None) -> None:
    """Count one event (now, in the therapist's week) on the background writer; never raises.

    What to count, when and where is settled here, in the caller's thread; only the write waits."""
    try:
        settings = settings_module.load()
        url = resolve_url(url or settings.database_url)
        zone = therapist_timezone(settings)
        _writer.submit(_write, metric, key, zone, datetime.now(UTC), url)
    except Exception as error:  # noqa: BLE001 - a count never gets between a visitor and her reply
        log.warning("insights: could not queue a count of %s (%s)", metric, error.__class__.__name__)


def drain() -> None:
    """Wait until every count queued so far is written (or has failed and been logged)."""
    _writer.submit(lambda: None).result()


def _write(metric: str, key: str, zone: str, moment: datetime, url: str) -> None:
    try:
        migrate.ensure_schema(url)
        increment(metric, key, zone=zone, now=moment, url=url)
    except Exception as error:  # noqa: BLE001 - logged; the visitor's conversation goes on regardless
        log.warning("insights: could not count %s (%s)", metric, error.__class__.__name__)


def weekly(first_week: date, last_week: date, *, url: str | None = None) -> List[Count]:
    """Every count with first_week <= week_start <= last_week."""

    def read() -> List[Count]:
        with session_scope(url) as session:
            rows = session.execute(
                select(WeeklyCount).where(
                    WeeklyCount.week_start >= first_week, WeeklyCount.week_start <= last_week
                )
            ).scalars()
            return [Count(row.week_start, row.metric, row.key, row.count) for row in rows]

    return retrying(read)
