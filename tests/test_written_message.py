"""A message for the therapist that the crisis check held back can still be sent, by the visitor's choice
(actions/handoff.py: unsent_message, ActionAskHandoffMessage; actions/safety.py: the paused message in
the crisis follow-up). End to end through the real servers: tests/test_forgiving_form_e2e.py."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import SlotSet

from actions.handoff import ActionAskHandoffMessage, ValidateHandoffForm, unsent_message
from actions.safety import ActionCheckInDeclined, ActionSafetyFollowup
from haven.db import counts, migrate
from haven.services import safety
from tests.conftest import make_tracker
from tests.test_booking_actions import _name_step_then_declined

WRITTEN = (
    "I've been feeling really low and sometimes wish I could just disappear. "
    "I'd like to talk to her about it."
)
FULL = {"category": "suicide", "subject": "self", "rule": "suicide.wish_dead", "tier": "crisis"}
CHECK_IN = {"category": "suicide", "subject": "self", "rule": "model", "model_score": 0.8, "tier": "check_in"}


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/haven.db")
    counts.drain()
    migrate.upgrade()
    yield


def _user(text: str, intent: str, crisis: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    parse: Dict[str, Any] = {"intent": {"name": intent}}
    if crisis is not None:
        parse["crisis"] = crisis
    return {"event": "user", "text": text, "parse_data": parse}


def _asked(slot: str) -> List[Dict[str, Any]]:
    return [
        {"event": "active_loop", "name": "handoff_form"},
        {"event": "slot", "name": "requested_slot", "value": slot},
        {"event": "action", "name": "action_listen"},
    ]


def _full_reply_at(slot: str, text: str = WRITTEN) -> List[Dict[str, Any]]:
    """The form asked `slot`; `text` got the full crisis reply; the form asked the same step again."""
    return [
        *_asked(slot),
        _user(text, "crisis", FULL),
        {"event": "action", "name": "utter_crisis"},
        {"event": "action", "name": "action_safety_followup"},
        {"event": "action", "name": "utter_form_kept"},
        {"event": "action", "name": "handoff_form"},
        {"event": "slot", "name": "requested_slot", "value": slot},
        {"event": "action", "name": "action_listen"},
    ]


def _check_in_at_message_step(answer: str, intent: str) -> List[Dict[str, Any]]:
    """The message step's answer got a check-in (the form paused), then `answer` came."""
    events = _name_step_then_declined(WRITTEN, CHECK_IN, "handoff_message", "handoff_form")
    return [*events[:-1], _user(answer, intent)]


def _tracker(events, intent: str = "send_written_message", text: str = "/send_written_message", **slots):
    t = make_tracker(
        intent=intent, text=text, events=events, slots={"requested_slot": "handoff_message", **slots}
    )
    t.active_loop = {"name": "handoff_form"}
    return t


def test_the_message_step_answer_that_got_the_full_reply_is_waiting() -> None:
    assert unsent_message(_tracker(_full_reply_at("handoff_message"))) == WRITTEN


def test_a_check_in_at_the_message_step_answered_yes_leaves_it_waiting() -> None:
    assert unsent_message(_tracker(_check_in_at_message_step("yes", "affirm"))) == WRITTEN


@pytest.mark.parametrize(
    "after",
    [
        [{"event": "slot", "name": "handoff_message", "value": "Please call me on Tuesday."}],
        [{"event": "action", "name": "action_submit_handoff_form"}],
        [{"event": "action", "name": "action_cancel_handoff"}],
        [{"event": "restart"}],
    ],
    ids=["another message taken", "sent", "stopped", "restarted"],
)
def test_it_stops_waiting_once_the_form_has_a_message_or_is_over(after) -> None:
    assert unsent_message(_tracker(_full_reply_at("handoff_message") + after)) is None


@pytest.mark.parametrize(
    "events",
    [
        _full_reply_at("handoff_name", "I want to die"),  # not the message step
        _full_reply_at("handoff_message", "yes"),  # not a message (a yes)
        [*_asked("handoff_message"), _user(WRITTEN, "share_feelings")],  # no alarm: the form took it
    ],
    ids=["the name step", "only a yes", "no alarm"],
)
def test_nothing_else_is_held_back(events) -> None:
    assert unsent_message(_tracker(events)) is None


