"""The reviewed safety data (safety/hotlines.yml, safety/crisis_copy.yml), loaded and checked once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

from haven import yaml_files
from haven.settings import ROOT

SAFETY_DIR = ROOT / "safety"
CATEGORIES = ("suicide", "self_harm", "danger")
# A locale's country (en-GB -> GB) to the region code used in hotlines.yml, where they differ.
COUNTRY_TO_REGION = {"GB": "UK"}
_NUMBER = re.compile(r"\d(?:[\d -]*\d)?")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
# A one-tap link in the crisis turn: a call, a text (optionally with its keyword) or a web page.
_HREF = re.compile(
    r"^(?:tel:\+?\d{3,15}|sms:\+?\d{3,15}(?:\?&body=[A-Z0-9]{1,20})?|https://[a-z0-9.-]+(?:/\S*)?)$"
)
_DIGITS = re.compile(r"^(?:tel|sms):\+?(\d+)")


@dataclass(frozen=True)
class Link:
    """A tap-to-call, tap-to-text or web link of a crisis service (safety/hotlines.yml `links`)."""

    title: str  # e.g. "Text HOME to 741741": what the button says, also what a screen reader reads
    href: str  # e.g. "sms:741741?&body=HOME"

    def as_button(self) -> Dict[str, str]:
        """A Rasa button: the widget renders a tel:/sms:/https: payload as a link, never sends it."""
        return {"title": self.title, "payload": self.href}


@dataclass(frozen=True)
class RegionResources:
    """One region's crisis resources, as the widget's crisis banner shows them."""

    code: str
    emergency: str  # e.g. "call 999"
    emergency_number: str  # e.g. "999": the digits of `emergency`, for a tel: link
    lines: Mapping[str, Tuple[str, ...]]  # category -> lines, categories as in CATEGORIES
    help_line: str
    help_number: str  # e.g. "116 123": the first number in `help_line`, as written there
    name: str = ""  # e.g. "the US", as a sentence names the region
    # category -> the one-tap links of the crisis turn: the region's services, its emergency number,
    # then the worldwide directory (issue 13.3)
    links: Mapping[str, Tuple[Link, ...]] = field(default_factory=dict)
    worldwide: str = ""  # "If you are outside the US, findahelpline.com lists ..."

    def as_json(self) -> Dict[str, Any]:
        return {
            "region": self.code,
            "emergency": self.emergency,
            "emergency_number": self.emergency_number,
            "lines": {category: list(lines) for category, lines in self.lines.items()},
            "help_line": self.help_line,
            "help_number": self.help_number,
        }


class SafetyDataError(ValueError):
    """A safety data file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class SafetyData:
    default_region: str
    followup: str
    followup_booking_paused: str
    continue_booking: str
    followup_booking_paused_no_button: str = ""
    continue_message: str = "Continue your message"
    followup_message_paused: str = ""
    followup_message_paused_no_button: str = ""
    written_message_offer: str = ""
    send_written_message: str = "Send what I wrote"
    resources: Mapping[str, RegionResources] = field(default_factory=dict)
    worldwide_several: str = ""

    def worldwide(self, regions: Tuple[str, ...]) -> str:
        """The worldwide line after the lines of `regions`: "If you are outside the US, …" for one region,
        "Outside these countries, …" only for several (issue 13.3: wording right for one or several)."""
        known = [code for code in dict.fromkeys(regions) if code in self.resources]
        if len(known) == 1:
            return self.resources[known[0]].worldwide
        return self.worldwide_several

    def region(self, wanted: Optional[str]) -> str:
        wanted = (wanted or "").upper()
        return wanted if wanted in self.resources else self.default_region

    def help_line(self, region: Optional[str]) -> str:
        return self.resources[self.region(region)].help_line

    def visitor_region(
        self, region: Optional[str] = None, locale: Optional[str] = None, fallback: Optional[str] = None
    ) -> str:
        """The region for a visitor: an explicit region code (GB counts as UK), else the locale's
        country, else `fallback`, else the default. Shared by the crisis detector and the widget API."""
        code = str(region or "").strip().upper()
        code = COUNTRY_TO_REGION.get(code, code)
        if code in self.resources:
            return code
        return self.region_for_locale(locale, fallback)

    def region_for_locale(self, locale: Optional[str], fallback: Optional[str] = None) -> str:
        """en-GB -> UK, en-CA -> CA, ...; a locale without a known country -> `fallback` (or the default)."""
        locale = (locale or "").strip()
        parts = re.split(r"[-_]", locale) if _LOCALE.match(locale) else []
        for part in parts[1:]:
            if len(part) == 2 and part.isalpha():
                country = part.upper()
                code = COUNTRY_TO_REGION.get(country, country)
                if code in self.resources:
                    return code
                break
        return self.region(fallback)

    def region_resources(self, region: Optional[str]) -> RegionResources:
        return self.resources[self.region(region)]


def _read(path: Path) -> dict:
    try:
        data = yaml_files.read(path)
    except (OSError, yaml.YAMLError) as error:
        raise SafetyDataError(f"{path}: cannot be read: {error}") from error
    if not isinstance(data, dict):
        raise SafetyDataError(f"{path}: must be a mapping")
    return data


