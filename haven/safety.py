"""The reviewed safety data (safety/hotlines.yml, safety/crisis_copy.yml), loaded and checked once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

from haven.settings import ROOT

SAFETY_DIR = ROOT / "safety"
CATEGORIES = ("suicide", "self_harm", "danger")
# A locale's country (en-GB -> GB) to the region code used in hotlines.yml, where they differ.
COUNTRY_TO_REGION = {"GB": "UK"}
_NUMBER = re.compile(r"\d(?:[\d -]*\d)?")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True)
class RegionResources:
    """One region's crisis resources, as the widget's crisis banner shows them."""

    code: str
    emergency: str  # e.g. "call 999"
    emergency_number: str  # e.g. "999": the digits of `emergency`, for a tel: link
    lines: Mapping[str, Tuple[str, ...]]  # category -> lines, categories as in CATEGORIES
    help_line: str
    help_number: str  # e.g. "116 123": the first number in `help_line`, as written there

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
    resources: Mapping[str, RegionResources] = field(default_factory=dict)

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
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    for key in ("followup", "followup_booking_paused", "continue_booking", "not_emergency"):
        if not copy.get(key):
            raise SafetyDataError(f"{directory / 'crisis_copy.yml'}: {key!r} is missing")
    return SafetyData(
        default_region=hotlines["default_region"],
        followup=" ".join(copy["followup"].split()),
        followup_booking_paused=" ".join(copy["followup_booking_paused"].split()),
        continue_booking=copy["continue_booking"],
        resources={code: _resources(directory, code, r) for code, r in regions.items()},
    )


def _resources(directory: Path, code: str, region: Mapping[str, Any]) -> RegionResources:
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
    )
