"""The inbox's queries and the weekly counts on SQLite and PostgreSQL: true counts, open items first,
bulk handled with an exact-stamp undo, and increments that lose nothing under concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from haven.db import counts, inbox, migrate, repository


def _bookings(url, n):
    return [
        repository.create_booking(
            name=f"Visitor {i}",
            contact_method="email",
            contact=f"v{i}@example.org",
            timezone="UTC",
            consent=True,
            time_preference="evenings",
            url=url,
        )
        for i in range(n)
    ]


def test_counts_pages_and_undo(database_url):
    migrate.upgrade(database_url)
    made = _bookings(database_url, 7)
    changed, stamp = inbox.mark_handled("bookings", [made[0].id, made[3].id, 10**12], url=database_url)
    assert changed == sorted([made[0].id, made[3].id]) and stamp is not None
    assert inbox.counts("bookings", url=database_url) == inbox.Counts(open=5, total=7)
    first = inbox.page("bookings", offset=0, limit=5, url=database_url)
    assert [b.id for b in first] == [
        b.id for b in reversed(made) if b.id not in changed
    ]  # open, newest first
    rest = inbox.page("bookings", offset=5, limit=5, url=database_url)
    assert [b.id for b in rest] == [made[3].id, made[0].id]  # then the handled ones
    assert len(inbox.page("bookings", limit=50, open_only=True, url=database_url)) == 5
    # A second action does not reopen what the first closed, and undo needs the exact stamp.
    again, later = inbox.mark_handled("bookings", [made[0].id, made[1].id], url=database_url)
    assert again == [made[1].id]
    assert inbox.undo_handled("bookings", changed, stamp + timedelta(microseconds=1), url=database_url) == 0
    assert inbox.undo_handled("bookings", changed + again, stamp, url=database_url) == 2
    assert inbox.counts("bookings", url=database_url) == inbox.Counts(open=6, total=7)
    assert inbox.get("bookings", made[1].id, url=database_url).handled_at == later


def test_what_happened_and_weekly_counts(database_url):
    migrate.upgrade(database_url)
    _bookings(database_url, 2)
    repository.record_safety_event(
        category="danger", subject="self", rule="rule:danger.not_safe", tier="check_in", url=database_url
    )
    now = datetime.now(UTC)
    happened = inbox.happened_between(now - timedelta(hours=1), now + timedelta(hours=1), url=database_url)
    assert sorted(h.kind for h in happened) == ["bookings", "bookings", "safety-events"]
    assert [(h.category, h.tier) for h in happened if h.kind == "safety-events"] == [("danger", "check_in")]

    def work():
        for _ in range(10):
            counts.increment("topic", "how_to_heal", url=database_url)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    week = counts.week_start(now, "UTC")
    assert counts.weekly(week, week, url=database_url) == [counts.Count(week, "topic", "how_to_heal", 40)]