@lru_cache(maxsize=1)
def load(directory: Path = SAFETY_DIR) -> SafetyData:
    hotlines, copy = _read(directory / "hotlines.yml"), _read(directory / "crisis_copy.yml")
    regions = hotlines.get("regions") or {}
    for code, region in regions.items():
        for key in (*CATEGORIES, "emergency", "help_line"):
            if not region.get(key):
                raise SafetyDataError(f"{directory / 'hotlines.yml'}: region {code!r} has no {key!r}")
    if hotlines.get("default_region") not in regions:
        raise SafetyDataError(
            f"{directory / 'hotlines.yml'}: default_region must be one of {sorted(regions)}"
        )
    for key in (
        "followup",
        "followup_booking_paused",
        "followup_booking_paused_no_button",
        "continue_booking",
        "continue_message",
        "followup_message_paused",
        "followup_message_paused_no_button",
        "written_message_offer",
        "send_written_message",
        "not_emergency",
    ):
        if not copy.get(key):
            raise SafetyDataError(f"{directory / 'crisis_copy.yml'}: {key!r} is missing")
    worldwide = hotlines.get("worldwide")
    where = directory / "hotlines.yml"
    if not isinstance(worldwide, dict) or not all(worldwide.get(k) for k in ("one", "several", "link")):
        raise SafetyDataError(f"{where}: 'worldwide' needs 'one', 'several' and 'link'")
    if "{name}" not in worldwide["one"]:
        raise SafetyDataError(f"{where}: worldwide 'one' must name the region with {{name}}")
    world_link = _link(where, "worldwide", worldwide["link"])
    return SafetyData(
        default_region=hotlines["default_region"],
        followup=" ".join(copy["followup"].split()),
        followup_booking_paused=" ".join(copy["followup_booking_paused"].split()),
        continue_booking=copy["continue_booking"],
        continue_message=copy["continue_message"],
        followup_message_paused=" ".join(copy["followup_message_paused"].split()),
        followup_message_paused_no_button=" ".join(copy["followup_message_paused_no_button"].split()),
        written_message_offer=" ".join(copy["written_message_offer"].split()),
        send_written_message=copy["send_written_message"],
        followup_booking_paused_no_button=" ".join(copy["followup_booking_paused_no_button"].split()),
        resources={
            code: _resources(directory, code, r, worldwide["one"], world_link) for code, r in regions.items()
        },
        worldwide_several=" ".join(worldwide["several"].split()),
    )


def _link(where: Path, what: str, raw: Any) -> Link:
    if not isinstance(raw, dict) or not isinstance(raw.get("title"), str) or not raw["title"].strip():
        raise SafetyDataError(f"{where}: {what}: a link needs a 'title' and an 'href'")
    href = str(raw.get("href") or "")
    if not _HREF.match(href):
        raise SafetyDataError(f"{where}: {what}: {href!r} is not a tel:, sms: or https: link")
    return Link(title=" ".join(raw["title"].split()), href=href)


def _numbers(text: str) -> set:
    return {re.sub(r"\D", "", found) for found in _NUMBER.findall(text)}


def _links(
    where: Path, code: str, region: Mapping[str, Any], lines: Mapping[str, Tuple[str, ...]], world_link: Link
) -> Dict[str, Tuple[Link, ...]]:
    """Each category's links, checked against its text: a button must never dial a number the reply
    does not also show (a visitor reading the text and one tapping reach the same service)."""
    raw = region.get("links")
    if not isinstance(raw, dict):
        raise SafetyDataError(f"{where}: region {code!r} has no 'links'")
    emergency = _link(where, f"region {code!r} emergency_link", region.get("emergency_link"))
    found: Dict[str, Tuple[Link, ...]] = {}
    for category in CATEGORIES:
        items = raw.get(category)
        if not isinstance(items, list) or not items:
            raise SafetyDataError(f"{where}: region {code!r}: links {category!r} must be a list of links")
        own = [_link(where, f"region {code!r} links {category!r}", item) for item in items]
        shown = _numbers(" ".join(lines[category]) + " " + str(region["emergency"]))
        for link in [*own, emergency]:
            digits = _DIGITS.match(link.href)
            if digits and digits.group(1) not in shown:
                raise SafetyDataError(
                    f"{where}: region {code!r}: link {link.title!r} ({link.href}) is not a number the "
                    f"{category!r} lines show"
                )
        found[category] = (*own, emergency, world_link)
    return found


def _resources(
    directory: Path, code: str, region: Mapping[str, Any], worldwide: str, world_link: Link
) -> RegionResources:
    emergency = " ".join(str(region["emergency"]).split())
    help_line = " ".join(str(region["help_line"]).split())
    number, help_number = _NUMBER.search(emergency), _NUMBER.search(help_line)
    for key, found in (("emergency", number), ("help_line", help_number)):
        if not found:
            raise SafetyDataError(f"{directory / 'hotlines.yml'}: region {code!r} has no number in {key!r}")
    lines = {}
    for category in CATEGORIES:
        value = region[category]
        if not isinstance(value, list) or not all(isinstance(line, str) and line.strip() for line in value):
            raise SafetyDataError(
                f"{directory / 'hotlines.yml'}: region {code!r}: {category!r} must be a list of lines"
            )
        lines[category] = tuple(" ".join(line.split()) for line in value)
    return RegionResources(
        code=code,
        emergency=emergency,
        emergency_number=re.sub(r"\D", "", number.group(0)),
        lines=lines,
        help_line=help_line,
        help_number=help_number.group(0),
        name=str(region.get("name") or code),
        links=_links(directory / "hotlines.yml", code, region, lines, world_link),
        worldwide=" ".join(worldwide.format(name=region.get("name") or code).split()),
    )
