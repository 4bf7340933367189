"""What visitors ask, week by week, counted without their words (`/staff/insights`, the JSON API).

Where the numbers come from: topics answered, "Did you mean" and could-not-answer, and new
conversations are counted where they happen into weekly_counts (haven/db/counts.py); bookings,
hand-offs and safety events are rows already and are counted from their tables here.  Weeks start
on Monday in the therapist's time zone.  The charts are drawn here as plain SVG geometry (no
script, no library, nothing from a CDN) and every chart has a table beside it with the same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Dict, List, Mapping, Sequence, Tuple
from zoneinfo import ZoneInfo

from haven.db import counts as counts_module
from haven.db import inbox

CATEGORIES = ("suicide", "self_harm", "danger")
MAX_WEEKS = 52


@dataclass
class Week:
    start: date
    conversations: int = 0
    topics: Dict[str, int] = field(default_factory=dict)
    did_you_mean: int = 0
    could_not_answer: int = 0
    crises: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    check_ins: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    bookings: int = 0
    handoffs: int = 0

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    def to_dict(self) -> Dict[str, object]:
        return {
            "week_start": self.start.isoformat(),
            "week_end": self.end.isoformat(),
            "conversations": self.conversations,
            "topics": dict(sorted(self.topics.items())),
            "topics_answered": sum(self.topics.values()),
            "did_you_mean": self.did_you_mean,
            "could_not_answer": self.could_not_answer,
            "crises": dict(self.crises),
            "check_ins": dict(self.check_ins),
            "bookings": self.bookings,
            "handoffs": self.handoffs,
        }


def this_week(zone: str, now: datetime | None = None) -> date:
    return counts_module.week_start(now or datetime.now(UTC), zone)


def parse_week(raw: str | None, zone: str) -> date:
    """The Monday of the week a `?week=YYYY-MM-DD` names (any day of it); this week when absent or bad."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        return this_week(zone)
    return day - timedelta(days=day.weekday())


def weeks(last: date, n: int, zone: str, topic_ids: Sequence[str], *, url: str | None = None) -> List[Week]:
    """`n` weeks ending with the week starting `last`, newest first; every topic id present (0 if none)."""
    n = max(1, min(MAX_WEEKS, n))
    first = last - timedelta(weeks=n - 1)
    table = {first + timedelta(weeks=i): Week(first + timedelta(weeks=i)) for i in range(n)}
    for week in table.values():
        week.topics = dict.fromkeys(topic_ids, 0)
    for row in counts_module.weekly(first, last, url=url):
        week = table.get(row.week_start)
        if week is None:
            continue
        if row.metric == "topic":
            week.topics[row.key] = week.topics.get(row.key, 0) + row.count
        elif row.metric == "conversation":
            week.conversations += row.count
        elif row.metric == "did_you_mean":
            week.did_you_mean += row.count
        elif row.metric == "could_not_answer":
            week.could_not_answer += row.count
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(weeks=1), time(), tzinfo=tz).astimezone(UTC)
    for event in inbox.happened_between(start, end, url=url):
        week = table.get(counts_module.week_start(event.created_at, zone))
        if week is None:
            continue
        if event.kind == "bookings":
            week.bookings += 1
        elif event.kind == "handoffs":
            week.handoffs += 1
        elif event.category in CATEGORIES:
            target = week.check_ins if event.tier == "check_in" else week.crises
            target[event.category] += 1
    return [table[day] for day in sorted(table, reverse=True)]


def totals(selected: Sequence[Week]) -> Dict[str, object]:
    """The same keys as a week, summed over the period."""
    topics: Counter = Counter()
    crises: Counter = Counter(dict.fromkeys(CATEGORIES, 0))
    check_ins: Counter = Counter(dict.fromkeys(CATEGORIES, 0))
    for week in selected:
        topics.update(week.topics)
        crises.update(week.crises)
        check_ins.update(week.check_ins)
    return {
        "conversations": sum(w.conversations for w in selected),
        "topics": dict(sorted(topics.items())),
        "topics_answered": sum(topics.values()),
        "did_you_mean": sum(w.did_you_mean for w in selected),
        "could_not_answer": sum(w.could_not_answer for w in selected),
        "crises": dict(crises),
        "check_ins": dict(check_ins),
        "bookings": sum(w.bookings for w in selected),
        "handoffs": sum(w.handoffs for w in selected),
    }


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int  # top of the row: the label sits on this line, the bar below it
    width: int


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart as SVG geometry (the template draws it): each label above its bar, so the
    chart stays readable when a phone scales it down to its width."""

    bars: Tuple[Bar, ...]
    width: int
    height: int
    label_height: int
    bar_height: int


#: Characters of a label that fit the chart's width; the table beside it has the full label.
LABEL_CHARS = 44


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def bar_chart(items: Sequence[Tuple[str, int]] | Mapping[str, int], *, plot_width: int = 300,
              label_height: int = 18, bar_height: int = 16, gap: int = 12) -> Chart:  # fmt: skip
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    top = max([value for _, value in pairs] + [1])
    row = label_height + bar_height + gap
    bars = tuple(
        Bar(_short(label), value, i * row, round(plot_width * value / top) if value else 0)
        for i, (label, value) in enumerate(pairs)
    )
    return Chart(bars, plot_width + 50, max(1, len(bars)) * row, label_height, bar_height)
