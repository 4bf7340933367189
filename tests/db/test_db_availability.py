"""haven.services.availability: weekly schedule -> free slots, across DST changes, minus booked slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from haven.db import repository
from haven.services import availability
from haven.services.availability import ScheduleError, next_free_slots, parse_schedule

NY = ZoneInfo("America/New_York")
UTC = UTC


def schedule(**overrides):
    data = {
        "timezone": "America/New_York",
        "slot_minutes": 15,
        "min_lead_hours": 0,
        "horizon_days": 14,
        "weekly": {"monday": ["09:00", "09:30"], "wednesday": ["13:00"], "sunday": ["01:30", "02:30"]},
    }
    data.update(overrides)
    return parse_schedule(data, "test")


def starts(slots):
    return [slot.start for slot in slots]


def test_shipped_schedule_is_valid():
    shipped = availability.load_schedule()
    assert shipped.timezone_name == "America/New_York" and shipped.slot_minutes == 15
    now = datetime(2030, 6, 3, 12, 0, tzinfo=UTC)
    slots = next_free_slots(now, count=3)
    assert len(slots) == 3
    assert all(slot.start >= now + shipped.min_lead for slot in slots)
    assert starts(slots) == sorted(starts(slots))


def test_spring_forward_week_keeps_local_wall_time():
    # US clocks went forward on Sunday 2025-03-09 at 02:00.
    now = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)  # Sunday before
    slots = next_free_slots(now, count=8, schedule=schedule())
    assert starts(slots) == [
        datetime(2025, 3, 3, 14, 0, tzinfo=UTC),  # Mon 09:00 EST
        datetime(2025, 3, 3, 14, 30, tzinfo=UTC),
        datetime(2025, 3, 5, 18, 0, tzinfo=UTC),  # Wed 13:00 EST
        datetime(2025, 3, 9, 6, 30, tzinfo=UTC),  # Sun 01:30 EST; 02:30 does not exist that day
        datetime(2025, 3, 10, 13, 0, tzinfo=UTC),  # Mon 09:00 EDT
        datetime(2025, 3, 10, 13, 30, tzinfo=UTC),
        datetime(2025, 3, 12, 17, 0, tzinfo=UTC),  # Wed 13:00 EDT
        datetime(2025, 3, 16, 5, 30, tzinfo=UTC),  # Sun 01:30 EDT
    ]
    assert [s.label for s in slots[3:5]] == ["Sun, Mar 9, 1:30 AM EST", "Mon, Mar 10, 9:00 AM EDT"]
    for slot in slots:
        assert slot.start.tzinfo == UTC and slot.end - slot.start == timedelta(minutes=15)
        local = slot.start.astimezone(NY)
        assert (local.hour, local.minute) in {(9, 0), (9, 30), (13, 0), (1, 30), (2, 30)}


def test_fall_back_week_uses_first_of_ambiguous_times():
    # US clocks went back on Sunday 2025-11-02 at 02:00 (01:00-02:00 happens twice).
    now = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
    slots = next_free_slots(now, count=4, schedule=schedule())
    assert starts(slots) == [
        datetime(2025, 11, 2, 5, 30, tzinfo=UTC),  # 01:30 EDT (the first 01:30)
        datetime(2025, 11, 2, 7, 30, tzinfo=UTC),  # 02:30 EST
        datetime(2025, 11, 3, 14, 0, tzinfo=UTC),  # Mon 09:00 EST
        datetime(2025, 11, 3, 14, 30, tzinfo=UTC),
    ]
    assert slots[0].label == "Sun, Nov 2, 1:30 AM EDT"


def test_labels_in_the_visitors_time_zone():
    # 2025-03-10: New York already on EDT, London still on GMT, so the gap is 4 hours, not 5.
    now = datetime(2025, 3, 9, 12, 0, tzinfo=UTC)
    london = next_free_slots(now, count=1, tz_for_display="Europe/London", schedule=schedule())[0]
    assert london.start == datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    assert london.label == "Mon, Mar 10, 1:00 PM GMT" and london.display_timezone == "Europe/London"
    tokyo = next_free_slots(now, count=1, tz_for_display=ZoneInfo("Asia/Tokyo"), schedule=schedule())[0]
    assert tokyo.label == "Mon, Mar 10, 10:00 PM JST"
    practice = next_free_slots(now, count=1, schedule=schedule())[0]
    assert practice.label == "Mon, Mar 10, 9:00 AM EDT" and practice.display_timezone == "America/New_York"
    assert practice.to_dict()["start"] == "2025-03-10T13:00:00+00:00"
    with pytest.raises(ValueError, match="IANA"):
        next_free_slots(now, tz_for_display="Not/AZone", schedule=schedule())


def test_booked_slots_are_excluded_in_any_zone_and_overlaps_too():
    now = datetime(2025, 3, 9, 12, 0, tzinfo=UTC)
    first = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    booked = {first.astimezone(NY), datetime(2025, 3, 10, 13, 40, tzinfo=UTC)}  # second overlaps 09:30 EDT
    assert starts(next_free_slots(now, count=2, booked=booked, schedule=schedule())) == [
        datetime(2025, 3, 12, 17, 0, tzinfo=UTC),
        datetime(2025, 3, 16, 5, 30, tzinfo=UTC),
    ]
    assert not availability.is_bookable(first, now, booked, schedule=schedule())
    assert availability.is_bookable(
        datetime(2025, 3, 12, 17, 0, tzinfo=UTC), now, booked, schedule=schedule()
    )
    assert not availability.is_bookable(datetime(2025, 3, 12, 17, 5, tzinfo=UTC), now, schedule=schedule())


def test_lead_time_horizon_and_closed_days():
    now = datetime(2025, 3, 8, 14, 0, tzinfo=UTC)  # Saturday; +48 h is Mon 14:00 UTC (10:00 EDT)
    # Mon 09:00/09:30 EDT (13:00/13:30 UTC) are inside the lead time; Sun 16th 01:30 is past 7 days.
    assert starts(next_free_slots(now, count=10, schedule=schedule(min_lead_hours=48, horizon_days=7))) == [
        datetime(2025, 3, 12, 17, 0, tzinfo=UTC)
    ]
    closed = ["2025-03-12", date(2025, 3, 16)]
    assert (
        next_free_slots(now, count=10, schedule=schedule(min_lead_hours=48, horizon_days=7, closed=closed))
        == []
    )
    assert starts(
        next_free_slots(now, count=10, schedule=schedule(min_lead_hours=48, horizon_days=10, closed=closed))
    ) == [
        datetime(2025, 3, 17, 13, 0, tzinfo=UTC),
        datetime(2025, 3, 17, 13, 30, tzinfo=UTC),
    ]


def test_now_must_be_aware_and_count_positive():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_free_slots(datetime(2025, 3, 9, 12, 0), schedule=schedule())
    with pytest.raises(ValueError, match="count"):
        next_free_slots(datetime(2025, 3, 9, 12, 0, tzinfo=UTC), count=0, schedule=schedule())


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(timezone="Mars/Olympus"), "unknown time zone"),
        (dict(timezone=None), "IANA"),
        (dict(slot_minutes="15"), "slot_minutes"),
        (dict(slot_minutes=0), "slot_minutes"),
        (dict(horizon_days=0), "horizon_days"),
        (dict(min_lead_hours=-1), "min_lead_hours"),
        (dict(weekly={"monday": [630]}), "quotes"),
        (dict(weekly={"monday": ["9:00"]}), "HH:MM"),
        (dict(weekly={"monday": ["24:00"]}), "HH:MM"),
        (dict(weekly={"funday": ["09:00"]}), "not a weekday"),
        (dict(weekly={"monday": "09:00"}), "list"),
        (dict(weekly={"monday": ["09:00", "09:10"]}), "overlap"),
        (dict(weekly={"monday": []}), "no times"),
        (dict(weekly=None), "weekly"),
        (dict(closed=["someday"]), "YYYY-MM-DD"),
        (dict(holidays=[]), "unknown key"),
    ],
)
def test_schedule_validation(overrides, message):
    with pytest.raises(ScheduleError, match=message):
        schedule(**overrides)


def test_load_schedule_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.yml"
    with pytest.raises(ScheduleError, match="missing.yml"):
        availability.load_schedule(missing)
    broken = tmp_path / "broken.yml"
    broken.write_text("timezone: [unclosed\n")
    with pytest.raises(ScheduleError, match="not valid YAML"):
        availability.load_schedule(broken)
    unquoted = tmp_path / "unquoted.yml"
    unquoted.write_text(
        "timezone: UTC\nslot_minutes: 15\nmin_lead_hours: 1\nhorizon_days: 7\nweekly:\n  monday: [10:30]\n"
    )
    with pytest.raises(ScheduleError, match=r"unquoted.yml: weekly.monday: 630 .*quotes"):
        availability.load_schedule(unquoted)


def test_free_slots_from_the_database(db_url):
    s = schedule()
    now = datetime(2025, 3, 9, 12, 0, tzinfo=UTC)
    offered = next_free_slots(now, count=2, schedule=s)
    repository.create_booking(
        name="Ana",
        contact_method="email",
        contact="ana@example.org",
        timezone="Europe/London",
        consent=True,
        slot_start=offered[0].start,
        url=db_url,
    )
    start, end = availability.search_window(now, s)
    booked = repository.booked_slots(start, end, url=db_url)
    assert booked == {offered[0].start}
    assert next_free_slots(now, count=1, booked=booked, schedule=s)[0].start == offered[1].start
