"""The therapist's weekly availability (schedule/availability.yml) turned into concrete slots.

Slot times are written in the practice's local time and converted with zoneinfo date by date,
so they stay at the same wall-clock time across daylight-saving changes.  A local time that does
not exist on a given day (inside a spring-forward gap) is skipped; an ambiguous one (fall-back)
means its first occurrence.  Everything returned is in UTC; labels are for display only.

Typical use (the booked set comes from haven.db.repository.booked_slots):
    start, end = availability.search_window(now)
    slots = availability.next_free_slots(now, booked=repository.booked_slots(start, end),
                                         tz_for_display=visitor_tz)
"""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from haven import yaml_files
from haven.settings import ROOT

DEFAULT_PATH = ROOT / "schedule" / "availability.yml"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_KEYS = {"timezone", "slot_minutes", "min_lead_hours", "horizon_days", "weekly", "closed"}

TimeZoneLike = Union[str, tzinfo, None]


class ScheduleError(ValueError):
    """schedule/availability.yml is missing, unreadable or not what this module expects."""


@dataclass(frozen=True)
class Schedule:
    timezone_name: str
    zone: ZoneInfo
    slot_minutes: int
    min_lead: timedelta
    horizon: timedelta
    weekly: Mapping[int, Tuple[time, ...]]  # date.weekday() -> sorted local start times
    closed: FrozenSet[date]

    @property
    def slot_length(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC, aware
    end: datetime  # UTC, aware
    label: str  # e.g. "Tue, Mar 10, 9:00 AM EDT", in display_timezone
    display_timezone: str

    def to_dict(self) -> Dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "label": self.label,
            "timezone": self.display_timezone,
        }


# --------------------------------------------------------------------------- loading


def _zone(name: Any, where: str) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"{where}: must be an IANA time zone name like America/New_York, got {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(
            f"{where}: unknown time zone {name!r} (expected an IANA name like America/New_York)"
        ) from error


def _number(data: Mapping, key: str, source: str, *, kind, low, high) -> Any:
    if key not in data:
        raise ScheduleError(f"{source}: '{key}' is required")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ScheduleError(f"{source}: '{key}' must be a number, got {value!r}")
    if not low <= value <= high:
        raise ScheduleError(f"{source}: '{key}' must be between {low} and {high}, got {value!r}")
    return value


