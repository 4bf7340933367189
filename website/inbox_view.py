"""How the staff inbox says things: the therapist's local times, ages, statuses and safety events in
plain words.

Why a module of its own: website/staff/ is about routes, credentials and the database; this is
presentation only, shared by the inbox, the CSV/JSON lists and the calendar feed.  The plain words
for safety events live in content/safety_words.yml (data, not code), so the therapist can reword
them and a new crisis pattern never shows up as a bare id.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Dict, Mapping
from zoneinfo import ZoneInfo

from haven import yaml_files
from haven.settings import ROOT

WORDS_FILE = ROOT / "content" / "safety_words.yml"
_cache: Dict[Path, tuple] = {}
_lock = threading.Lock()


def safety_words(path: Path = WORDS_FILE) -> Mapping[str, Any]:
    """content/safety_words.yml, read again when it changes (the therapist may edit it)."""
    mtime = path.stat().st_mtime_ns
    with _lock:
        cached = _cache.get(path)
        if cached is None or cached[0] != mtime:
            data = yaml_files.read(path) or {}
            for section in ("categories", "category_fallback", "detectors", "tiers", "subjects", "rules"):
                if not isinstance(data.get(section), dict):
                    raise ValueError(f"{path}: '{section}' must be a mapping")
            _cache[path] = cached = (mtime, data)
        return cached[1]


@dataclass(frozen=True)
class EventWords:
    summary: str  # "Said they don't want to live"
    category: str  # "Suicide"
    tier: str  # "Crisis resources shown"
    subject: str  # "About themselves"
    detector: str  # "" for a pattern (the summary says it), else how it was detected


def describe_event(rule: str, category: str, tier: str, subject: str) -> EventWords:
    """A safety event in the therapist's words; never a bare rule id."""
    words = safety_words()
    kind, _, detail = (rule or "").partition(":")
    summary = ""
    detector = ""
    if kind == "rule":
        summary = words["rules"].get(detail, "")
    elif kind == "model":
        detector = words["detectors"]["model"]
    elif kind == "classifier":
        detector = words["detectors"]["classifier"]
    elif kind == "check_in" and detail == "yes":
        summary = words["detectors"]["check_in_yes"]
    summary = summary or words["category_fallback"].get(category, "Wrote something Haven treated as a crisis")
    return EventWords(
        summary=summary,
        category=words["categories"].get(category, category.replace("_", " ").capitalize()),
        tier=words["tiers"].get(tier, tier),
        subject=words["subjects"].get(subject, subject),
        detector=detector,
    )


def local(value: datetime | None, zone: str) -> datetime | None:
    return value.astimezone(ZoneInfo(zone)) if value is not None else None


def when(value: datetime | None, zone: str) -> str:
    """ "14:02, Tuesday 1 Dec" in the therapist's time zone (the year when it is not this year)."""
    if value is None:
        return ""
    moment = local(value, zone)
    now = datetime.now(ZoneInfo(zone))
    text = f"{moment:%H:%M}, {moment:%A} {moment.day} {moment:%b}"
    return text if moment.year == now.year else f"{text} {moment.year}"


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the coarsest unit that is honest: "just now", "40 minutes", "3 hours", "2 days"."""
    if value is None:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    for unit, size in (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "under a minute"


def booking_status(status: str, handled: bool) -> str:
    """What a booking's badge says: a handled request no longer says "Requested"."""
    if status == "cancelled":
        return "Cancelled"
    if status == "confirmed":
        return "Confirmed"
    return "Handled" if handled else "Requested"
