"""Bad input, piece by piece: the text cleaner, the hardened Rasa channels (with a stand-in Rasa
behind them), the InputGuard NLU components, and the trained model itself on hostile text.

The same inputs go through the real servers in tests/test_bad_input_e2e.py."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
import uuid
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.shared.nlu.training_data.message import Message
from sanic import Sanic

from haven import yaml_files
from haven.plugins import channels
from haven.settings import ROOT
from haven.text import break_long_runs, clean_text, shorten, single_line
from nlu_components.crisis import CrisisDetector
from nlu_components.input_guard import CRISIS_TEXT_KEY, GUARD_KEY, InputGuard, InputGuardVerdict, is_contact

FILLER = "He lied to me for years and I still miss him, I don't understand why I feel this way. "
HOSTILE = [
    "",
    "   \n\t  ",
    "\ud800",
    "why do I still feel \udfff attached",
    "hi\x00\x07\x1b[31m there\x7f\x9b",
    "\u202ewhy do I still feel attached\u202c",
    "ki\u200bll my\u2066self",
    "😀🏳️‍🌈👨‍👩‍👧",
    "¿Por qué sigo sintiendo apego? 为什么我还是放不下他 لماذا ما زلت متعلقة",
    "Robert'); DROP TABLE bookings;--",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "{{ 7*7 }} ${jndi:ldap://x} %s%s%n",
    "x" * 100_000,
]


# --------------------------------------------------------------------------- haven.text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  hello  ", "hello"),
        ("\ud800", ""),
        ("a\ud800b\udfffc", "abc"),
        ("hi\x00there\x07", "hi there"),
        ("line\r\nbreak\rand\u2028more", "line\nbreak\nand\nmore"),
        ("\u202eevil\u202c \u2066x\u2069", "evil x"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("cafe\u0301", "café"),  # NFC
        ("👨‍👩‍👧 ok", "👨‍👩‍👧 ok"),  # zero-width joiners stay
        ("نه\u200cمی", "نه\u200cمی"),  # so does the non-joiner Persian needs
        (None, ""),
        (42, ""),
        ({"a": 1}, ""),
    ],
)
def test_clean_text(raw, clean) -> None:
    assert clean_text(raw) == clean


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=200))
def test_clean_text_always_gives_storable_visible_text(raw: str) -> None:
    text = clean_text(raw)
    text.encode("utf-8")  # no lone surrogates left
    assert clean_text(text) == text, "idempotent"
    for ch in text:
        assert ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"), repr(ch)
        assert not 0x202A <= ord(ch) <= 0x202E and not 0x2066 <= ord(ch) <= 0x2069, repr(ch)


def test_single_line_and_shorten() -> None:
    assert single_line(" Ro\u202ebin \n Lee\t") == "Robin Lee"
    assert shorten("short", 10) == "short"
    assert shorten("word " * 300, 1000) == ("word " * 200).strip()
    assert len(shorten("x" * 5000, 1000)) == 1000


def test_break_long_runs_cuts_only_what_no_word_is() -> None:
    sentence = "why do I still feel attached, antidisestablishmentarianism?"
    assert break_long_runs(sentence) == sentence
    assert break_long_runs("😀" * 100) == " ".join(["😀" * 40, "😀" * 40, "😀" * 20])
    assert break_long_runs("a " + "x" * 81) == "a " + " ".join(["x" * 40, "x" * 40, "x"])


def test_a_row_of_emoji_no_longer_stalls_the_tokenizer(detector) -> None:
    text = break_long_runs("😀" * 20_000)
    started = time.perf_counter()
    detector.detect(text)
    assert time.perf_counter() - started < 3.0, "was minutes before the runs were cut"


# --------------------------------------------------------------------------- the channels' field checks


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_sender_means_none(value) -> None:
    assert channels.sender_id(value) is None


@pytest.mark.parametrize(("value", "sender"), [("abc", "abc"), (123, "123"), ("a" * 128, "a" * 128)])
def test_usable_senders(value, sender) -> None:
    assert channels.sender_id(value) == sender


@pytest.mark.parametrize("value", [{"a": 1}, [1], True, 1.5, "a" * 129, "a\ud800", "a\x00b", "\u202eab"])
def test_unusable_senders_are_refused(value) -> None:
    with pytest.raises(channels.BadInput, match="invalid_sender"):
        channels.sender_id(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), ("  hi ", "hi"), (42, "42"), ("\ud800", ""), ("x" * 100_000, "x" * 20_000)],
)
def test_message_text(value, text) -> None:
    assert channels.message_text(value) == text


@pytest.mark.parametrize("value", [{"x": 1}, [1, 2], True])
def test_unusable_messages_are_refused(value) -> None:
    with pytest.raises(channels.BadInput, match="invalid_message"):
        channels.message_text(value)


def test_metadata_is_an_object_of_bounded_size() -> None:
    assert channels.metadata(None) is None
    assert channels.metadata({"locale": "en-GB\ud800"}) == {"locale": "en-GB"}
    assert channels.metadata('{"timezone": "Europe/London"}') == {"timezone": "Europe/London"}
    for bad in ("x", "[1]", [1], 5):
        with pytest.raises(channels.BadInput, match="invalid_metadata"):
            channels.metadata(bad)
    with pytest.raises(channels.BadInput, match="metadata_too_large"):
        channels.metadata({"x": "y" * 10_000})
    nested: Dict[str, Any] = {}
    for _ in range(20):
        nested = {"n": nested}
    with pytest.raises(channels.BadInput, match="invalid_metadata"):
        channels.metadata(nested)


# --------------------------------------------------------------------------- the REST channel, stand-in Rasa

KIND = "kind words from the domain"


class _FakeNLG:
    async def generate(self, name: str, tracker: Any, output_channel: str) -> Dict[str, Any]:
        assert name == channels.KIND_REPLY
        return {"text": KIND}


class _FakeProcessor:
    async def get_tracker(self, sender: str) -> Any:
        return SimpleNamespace(sender_id=sender)


def rest_app(behaviour):
    """A sanic app with the hardened REST channel; `behaviour(message)` plays the Rasa agent."""
    received: List[Any] = []

    async def on_new_message(message) -> None:
        received.append(message)
        await behaviour(message)

    app = Sanic(f"channel_test_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = SimpleNamespace(processor=_FakeProcessor(), nlg=_FakeNLG())
    app.blueprint(channels.HavenRestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
    app.ctx.received = received
    return app


async def _greets(message) -> None:
    await message.output_channel.send_response(message.sender_id, {"text": "hello"})


def post(app, body: Any, raw: bool = False):
    data = body if raw else json.dumps(body)
    _, response = app.test_client.post("/webhooks/rest/webhook", data=data)
    return response


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_body"),
        (b"   ", "empty_body"),
        (b'{"sender":', "invalid_json"),
        (b'{"sender": "a", "message": "hi \xff\xfe"}', "invalid_json"),
        (b"[1, 2]", "expected_json_object"),
        (b'"hi"', "expected_json_object"),
        (b"null", "expected_json_object"),
        (b'{"sender": {"a": 1}, "message": "hi"}', "invalid_sender"),
        (b'{"sender": "a\\ud800", "message": "hi"}', "invalid_sender"),
        (b'{"sender": "a", "message": ["hi"]}', "invalid_message"),
        (b'{"sender": "a", "message": "hi", "metadata": "x"}', "invalid_metadata"),
        (b'{"sender": "a", "message": "hi", "metadata": [1]}', "invalid_metadata"),
    ],
)
def test_malformed_rest_bodies_get_a_400_json_error(body, code) -> None:
    app = rest_app(_greets)
    response = post(app, body, raw=True)
    assert response.status == 400
    assert response.json == {"error": code}
    assert app.ctx.received == []


def test_a_body_over_the_limit_gets_413() -> None:
    response = post(
        rest_app(_greets), b'{"message": "' + b"x" * (channels.MAX_BODY_BYTES + 1) + b'"}', raw=True
    )
    assert response.status == 413 and response.json == {"error": "body_too_large"}


def test_a_message_reaches_rasa_cleaned_and_capped() -> None:
    app = rest_app(_greets)
    response = post(app, {"sender": "s1", "message": "\u202ehi\ud800 there\x00" + "x" * 50_000})
    assert response.status == 200 and response.json == [{"recipient_id": "s1", "text": "hello"}]
    [message] = app.ctx.received
    assert message.text.startswith("hi there ") and len(message.text) <= channels.MAX_MESSAGE_CHARS
    assert message.parse_data is None and message.input_channel == "rest"


@pytest.mark.parametrize(
    "body", [{"sender": "s2"}, {"sender": "s2", "message": None}, {"sender": "s2", "message": " \ud800 "}]
)
def test_an_empty_message_skips_the_nlu_with_the_empty_message_intent(body) -> None:
    app = rest_app(_greets)
    assert post(app, body).status == 200
    [message] = app.ctx.received
    assert message.text == "" and message.parse_data["intent"]["name"] == "empty_message"


def test_a_request_without_sender_gets_its_own_conversation() -> None:
    app = rest_app(_greets)
    first, second = post(app, {"message": "hi"}).json, post(app, {"message": "hi"}).json
    assert first[0]["recipient_id"] != second[0]["recipient_id"]
    assert "default" not in (first[0]["recipient_id"], second[0]["recipient_id"])


def test_the_client_cannot_choose_the_input_channel() -> None:
    app = rest_app(_greets)
    post(app, {"sender": "s3", "message": "hi", "input_channel": "facebook"})
    assert app.ctx.received[0].input_channel == "rest"


async def _silent(message) -> None:
    return None


async def _raises(message) -> None:
    raise RuntimeError("boom")


async def _failed_custom_action(name: str) -> None:
    """What Rasa's processor does when the action server cannot run a custom action: RemoteAction.run
    raises (here: nothing listens on the action server's port) and the processor carries on."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from haven.ops.processes import free_port

    action = RemoteAction(name, EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook"))
    try:
        await action.run(
            CollectingOutputChannel(),
            TemplatedNaturalLanguageGenerator({}),
            DialogueStateTracker("s4", []),
            Domain.empty(),
        )
    except Exception:  # noqa: BLE001 - as rasa.core.processor.MessageProcessor._run_action does
        return
    raise AssertionError("the action call was expected to fail")


async def _half_answer(message) -> None:
    await message.output_channel.send_response(message.sender_id, {"text": "Let's book."})
    await _failed_custom_action("booking_form")


async def _crisis_then_failure(message) -> None:
    payload = {"custom": {"safety": "crisis", "category": "suicide"}}
    await message.output_channel.send_response(message.sender_id, {"text": "help numbers"})
    await message.output_channel.send_response(message.sender_id, payload)
    await _failed_custom_action("x")


@pytest.mark.parametrize(
    ("behaviour", "texts"),
    [
        (_greets, ["hello"]),
        (_silent, [KIND]),
        (_raises, [KIND]),
        (_half_answer, ["Let's book.", KIND]),
        (_crisis_then_failure, ["help numbers", None]),
    ],
)
def test_no_message_goes_unanswered(behaviour, texts, caplog) -> None:
    caplog.set_level(logging.INFO)
    response = post(rest_app(behaviour), {"sender": "s4", "message": "private words"})
    assert response.status == 200
    assert [m.get("text") for m in response.json] == texts
    assert "private words" not in caplog.text


def test_streaming_still_works_and_is_answered_kindly() -> None:
    app = rest_app(_silent)
    _, response = app.test_client.post(
        "/webhooks/rest/webhook?stream=true", data=json.dumps({"sender": "s5", "message": "hi"})
    )
    assert response.status == 200
    assert [json.loads(line)["text"] for line in response.text.splitlines() if line] == [KIND]


def test_the_rest_health_route_stays() -> None:
    _, response = rest_app(_greets).test_client.get("/webhooks/rest/")
    assert response.status == 200 and response.json == {"status": "ok"}


class _FakeSio:
    def __init__(self) -> None:
        self.emitted: List[Any] = []

    async def emit(self, event: str, data: Any = None, room: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"unexpected {sorted(kwargs)}")  # what python-socketio does
        self.emitted.append((event, data, room))


def test_socketio_custom_payloads_arrive_as_custom_elements() -> None:
    sio = _FakeSio()
    output = channels.HavenSocketIOOutput(sio, "bot_uttered")
    asyncio.run(
        output.send_response("room-1", {"text": "help", "custom": {"safety": "crisis", "category": "danger"}})
    )
    assert sio.emitted == [
        ("bot_uttered", {"text": "help"}, "room-1"),
        ("bot_uttered", {"custom": {"safety": "crisis", "category": "danger"}}, "room-1"),
    ]
    asyncio.run(output.send_custom_json("room-1", {"data": {"x": 1}}))
    assert sio.emitted[-1] == ("bot_uttered", {"x": 1}, "room-1"), "Rasa's own {data: ...} form still works"


_DOMAIN_APP = SimpleNamespace(
    ctx=SimpleNamespace(
        agent=SimpleNamespace(domain=SimpleNamespace(intents=["greet", "inform"], entities=["time_choice"]))
    )
)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("/greet", "/greet"),
        ('/inform{"time_choice":"none"}', '/inform{"time_choice":"none"}'),
        ("/greet@0.9", "/greet@0.9"),
        ("hello /greet", "hello /greet"),
        ("/I can't go on", "I can't go on"),
        ("/nonexistent_intent", "nonexistent_intent"),
        ('/inform{"unknown_entity": 1}', 'inform{"unknown_entity": 1}'),
        ("/inform{not json}", "inform{not json}"),
        ("/greet trailing words", "greet trailing words"),
        ("//", ""),
    ],
)
def test_only_readable_button_payloads_keep_their_slash(text, kept) -> None:
    assert channels.command_or_text(text, _DOMAIN_APP) == kept