def _parse_time(value: Any, where: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ScheduleError(
            f'{where}: {value!r} is not a time; write times in quotes like "10:30" '
            "(YAML reads an unquoted 10:30 as the number 630)"
        )
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        raise ScheduleError(f'{where}: {value!r} is not a time in 24-hour "HH:MM" form')
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def parse_schedule(data: Any, source: str = "availability") -> Schedule:
    """Validate the YAML's content; ScheduleError names the offending key."""
    if not isinstance(data, Mapping):
        raise ScheduleError(f"{source}: expected a mapping with {', '.join(sorted(_KEYS))}")
    unknown = set(data) - _KEYS
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise ScheduleError(f"{source}: unknown key(s) {names}; allowed: {', '.join(sorted(_KEYS))}")
    if "timezone" not in data:
        raise ScheduleError(f"{source}: 'timezone' is required (e.g. America/New_York)")
    zone = _zone(data["timezone"], f"{source}: timezone")
    slot_minutes = _number(data, "slot_minutes", source, kind=int, low=5, high=240)
    min_lead_hours = _number(data, "min_lead_hours", source, kind=(int, float), low=0, high=24 * 60)
    horizon_days = _number(data, "horizon_days", source, kind=int, low=1, high=366)

    weekly_raw = data.get("weekly")
    if not isinstance(weekly_raw, Mapping):
        raise ScheduleError(
            f"{source}: 'weekly' is required: a mapping from weekday name to a list of \"HH:MM\" times"
        )
    weekly: Dict[int, Tuple[time, ...]] = {}
    for day, times in weekly_raw.items():
        name = str(day).strip().lower()
        if name not in WEEKDAYS:
            raise ScheduleError(f"{source}: weekly: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
        index = WEEKDAYS.index(name)
        if index in weekly:
            raise ScheduleError(f"{source}: weekly: {name} is given twice")
        if times is None:
            times = []
        if not isinstance(times, list):
            raise ScheduleError(f'{source}: weekly.{name}: expected a list of "HH:MM" times, got {times!r}')
        parsed = sorted(_parse_time(value, f"{source}: weekly.{name}") for value in times)
        for earlier, later in zip(parsed, parsed[1:], strict=False):
            gap = datetime.combine(date.min, later) - datetime.combine(date.min, earlier)
            if gap < timedelta(minutes=slot_minutes):
                raise ScheduleError(
                    f"{source}: weekly.{name}: {earlier:%H:%M} and {later:%H:%M} overlap "
                    f"(slots last {slot_minutes} minutes)"
                )
        weekly[index] = tuple(parsed)

    closed_raw = data.get("closed") or []
    if not isinstance(closed_raw, list):
        raise ScheduleError(f"{source}: 'closed' must be a list of dates (YYYY-MM-DD)")
    closed = set()
    for value in closed_raw:
        if isinstance(value, datetime):
            raise ScheduleError(f"{source}: closed: {value!r} must be a date without a time")
        if isinstance(value, date):
            closed.add(value)
            continue
        try:
            closed.add(date.fromisoformat(str(value).strip()))
        except ValueError as error:
            raise ScheduleError(f"{source}: closed: {value!r} is not a date in YYYY-MM-DD form") from error

    if not any(weekly.values()):
        raise ScheduleError(f"{source}: weekly has no times at all; nobody could ever book")

    return Schedule(
        timezone_name=zone.key,
        zone=zone,
        slot_minutes=slot_minutes,
        min_lead=timedelta(hours=min_lead_hours),
        horizon=timedelta(days=horizon_days),
        weekly=weekly,
        closed=frozenset(closed),
    )


_cache: Dict[Path, Tuple[int, Schedule]] = {}
_cache_lock = threading.Lock()


def load_schedule(path: Union[str, Path, None] = None) -> Schedule:
    """Read and validate the schedule file (re-read only when it changed on disk)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as error:
        raise ScheduleError(f"{path}: cannot read the availability schedule ({error.strerror})") from error
    with _cache_lock:
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
    try:
        data = yaml_files.read(path)
    except yaml.YAMLError as error:
        raise ScheduleError(f"{path}: not valid YAML: {error}") from error
    schedule = parse_schedule(data, str(path))
    with _cache_lock:
        _cache[path] = (mtime, schedule)
    return schedule


# --------------------------------------------------------------------------- slots


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive {value.isoformat()}")
    return value.astimezone(UTC)


def display_zone(tz: TimeZoneLike, schedule: Schedule) -> tzinfo:
    """The zone for labels: the visitor's when given (IANA name or tzinfo), else the practice's."""
    if tz is None or (isinstance(tz, str) and not tz.strip()):
        return schedule.zone
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz.strip())
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"tz_for_display must be an IANA time zone name, got {tz!r}") from error
    raise ValueError(f"tz_for_display must be an IANA name or a tzinfo, got {type(tz).__name__}")


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def format_slot(start: datetime, tz: TimeZoneLike = None, schedule: Schedule | None = None) -> str:
    """A short English label such as "Tue, Mar 10, 9:00 AM EDT" (locale-independent)."""
    schedule = schedule or load_schedule()
    local = _aware(start, "start").astimezone(display_zone(tz, schedule))
    hour = local.hour % 12 or 12
    return (
        f"{_DAY_ABBR[local.weekday()]}, {_MONTH_ABBR[local.month - 1]} {local.day}, "
        f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {local.strftime('%Z')}"
    )


def _local_start(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of `at` on `day` in zone, or None when that wall time does not exist."""
    local = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first of two ambiguous times
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # skipped by a spring-forward change
    return utc


def search_window(now: datetime, schedule: Schedule | None = None) -> Tuple[datetime, datetime]:
    """[start, end) in UTC covering every slot that may be offered at `now` (for booked_slots)."""
    schedule = schedule or load_schedule()
    now = _aware(now, "now")
    return now + schedule.min_lead - schedule.slot_length, now + schedule.horizon + schedule.slot_length


def offered_starts(now: datetime, schedule: Schedule | None = None) -> Iterator[datetime]:
    """Every slot start (UTC, ascending) inside the lead time and horizon, booked or not."""
    schedule = schedule or load_schedule()
    now = _aware(now, "now")
    earliest = now + schedule.min_lead
    latest = now + schedule.horizon
    day = earliest.astimezone(schedule.zone).date()
    last_day = latest.astimezone(schedule.zone).date()
    while day <= last_day:
        if day not in schedule.closed:
            for at in schedule.weekly.get(day.weekday(), ()):
                start = _local_start(day, at, schedule.zone)
                if start is not None and earliest <= start <= latest:
                    yield start
        day += timedelta(days=1)


def _normalize_booked(booked: Iterable[datetime]) -> List[datetime]:
    return sorted(_aware(value, "booked slot") for value in booked)


def _clashes(start: datetime, booked: List[datetime], length: timedelta) -> bool:
    """A booking overlaps [start, start+length) (bookings last one slot too)."""
    index = bisect.bisect_left(booked, start - length + timedelta(microseconds=1))
    return index < len(booked) and booked[index] < start + length


def next_free_slots(
    now: datetime,
    count: int = 3,
    booked: Iterable[datetime] = frozenset(),
    tz_for_display: TimeZoneLike = None,
    schedule: Schedule | None = None,
) -> List[Slot]:
    """The next `count` free slots after the lead time, labelled for the visitor."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive whole number, got {count!r}")
    schedule = schedule or load_schedule()
    zone = display_zone(tz_for_display, schedule)
    taken = _normalize_booked(booked)
    slots: List[Slot] = []
    for start in offered_starts(now, schedule):
        if _clashes(start, taken, schedule.slot_length):
            continue
        slots.append(
            Slot(
                start=start,
                end=start + schedule.slot_length,
                label=format_slot(start, zone, schedule),
                display_timezone=_zone_name(zone),
            )
        )
        if len(slots) == count:
            break
    return slots


def is_bookable(
    start: datetime, now: datetime, booked: Iterable[datetime] = frozenset(), schedule: Schedule | None = None
) -> bool:
    """Whether `start` is a slot the schedule offers at `now` and nobody has booked.

    Check a slot the visitor picked earlier in the conversation before storing it.
    """
    schedule = schedule or load_schedule()
    start = _aware(start, "start")
    if start not in set(offered_starts(now, schedule)):
        return False
    return not _clashes(start, _normalize_booked(booked), schedule.slot_length)


def therapist_timezone(settings) -> str:
    """The zone of the therapist's day (inbox times, insight weeks, the calendar): HAVEN_TIMEZONE when
    set, else the practice's zone from the schedule, so the zone is said in one place."""
    if settings.timezone:
        return settings.timezone
    try:
        return load_schedule().timezone_name
    except ScheduleError:
        return "UTC"
