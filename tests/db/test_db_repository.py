"""haven.db.repository on SQLite and PostgreSQL: round trips, ordering, validation, no double booking."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest

from haven.db import repository
from haven.db.models import REFERENCE_ALPHABET
from haven.db.repository import BookingRecord, HandoffRecord, SafetyEventRecord, SlotTaken

SLOT = datetime(2031, 3, 10, 13, 0, tzinfo=UTC)


def booking(url, **overrides):
    values = dict(
        name="Alex",
        contact_method="email",
        contact="alex@example.org",
        timezone="America/New_York",
        consent=True,
        slot_start=SLOT,
        conversation_id="conv-1",
        url=url,
    )
    values.update(overrides)
    return repository.create_booking(**values)


def handoff(url, **overrides):
    values = dict(
        name="Jo",
        contact_method="phone",
        contact="+1 (555) 010-2030",
        message="Please call me.",
        conversation_id="conv-2",
        url=url,
    )
    values.update(overrides)
    return repository.create_handoff(**values)


# --------------------------------------------------------------------------- round trips


def test_booking_round_trip(db_url):
    created = booking(db_url, slot_start=datetime(2031, 3, 10, 9, 0, tzinfo=timezone(timedelta(hours=-4))))
    assert isinstance(created, BookingRecord)
    assert re.fullmatch(rf"HV-[{REFERENCE_ALPHABET}]{{6}}", created.reference)
    assert created.slot_start == SLOT and created.slot_start.tzinfo == UTC
    assert created.status == "requested" and created.consent is True and created.handled_at is None
    assert abs(created.created_at - datetime.now(UTC)) < timedelta(minutes=1)

    fetched = repository.get_booking(created.reference.lower(), url=db_url)
    assert fetched == created
    assert fetched.to_dict()["slot_start"] == "2031-03-10T13:00:00+00:00"
    assert repository.get_booking("HV-ZZZZZZ", url=db_url) is None
    assert repository.list_bookings(url=db_url) == [created]


def test_booking_with_free_text_preference(db_url):
    created = booking(db_url, slot_start=None, time_preference="  weekday evenings  ")
    assert created.slot_start is None and created.time_preference == "weekday evenings"
    # Any number of bookings without a slot can coexist.
    booking(db_url, slot_start=None, time_preference="mornings")
    assert len(repository.list_bookings(url=db_url)) == 2


def test_handoff_round_trip(db_url):
    created = handoff(db_url, transcript="user: hi\nbot: hello", transcript_consent=True)
    assert isinstance(created, HandoffRecord)
    assert re.fullmatch(rf"HR-[{REFERENCE_ALPHABET}]{{6}}", created.reference)
    assert created.contact == "+1 (555) 010-2030"
    assert created.transcript == "user: hi\nbot: hello" and created.transcript_consent is True
    assert repository.get_handoff(created.reference, url=db_url) == created
    assert repository.list_handoffs(url=db_url) == [created]


def test_safety_event_round_trip(db_url):
    created = repository.record_safety_event(
        category="self_harm", subject="self", rule="cutting", conversation_id="conv-3", url=db_url
    )
    assert isinstance(created, SafetyEventRecord)
    assert created.message_text is None and created.handled_at is None
    with_text = repository.record_safety_event(
        category="danger", subject="other", rule="threat", message_text="he said he would hurt me", url=db_url
    )
    assert repository.list_safety_events(url=db_url) == [with_text, created]


def test_lists_are_newest_first_and_filterable(db_url):
    made = [
        booking(db_url, slot_start=SLOT + timedelta(minutes=15 * i), contact=f"p{i}@example.org")
        for i in range(4)
    ]
    listed = repository.list_bookings(url=db_url)
    assert [b.reference for b in listed] == [b.reference for b in reversed(made)]
    assert [b.reference for b in repository.list_bookings(limit=2, url=db_url)] == [
        made[3].reference,
        made[2].reference,
    ]
    handoffs = [handoff(db_url, message=f"m{i}") for i in range(3)]
    assert [h.message for h in repository.list_handoffs(url=db_url)] == ["m2", "m1", "m0"]
    assert repository.mark_handled("handoff", handoffs[1].id, url=db_url)
    assert [h.message for h in repository.list_handoffs(unhandled_only=True, url=db_url)] == ["m2", "m0"]


def test_mark_handled(db_url):
    b = booking(db_url)
    h = handoff(db_url)
    s = repository.record_safety_event(category="suicide", subject="self", rule="kill_myself", url=db_url)
    assert repository.mark_handled("booking", b.id, url=db_url) is True
    assert repository.mark_handled("handoffs", h.id, url=db_url) is True
    assert repository.mark_handled("safety-events", s.id, url=db_url) is True
    first = repository.get_booking(b.reference, url=db_url).handled_at
    assert first is not None and first.tzinfo == UTC
    time.sleep(0.01)
    assert repository.mark_handled("booking", b.id, url=db_url) is True  # idempotent, keeps the first time
    assert repository.get_booking(b.reference, url=db_url).handled_at == first
    assert repository.list_handoffs(url=db_url)[0].handled_at is not None
    assert repository.list_safety_events(url=db_url)[0].handled_at is not None
    assert repository.mark_handled("booking", 999_999, url=db_url) is False
    with pytest.raises(ValueError, match="kind"):
        repository.mark_handled("invoice", b.id, url=db_url)
    with pytest.raises(ValueError, match="id"):
        repository.mark_handled("booking", "1", url=db_url)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(consent=False), "consent"),
        (dict(consent="yes"), "consent"),
        (dict(name=""), "name"),
        (dict(name="   "), "name"),
        (dict(name="x" * 81), "name is too long"),
        (dict(contact_method="pigeon"), "contact_method"),
        (dict(contact="not-an-address"), "e-mail"),
        (dict(contact="a" * 250 + "@example.org"), "contact is too long"),
        (dict(contact_method="phone", contact="call me maybe"), "phone"),
        (dict(timezone="Mars/Olympus"), "timezone"),
        (dict(slot_start=datetime(2031, 3, 10, 13, 0)), "timezone-aware"),
        (dict(slot_start=datetime(2031, 3, 10, 13, 0, 30, tzinfo=UTC)), "whole minute"),
        (dict(slot_start=None, time_preference=None), "slot_start or time_preference"),
        (dict(time_preference="x" * 201), "time_preference is too long"),
        (dict(status="cancelled"), "status"),
    ],
)
def test_booking_validation(db_url, overrides, message):
    with pytest.raises(ValueError, match=message):
        booking(db_url, **overrides)
    assert repository.list_bookings(url=db_url) == []


def test_length_limits_are_inclusive(db_url):
    b = booking(db_url, name="n" * 80, contact="a" * 242 + "@example.org")
    assert len(b.name) == 80 and len(b.contact) == 254
    h = handoff(db_url, message="m" * 4000, transcript="t" * 100_000, transcript_consent=True)
    assert len(h.message) == 4000 and len(h.transcript) == 100_000


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(message="m" * 4001), "message is too long"),
        (dict(transcript="t" * 100_001, transcript_consent=True), "transcript is too long"),
        (dict(transcript="user: hi"), "transcript_consent"),
        (dict(transcript_consent="yes"), "transcript_consent"),
        (dict(name=None), "name is required"),
        (dict(contact=""), "contact"),
    ],
)
def test_handoff_validation(db_url, overrides, message):
    with pytest.raises(ValueError, match=message):
        handoff(db_url, **overrides)
    assert repository.list_handoffs(url=db_url) == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(category="sadness"), "category"),
        (dict(subject="them"), "subject"),
        (dict(rule=""), "rule"),
        (dict(message_text="x" * 4001), "message_text is too long"),
    ],
)
def test_safety_event_validation(db_url, overrides, message):
    values = dict(category="suicide", subject="self", rule="r", url=db_url)
    values.update(overrides)
    with pytest.raises(ValueError, match=message):
        repository.record_safety_event(**values)


# --------------------------------------------------------------------------- double booking


def test_slot_cannot_be_booked_twice_and_cancelling_frees_it(db_url):
    first = booking(db_url)
    with pytest.raises(SlotTaken):
        booking(db_url, name="Other", contact="other@example.org", conversation_id="conv-9")
    # The same instant written in another zone is the same slot.
    with pytest.raises(SlotTaken):
        booking(
            db_url,
            contact="other@example.org",
            conversation_id="conv-9",
            slot_start=SLOT.astimezone(timezone(timedelta(hours=5, minutes=30))),
        )
    assert repository.booked_slots(SLOT, SLOT + timedelta(minutes=1), url=db_url) == {SLOT}

    cancelled = repository.set_booking_status(first.reference, "cancelled", url=db_url)
    assert cancelled.status == "cancelled"
    assert repository.booked_slots(SLOT, SLOT + timedelta(minutes=1), url=db_url) == set()
    second = booking(db_url, name="Other", contact="other@example.org", conversation_id="conv-9")
    assert second.slot_start == SLOT and second.reference != first.reference

    # Reviving the cancelled booking would double-book the slot.
    with pytest.raises(SlotTaken):
        repository.set_booking_status(first.reference, "confirmed", url=db_url)
    assert repository.set_booking_status("HV-NOPE22", "confirmed", url=db_url) is None


def test_booked_slots_range(db_url):
    for i in range(4):
        booking(db_url, slot_start=SLOT + timedelta(hours=i), contact=f"p{i}@example.org")
    booking(db_url, slot_start=None, time_preference="any time", contact="free@example.org")
    got = repository.booked_slots(SLOT + timedelta(hours=1), SLOT + timedelta(hours=3), url=db_url)
    assert got == {SLOT + timedelta(hours=1), SLOT + timedelta(hours=2)}
    assert all(s.tzinfo == UTC for s in got)
    with pytest.raises(ValueError, match="timezone-aware"):
        repository.booked_slots(datetime(2031, 1, 1), SLOT, url=db_url)


def test_fifty_concurrent_attempts_at_one_slot(db_url, capsys):
    attempts = 50
    barrier = threading.Barrier(attempts)

    def attempt(i):
        barrier.wait()
        try:
            return booking(db_url, name=f"Visitor{i}", contact=f"v{i}@example.org", conversation_id=f"c{i}")
        except SlotTaken as error:
            return error

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        results = list(pool.map(attempt, range(attempts)))
    elapsed = time.monotonic() - started

    made = [r for r in results if isinstance(r, BookingRecord)]
    refused = [r for r in results if isinstance(r, SlotTaken)]
    assert len(made) == 1, results
    assert len(refused) == attempts - 1
    assert [b.reference for b in repository.list_bookings(url=db_url)] == [made[0].reference]
    with capsys.disabled():
        backend = db_url.split(":")[0]
        print(f"\n[{backend}] 50 concurrent bookings of one slot: 1 stored, 49 SlotTaken in {elapsed:.2f}s")


def test_reference_collision_draws_a_new_code(db_url, monkeypatch):
    from haven.db import models

    codes = iter(["HV-AAAAAA", "HV-AAAAAA", "HV-BBBBBB"])
    monkeypatch.setattr(repository, "new_reference", lambda prefix: next(codes))
    assert booking(db_url).reference == "HV-AAAAAA"
    second = booking(
        db_url, slot_start=SLOT + timedelta(hours=1), contact="b@example.org", conversation_id="c2"
    )
    assert second.reference == "HV-BBBBBB"
    assert models.new_reference("HV") != models.new_reference("HV")