def test_the_channels_keep_rasas_names() -> None:
    assert channels.HavenRestInput.name() == "rest" and channels.HavenSocketIOInput.name() == "socketio"
    credentials = (ROOT / "credentials.yml").read_text()
    assert (
        "haven.plugins.channels.HavenRestInput" in credentials
        and "haven.plugins.channels.HavenSocketIOInput" in credentials
    )


# --------------------------------------------------------------------------- the NLU components


def guard(text: str, **config: Any) -> Message:
    message = Message.build(text=text)
    InputGuard({**InputGuard.get_default_config(), **config}).process([message])
    return message


def test_input_guard_keeps_short_messages_as_typed() -> None:
    message = guard("why do I still feel attached?")
    assert message.get("text") == "why do I still feel attached?"
    assert message.get(GUARD_KEY) == {"truncated": False, "original_chars": 29, "read_chars": 29}
    assert message.get(CRISIS_TEXT_KEY) is None


def test_input_guard_leaves_button_payloads_whole_for_rasa_to_read() -> None:
    """A booked time's payload is one long run; cut, the booking lost its slot (found in CI)."""
    payload = '/inform{"time_choice":"2026-11-25T17:30:00+00:00"}'
    assert guard(payload).get("text") == payload
    assert guard("x" * 81).get("text") == " ".join(["x" * 40, "x" * 40, "x"]), "other long runs are still cut"


