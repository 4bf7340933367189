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
    payloads = [b["payload"] for b in variation["buttons"]]
    assert payloads[:2] == ["/affirm", "/deny"], "the two answers first"
    assert payloads[2:] == [link.href for link in safety.load().region_resources(region).links[category]]
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


# ------------------------------------------------------------------------ the crisis turn you can tap (13.3)

LINK_SCHEME = re.compile(r"^(tel:\+?\d+|sms:\+?\d+(\?&body=[A-Z0-9]+)?|https://\S+)$")


@pytest.mark.parametrize("region", sorted(HOTLINES["regions"]))
@pytest.mark.parametrize("category", ["suicide", "self_harm", "danger"])
@pytest.mark.parametrize("subject", ["self", "other"])
def test_every_crisis_reply_has_one_tap_links_that_match_its_text(region, category, subject) -> None:
    variation = _variation(region, category, subject)
    buttons, text = variation["buttons"], variation["text"]
    assert buttons and all(LINK_SCHEME.match(b["payload"]) for b in buttons), buttons
    assert not any(b["payload"].startswith("/") for b in buttons), (
        "no consultation or intent in the crisis reply"
    )
    digits = {re.sub(r"\D", "", n) for n in re.findall(r"\d(?:[\d -]*\d)?", text)}
    for button in buttons:
        number = re.match(r"^(?:tel|sms):\+?(\d+)", button["payload"])
        assert number is None or number.group(1) in digits, f"{button} dials a number the text does not show"
    region_data = safety.load().region_resources(region)
    assert buttons[-2]["title"] == f"Call {region_data.emergency_number}", (
        "the emergency number, then the directory"
    )
    assert buttons[-1]["payload"] == "https://findahelpline.com"


@pytest.mark.parametrize(
    ("category", "titles"),
    [
        ("suicide", ["Call 988", "Text 988", "Text HOME to 741741", "Call 911"]),
        ("self_harm", ["Call 988", "Text 988", "Text HOME to 741741", "Call 911"]),
        ("danger", ["Call 1-800-799-7233", "Text START to 88788", "Call 988", "Call 911"]),
    ],
)
def test_us_links(category, titles) -> None:
    buttons = _variation("US", category, "self")["buttons"]
    assert [b["title"] for b in buttons][:-1] == titles
    assert {
        "title": "Text HOME to 741741",
        "payload": "sms:741741?&body=HOME",
    } in buttons or category == "danger"


def test_uk_links() -> None:
    payloads = [b["payload"] for b in _variation("UK", "suicide", "self")["buttons"]]
    assert payloads[:3] == ["tel:116123", "sms:85258?&body=SHOUT", "tel:999"]


@pytest.mark.parametrize("region", sorted(HOTLINES["regions"]))
def test_one_region_is_named_and_never_called_these_countries(region) -> None:
    data = safety.load()
    text = _variation(region, "suicide", "self")["text"]
    assert f"If you are outside {HOTLINES['regions'][region]['name']}, findahelpline.com" in text
    assert "these countries" not in text
    assert data.worldwide((region,)) in text
    assert data.worldwide(("US", "UK")).startswith("Outside these countries")


def test_the_reply_is_short_paragraphs_with_one_line_per_service() -> None:
    text = _variation("US", "suicide", "self")["text"]
    blocks = text.split("\n\n")
    assert 3 <= len(blocks) <= 4 and all(len(b.split()) <= 45 for b in blocks), blocks
    assert (
        "Call or text 988 (988 Suicide & Crisis Lifeline), any time, free and confidential.\nText HOME"
        in text
    )


def _bad_hotlines(tmp_path, change) -> None:
    hotlines = yaml.safe_load((ROOT / "safety" / "hotlines.yml").read_text())
    change(hotlines)
    (tmp_path / "hotlines.yml").write_text(yaml.safe_dump(hotlines))
    (tmp_path / "crisis_copy.yml").write_text((ROOT / "safety" / "crisis_copy.yml").read_text())
    safety.load.cache_clear()
    try:
        with pytest.raises(safety.SafetyDataError) as error:
            safety.load(tmp_path)
    finally:
        safety.load.cache_clear()
    return str(error.value)


def test_a_link_to_a_number_the_text_does_not_show_stops_start(tmp_path) -> None:
    def wrong(h):
        h["regions"]["US"]["links"]["suicide"][0]["href"] = "tel:9880"

    assert "not a number the 'suicide' lines show" in _bad_hotlines(tmp_path, wrong)


def test_a_javascript_link_stops_start(tmp_path) -> None:
    def script(h):
        h["regions"]["UK"]["links"]["danger"][0]["href"] = "javascript:alert(1)"

    assert "is not a tel:, sms: or https: link" in _bad_hotlines(tmp_path, script)


@pytest.mark.parametrize(
    ("category", "booking_button"), [("suicide", False), ("self_harm", False), ("danger", True)]
)
async def test_no_booking_button_in_a_suicide_or_self_harm_turn(
    dispatcher, tracker, monkeypatch, category, booking_button
) -> None:
    """docs/crisis-detection.md, "The crisis turn": after a suicide or self-harm disclosure the only things
    to tap are the lines, also when a booking was paused; the booking waits and is mentioned."""
    from actions import safety as safety_actions

    monkeypatch.setattr(
        safety_actions, "record_event", lambda *_, **__: None
    )  # storage: test_booking_actions
    crisis = {"crisis": {"category": category, "subject": "self", "rule": "test"}}
    t = tracker(intent="crisis", text="x", slots={"booking_name": "Sam"}, extra=crisis)
    await safety_actions.ActionSafetyFollowup().run(dispatcher, t, {})
    [message] = dispatcher.messages
    assert bool(message.get("buttons")) is booking_button
    assert "paused, not lost" in message["text"]
