"""The crisis reply's words and numbers: reviewed data, rendered into the domain, safe-messaging checks."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from haven import safety
from haven.settings import ROOT

RESPONSES = yaml.safe_load((ROOT / "domain" / "safety_responses.yml").read_text())["responses"][
    "utter_crisis"
]
HOTLINES = yaml.safe_load((ROOT / "safety" / "hotlines.yml").read_text())


def test_generated_domain_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, "scripts/build_safety_domain.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "run `make safety-domain` after editing safety/*.yml"


def _variation(region: str, category: str, subject: str) -> dict:
    for variation in RESPONSES:
        values = {c["name"]: c["value"] for c in variation.get("condition", [])}
        if values == {"region": region, "crisis_category": category, "crisis_subject": subject}:
            return variation
    raise AssertionError(f"no variation for {region}/{category}/{subject}")


@pytest.mark.parametrize("region", sorted(HOTLINES["regions"]))
@pytest.mark.parametrize("category", ["suicide", "self_harm", "danger"])
@pytest.mark.parametrize("subject", ["self", "other"])
def test_every_reply_is_specific_honest_and_carries_the_payload(region, category, subject) -> None:
    variation = _variation(region, category, subject)
    text = variation["text"]
    assert variation["custom"] == {"safety": "crisis", "category": category}
    assert "not an emergency service" in text and "not a person" in text
    assert re.search(r"\d{3}", text), "a reply must give concrete numbers"
    assert "findahelpline.com" in text
    assert HOTLINES["regions"][region]["emergency"] in text
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize(
    ("category", "numbers"),
    [
        ("suicide", ["988", "741741", "911"]),
        ("self_harm", ["988", "741741"]),
        ("danger", ["1-800-799-7233", "88788", "911"]),
    ],
)
def test_us_default_numbers(category, numbers) -> None:
    text = _variation("US", category, "self")["text"]
    for number in numbers:
        assert number in text


def test_the_fallback_variation_is_the_broadest_help() -> None:
    fallback = [v for v in RESPONSES if "condition" not in v]
    assert len(fallback) == 1
    assert "988" in fallback[0]["text"] and fallback[0]["custom"]["safety"] == "crisis"


BANNED = [
    "pills",
    "overdose",
    "cut ",
    "hang",
    "jump",
    "gun",
    "method",
    "you have depression",
    "diagnos",
    "calm down",
    "don't worry",
    "it's not that bad",
    "i'm a therapist",
    "i am a person",
]


def test_no_method_details_no_diagnosis_no_minimising() -> None:
    texts = [v["text"].lower() for v in RESPONSES] + [safety.load().followup.lower()]
    for text in texts:
        for phrase in BANNED:
            assert phrase not in text, phrase


def test_help_line_per_region() -> None:
    data = safety.load()
    assert "988" in data.help_line(None)
    assert "116 123" in data.help_line("uk")
    assert data.help_line("ZZ") == data.help_line("US")