def test_input_guard_cleans_what_spacy_cannot_read() -> None:
    assert guard("why \ud800 do I\u202e feel\x00 attached").get("text") == "why  do I feel  attached"


def test_input_guard_keeps_the_first_part_of_a_long_message_and_more_for_the_crisis_check() -> None:
    text = (FILLER * 2000)[:100_000]
    message = guard(text)
    assert len(message.get("text")) <= 1000 and text.startswith(message.get("text"))
    assert message.get(CRISIS_TEXT_KEY) == text[:20_000]
    assert message.get(GUARD_KEY) == {
        "truncated": True,
        "original_chars": 100_000,
        "read_chars": len(message.get("text")),
    }


def test_input_guard_refuses_nonsensical_limits() -> None:
    with pytest.raises(ValueError):
        InputGuard({"max_chars": 0, "crisis_scan_chars": 10})
    with pytest.raises(ValueError):
        InputGuard({"max_chars": 100, "crisis_scan_chars": 10})


def verdict(message: Message, intent: str = "why_still_attached") -> Message:
    message.set("intent", {"name": intent, "confidence": 0.9})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.9}])
    InputGuardVerdict().process([message])
    return message


def test_the_verdict_marks_long_and_empty_messages_and_nothing_else() -> None:
    assert verdict(guard("hello")).get("intent")["name"] == "why_still_attached"
    long = verdict(guard(FILLER * 100))
    assert long.get("intent") == {"name": "message_too_long", "confidence": 1.0}
    assert [r["name"] for r in long.get("intent_ranking")] == ["message_too_long", "why_still_attached"]
    assert verdict(guard("\u202e \x00")).get("intent")["name"] == "empty_message"


