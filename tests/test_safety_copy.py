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

ALL = yaml.safe_load((ROOT / "domain" / "safety_responses.yml").read_text())["responses"]


def _conditioned(name: str, **wanted: str) -> dict:
    for variation in ALL[name]:
        if {c["name"]: c["value"] for c in variation.get("condition", [])} == wanted:
            return variation
    raise AssertionError(f"no {name} variation for {wanted}")


def test_generated_domain_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, "scripts/build_safety_domain.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "run `make safety-domain` after editing safety/*.yml"


def _variation(region: str, category: str, subject: str) -> dict:
    return _conditioned("utter_crisis", region=region, crisis_category=category, crisis_subject=subject)


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


@pytest.mark.parametrize("region", sorted(HOTLINES["regions"]))
@pytest.mark.parametrize("category", ["suicide", "self_harm", "danger"])
@pytest.mark.parametrize("subject", ["self", "other"])
def test_every_check_in_asks_directly_gives_resources_and_both_answers(region, category, subject) -> None:
    variation = _conditioned(
        "utter_crisis_check_in", region=region, crisis_category=category, crisis_subject=subject
    )
    text = variation["text"]
    assert variation["custom"] == {"safety": "check_in", "category": category}
    assert "?" in text, "a check-in asks a direct question"
    assert "not an emergency service" in text and "not a person" in text
    assert HOTLINES["regions"][region]["emergency"] in text
    for line in HOTLINES["regions"][region][category]:
        assert line in text
    assert [b["payload"] for b in variation["buttons"]] == ["/affirm", "/deny"]
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("region", sorted(HOTLINES["regions"]))
def test_a_declined_check_in_thanks_and_leaves_the_door_open(region) -> None:
    text = _conditioned("utter_check_in_declined", region=region)["text"]
    help_number = safety.load().region_resources(region).help_number
    assert text.startswith("Thank you") and help_number in text
    assert "custom" not in _conditioned("utter_check_in_declined", region=region), "no safety payload on 'no'"


def test_check_in_fallbacks_exist_and_use_the_default_region() -> None:
    for name in ("utter_crisis_check_in", "utter_check_in_declined"):
        fallback = [v for v in ALL[name] if "condition" not in v]
        assert len(fallback) == 1 and "988" in fallback[0]["text"]


def test_check_in_copy_is_safe() -> None:
    texts = [
        v["text"].lower() for name in ("utter_crisis_check_in", "utter_check_in_declined") for v in ALL[name]
    ]
    for text in texts:
        for phrase in BANNED:
            assert phrase not in text, phrase