async def test_the_step_asked_again_offers_to_send_it_and_says_the_therapist_cannot_answer_now(
    dispatcher, domain
) -> None:
    await ActionAskHandoffMessage().run(dispatcher, _tracker(_full_reply_at("handoff_message")), domain)
    offer, ask = dispatcher.messages
    copy = safety.load()
    assert offer["text"] == copy.written_message_offer
    assert "can't answer right away" in offer["text"] and "crisis lines now" in offer["text"]
    assert WRITTEN not in offer["text"], "the words are not repeated back on a screen someone may see"
    assert ask["response"] == "utter_ask_handoff_message"
    assert ask["buttons"] == [{"title": "Send what I wrote", "payload": "/send_written_message"}]


async def test_the_step_asked_the_first_time_is_the_plain_question(dispatcher, domain) -> None:
    await ActionAskHandoffMessage().run(dispatcher, _tracker(_asked("handoff_message")), domain)
    [ask] = dispatcher.messages
    assert ask["response"] == "utter_ask_handoff_message" and not ask.get("buttons")


async def test_send_what_i_wrote_makes_it_the_message(dispatcher, domain) -> None:
    t = _tracker([*_full_reply_at("handoff_message"), _user("/send_written_message", "send_written_message")])
    form = ValidateHandoffForm()
    assert await form.extract_handoff_message(dispatcher, t, domain) == {"handoff_message": WRITTEN}
    assert form.validate_handoff_message(WRITTEN, dispatcher, t, domain) == {"handoff_message": WRITTEN}
    assert not dispatcher.messages


async def test_send_what_i_wrote_with_nothing_waiting_sends_nothing_and_says_so(dispatcher, domain) -> None:
    events = [
        *_full_reply_at("handoff_message"),
        {"event": "action", "name": "action_cancel_handoff"},
        *_asked("handoff_message"),
        _user("/send_written_message", "send_written_message"),
    ]
    t = _tracker(events)
    form = ValidateHandoffForm()
    extracted = await form.extract_handoff_message(dispatcher, t, domain)
    assert extracted == {"handoff_message": None}
    assert form.validate_handoff_message(None, dispatcher, t, domain) == {"handoff_message": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_written_message_gone"]


async def test_the_button_is_only_read_at_the_message_step(dispatcher, domain) -> None:
    t = _tracker(_full_reply_at("handoff_message"), requested_slot="handoff_transcript_consent")
    assert await ValidateHandoffForm().extract_handoff_message(dispatcher, t, domain) == {}


async def test_a_no_to_the_check_in_keeps_it_so_nothing_is_left_waiting(dispatcher, domain) -> None:
    events = _check_in_at_message_step("no", "deny")
    t = make_tracker(intent="deny", text="no", events=events)
    kept = await ActionCheckInDeclined().run(dispatcher, t, domain)
    assert kept == [SlotSet("handoff_message", WRITTEN)]
    assert (
        unsent_message(_tracker([*events, {"event": "slot", "name": "handoff_message", "value": WRITTEN}]))
        is None
    )


@pytest.mark.parametrize(
    "category, buttons",
    [("suicide", []), ("self_harm", []), ("danger", [("Continue your message", "/leave_message")])],
)
async def test_a_yes_to_the_check_in_says_the_message_is_paused_not_lost(
    dispatcher, domain, category, buttons
) -> None:
    """Outside the form (the check-in paused it): no button beside the lines after a suicide or self-harm
    disclosure, as for a paused booking (docs/crisis-detection.md, "The crisis turn")."""
    t = make_tracker(
        intent="affirm",
        text="yes",
        events=_check_in_at_message_step("yes", "affirm"),
        slots={"handoff_name": "Sam", "handoff_contact": "sam@example.org", "crisis_category": category},
    )
    await ActionSafetyFollowup().run(dispatcher, t, domain)
    [message] = dispatcher.messages
    assert "Your message for the therapist is paused, not lost" in message["text"]
    assert [(b["title"], b["payload"]) for b in message.get("buttons") or []] == buttons