@pytest.mark.parametrize(
    ("text", "contact"),
    [
        ("quillon@example.org", True),
        (" robin.lee+haven@mail.example.co.uk ", True),
        ("+1 (617) 555-0100", True),
        ("07700 900123", True),
        ("call me at robin@example.org", False),
        ("12345", False),
        ("stop", False),
        ("@", False),
    ],
)
def test_a_bare_contact_is_recognised_by_its_form(text, contact) -> None:
    assert is_contact(text) is contact


def test_the_verdict_calls_a_bare_email_contact_details_not_stop() -> None:
    message = verdict(guard("quillon@example.org"), intent="stop")
    assert message.get("intent")["name"] == "contact_details"


def held(intent: str, confidence: float) -> Message:
    message = Message.build(text="Quinn")
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}])
    InputGuardVerdict({"intent_thresholds": {"stop": 0.5}}).process([message])
    return message


def test_a_weak_stop_is_not_trusted_to_cancel_a_form() -> None:
    assert held("stop", 0.31).get("intent")["name"] == "nlu_fallback"
    assert [r["name"] for r in held("stop", 0.31).get("intent_ranking")] == ["nlu_fallback", "stop"]
    assert held("stop", 0.73).get("intent")["name"] == "stop"
    assert held("greet", 0.31).get("intent")["name"] == "greet", "only the listed intents"
    with pytest.raises(ValueError):
        InputGuardVerdict({"intent_thresholds": {"stop": 5}})


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector({**CrisisDetector.get_default_config(), "default_region": "US"})


