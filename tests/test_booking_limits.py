"""Booking caps (issue 12.7): open bookings per contact, bookings per conversation a day, refused kindly.

Through the real submit action against a real (temporary) SQLite database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actions.booking import ActionSubmitBookingForm
from haven.db import migrate, repository

BOOKING = {
    "booking_name": "Robin", "booking_contact": "robin@example.org", "booking_contact_method": "email",
    "booking_consent": True, "booking_confirm": True, "visitor_timezone": "America/New_York",
    "booking_slot": "preference", "booking_time_preference": "weekday evenings",
}  # fmt: skip


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/haven.db")
    migrate.upgrade()
    yield


async def submit(dispatcher, tracker, domain, sender: str, **slots):
    dispatcher.messages.clear()
    await ActionSubmitBookingForm().run(
        dispatcher, tracker(slots={**BOOKING, **slots}, sender_id=sender), domain
    )
    return dispatcher.messages


def booked(messages) -> bool:
    return any("booking" in (m.get("custom") or {}) for m in messages)


async def test_two_open_bookings_per_contact_then_a_kind_refusal(dispatcher, tracker, domain) -> None:
    assert booked(await submit(dispatcher, tracker, domain, "conversation-a"))
    assert booked(await submit(dispatcher, tracker, domain, "conversation-b"))
    # The same address spelled differently is the same contact.
    refused = await submit(dispatcher, tracker, domain, "conversation-c", booking_contact="Robin@Example.org")
    assert not booked(refused)
    assert "already consultation requests waiting" in refused[0]["text"]
    assert len(repository.list_bookings()) == 2
    # Another contact is not affected.
    assert booked(
        await submit(dispatcher, tracker, domain, "conversation-d", booking_contact="sam@example.org")
    )
    # Once the therapist has handled one, there is room again.
    first = repository.list_bookings()[-1]
    assert repository.mark_handled("bookings", first.id)
    assert booked(await submit(dispatcher, tracker, domain, "conversation-e"))


async def test_one_conversation_makes_at_most_three_bookings_a_day(dispatcher, tracker, domain) -> None:
    for n in range(3):
        assert booked(
            await submit(dispatcher, tracker, domain, "script", booking_contact=f"p{n}@example.org")
        )
    refused = await submit(dispatcher, tracker, domain, "script", booking_contact="p9@example.org")
    assert not booked(refused) and "already consultation requests waiting" in refused[0]["text"]
    assert len(repository.list_bookings()) == 3


async def test_the_caps_come_from_the_settings(dispatcher, tracker, domain, monkeypatch) -> None:
    monkeypatch.setenv("HAVEN_BOOKING_LIMIT_PER_CONTACT", "1")
    assert booked(await submit(dispatcher, tracker, domain, "one"))
    assert not booked(await submit(dispatcher, tracker, domain, "two"))
    monkeypatch.setenv("HAVEN_BOOKING_LIMIT_PER_CONTACT", "0")  # 0: off
    assert booked(await submit(dispatcher, tracker, domain, "three"))


def test_past_slots_do_not_count_as_open() -> None:
    now = datetime.now(UTC)
    repository.create_booking(
        name="Robin", contact_method="email", contact="robin@example.org", timezone="UTC", consent=True,
        slot_start=(now + timedelta(days=3)).replace(second=0, microsecond=0),
    )  # fmt: skip
    assert repository.booking_counts("email", "robin@example.org", None, now) == (1, 0)
    assert repository.booking_counts("email", "robin@example.org", None, now + timedelta(days=4)) == (0, 0)
