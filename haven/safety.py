"""The reviewed safety data (safety/hotlines.yml, safety/crisis_copy.yml), loaded and checked once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

import yaml

from haven.settings import ROOT

SAFETY_DIR = ROOT / "safety"
CATEGORIES = ("suicide", "self_harm", "danger")


class SafetyDataError(ValueError):
    """A safety data file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class SafetyData:
    default_region: str
    help_lines: Mapping[str, str]
    followup: str
    followup_booking_paused: str
    continue_booking: str

    def region(self, wanted: Optional[str]) -> str:
        wanted = (wanted or "").upper()
        return wanted if wanted in self.help_lines else self.default_region

    def help_line(self, region: Optional[str]) -> str:
        return self.help_lines[self.region(region)]


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
        raise SafetyDataError(f"{directory / 'hotlines.yml'}: default_region must be one of {sorted(regions)}")
    for key in ("followup", "followup_booking_paused", "continue_booking", "not_emergency"):
        if not copy.get(key):
            raise SafetyDataError(f"{directory / 'crisis_copy.yml'}: {key!r} is missing")
    return SafetyData(
        default_region=hotlines["default_region"],
        help_lines={code: " ".join(r["help_line"].split()) for code, r in regions.items()},
        followup=" ".join(copy["followup"].split()),
        followup_booking_paused=" ".join(copy["followup_booking_paused"].split()),
        continue_booking=copy["continue_booking"],
    )