@pytest.mark.parametrize(("position", "found"), [(100, True), (5_000, True), (19_000, True), (30_000, False)])
def test_crisis_language_in_a_long_message_is_found_within_the_scan_limit(detector, position, found) -> None:
    text = FILLER * 400
    text = text[:position] + " I want to kill myself. " + text[position:]
    message = verdict(guard(text))
    detector.process([message])
    assert (message.get("intent")["name"] == "crisis") is found
    if not found:
        assert message.get("intent")["name"] == "message_too_long"


def test_the_crisis_detector_sees_what_the_guard_cleaned(detector) -> None:
    message = verdict(guard("i want to ki\u200bll my\u202eself \ud800"), intent="nlu_fallback")
    detector.process([message])
    assert message.get("intent")["name"] == "crisis"


# --------------------------------------------------------------------------- the trained model


@pytest.fixture(scope="module")
def agent(trained_agent):
    return trained_agent


def parse(agent, text: str) -> Dict[str, Any]:
    return asyncio.run(agent.parse_message(text))


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.model
def test_the_model_parses_hostile_text_without_raising(agent, text) -> None:
    parsed = parse(agent, text)
    assert "intent" in parsed and isinstance(parsed["text"], str)
    parsed["text"].encode("utf-8")


@pytest.mark.model
def test_the_model_reads_a_lone_surrogate_message_around_the_surrogate(agent) -> None:
    assert (
        parse(agent, "why do I still feel \ud800 attached to him")["intent"]["name"] == "why_still_attached"
    )


@pytest.mark.parametrize("contact", ["quillon.vexley@example.org", "quillon@example.org", "+44 7700 900123"])
@pytest.mark.model
def test_the_model_never_reads_a_contact_as_stop(agent, contact) -> None:
    assert parse(agent, contact)["intent"]["name"] == "contact_details"


@pytest.mark.parametrize("name", ["Quinn", "Quincy", "Morgan", "Robin", "Zoë", "李雷", "Fatima"])
@pytest.mark.model
def test_the_model_never_reads_a_first_name_as_stop(agent, name) -> None:
    assert parse(agent, name)["intent"]["name"] != "stop"


@pytest.mark.parametrize("text", ["stop", "cancel", "never mind", "I want to stop", "nvm", "no stop"])
@pytest.mark.model
def test_real_requests_to_stop_still_stop(agent, text) -> None:
    assert parse(agent, text)["intent"]["name"] == "stop"


@pytest.mark.model
def test_the_model_answers_empty_text_with_empty_message(agent) -> None:
    assert parse(agent, "")["intent"]["name"] == "empty_message"


@pytest.mark.model
def test_a_100000_character_message_is_read_quickly_in_part(agent) -> None:
    text = (FILLER * 2000)[:100_000]
    parse(agent, "warm up")
    started = time.perf_counter()
    parsed = parse(agent, text)
    elapsed = time.perf_counter() - started
    print(f"\n100 000-character message parsed in {elapsed:.2f}s")
    assert parsed["intent"]["name"] == "message_too_long"
    assert parsed[GUARD_KEY]["truncated"] and parsed[GUARD_KEY]["original_chars"] == 100_000
    assert elapsed < 3.0


@pytest.mark.model
def test_crisis_language_in_a_long_message_still_wins(agent) -> None:
    text = FILLER * 50 + " honestly I want to end my life. " + FILLER * 50
    parsed = parse(agent, text)
    assert parsed["intent"]["name"] == "crisis"
    assert parsed["crisis"]["category"] == "suicide"


def test_the_widget_and_the_nlu_agree_on_the_longest_message() -> None:
    import re as re_module

    config = yaml_files.read(ROOT / "config.yml")
    [guard_config] = [c for c in config["pipeline"] if c["name"].endswith("InputGuard")]
    assert config["pipeline"][0] is guard_config, "InputGuard must run first, before spaCy"
    widget = (ROOT / "website" / "static" / "haven-widget.js").read_text()
    assert re_module.search(r'maxlength: "(\d+)"', widget).group(1) == str(guard_config["max_chars"])
    assert guard_config["crisis_scan_chars"] <= channels.MAX_MESSAGE_CHARS
