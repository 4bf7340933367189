"""Booking, hand-off and safety actions against a real (temporary) SQLite database."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet

from actions.booking import (
    PREFERENCE,
    UNCLEAR,
    ActionAskBookingSlot,
    ActionCancelBooking,
    ActionSubmitBookingForm,
    ValidateBookingForm,
)  # fmt: skip
from actions.handoff import ActionSubmitHandoffForm, ValidateHandoffForm
from actions.safety import ActionCheckInDeclined, ActionSafetyCheckIn, ActionSafetyFollowup
from haven.db import counts, migrate, repository
from haven.services import availability
from tests.conftest import make_tracker


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/haven.db")
    counts.drain()  # Alembic is not thread-safe: no count's migration may run beside this one
    migrate.upgrade()
    yield


def _free_slot() -> datetime:
    return availability.next_free_slots(datetime.now(timezone.utc), count=1)[0].start


BOOKING = {
    "booking_name": "Robin", "booking_contact": "robin@example.org", "booking_contact_method": "email",
    "booking_consent": True, "booking_confirm": True, "visitor_timezone": "America/New_York",
}  # fmt: skip


async def test_the_time_question_offers_free_slots_and_none_of_these(dispatcher, tracker, domain) -> None:
    events = await ActionAskBookingSlot().run(dispatcher, tracker(), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_booking_slot"
    payloads = [b["payload"] for b in message["buttons"]]
    assert len(payloads) == 4 and payloads[-1] == '/inform{"time_choice":"none"}'
    assert all(p.startswith('/inform{"time_choice":"20') for p in payloads[:3])
    assert events[0]["name"] == "visitor_timezone"


async def test_submit_stores_the_booking_and_sends_the_contract_payload(dispatcher, tracker, domain) -> None:
    start = _free_slot()
    events = await ActionSubmitBookingForm().run(
        dispatcher, tracker(slots={**BOOKING, "booking_slot": start.isoformat()}), domain
    )
    [message] = dispatcher.messages
    reference = message["custom"]["booking"]["reference"]
    assert message["custom"] == {"booking": {"reference": reference, "status": "requested"}}
    assert message["response"] == "utter_booking_requested"
    # Once, unbreakable in the text (U+2011); plain ASCII in the payload, for copying.
    assert message["booking_reference"] == reference.replace("-", "\u2011") and "-" in reference
    stored = repository.get_booking(reference)
    assert stored.slot_start == start and stored.name == "Robin" and stored.consent is True
    assert SlotSet("booking_name", None) in events


async def test_a_slot_taken_meanwhile_asks_for_another_time_keeping_the_rest(
    dispatcher, tracker, domain
) -> None:
    start = _free_slot()
    slots = {**BOOKING, "booking_slot": start.isoformat()}
    await ActionSubmitBookingForm().run(dispatcher, tracker(slots=slots), domain)
    dispatcher.messages.clear()
    events = await ActionSubmitBookingForm().run(dispatcher, tracker(slots=slots), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_slot_no_longer_free"]
    assert FollowupAction("booking_form") in events and SlotSet("booking_slot", None) in events
    assert SlotSet("booking_name", None) not in events


async def test_no_consent_stores_nothing(dispatcher, tracker, domain) -> None:
    slots = {**BOOKING, "booking_consent": False, "booking_slot": _free_slot().isoformat()}
    await ActionSubmitBookingForm().run(dispatcher, tracker(slots=slots), domain)
    assert dispatcher.messages[0]["response"] == "utter_booking_needs_consent"
    assert repository.list_bookings() == []


async def test_a_database_outage_keeps_every_answer_and_asks_again(
    dispatcher, tracker, domain, monkeypatch
) -> None:
    def down(**_):
        raise repository.DatabaseUnavailable("down")

    monkeypatch.setattr(repository, "create_booking", down)
    slots = {**BOOKING, "booking_slot": _free_slot().isoformat()}
    events = await ActionSubmitBookingForm().run(dispatcher, tracker(slots=slots), domain)
    assert dispatcher.messages[0]["response"] == "utter_booking_try_again"
    assert events == [SlotSet("booking_confirm", None), FollowupAction("booking_form")]


async def test_a_free_text_preference_is_a_valid_booking(dispatcher, tracker, domain) -> None:
    slots = {**BOOKING, "booking_slot": PREFERENCE, "booking_time_preference": "weekday mornings"}
    await ActionSubmitBookingForm().run(dispatcher, tracker(slots=slots), domain)
    reference = dispatcher.messages[0]["custom"]["booking"]["reference"]
    assert repository.get_booking(reference).time_preference == "weekday mornings"


async def test_a_preference_given_when_no_time_was_offered_is_stored_in_the_practice_zone(
    dispatcher, tracker, domain
) -> None:
    # A full calendar (or the database down when the times were asked for) offers no times, so the
    # visitor's time zone is never set; the booking must still be stored, not lost in an error
    # (found by tests/test_load.py once its bookings had filled the calendar).
    slots = {
        **BOOKING,
        "visitor_timezone": None,
        "booking_slot": PREFERENCE,
        "booking_time_preference": "evenings",
    }
    await ActionSubmitBookingForm().run(dispatcher, tracker(slots=slots), domain)
    [message] = dispatcher.messages
    stored = repository.get_booking(message["custom"]["booking"]["reference"])
    assert stored.timezone == availability.load_schedule().timezone_name
    assert stored.time_preference == "evenings"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("sam@example.com", "sam@example.com"), ("+1 (617) 555-0199", None), ("not sure", None), ("", None)],
)
def test_contact_validation(dispatcher, tracker, domain, value, expected) -> None:
    result = ValidateBookingForm().validate_booking_contact(value, dispatcher, tracker(), domain)
    if expected is None and value.startswith("+"):
        assert result["booking_contact_method"] == "phone"
    elif expected is None:
        assert result == {"booking_contact": None}
        assert dispatcher.messages[-1]["response"] == "utter_invalid_contact"
    else:
        assert result == {"booking_contact": expected, "booking_contact_method": "email"}


@pytest.mark.parametrize("name", ["", "x" * 81, "a@b.c", "/greet"])
def test_name_validation_refuses_what_is_not_a_name(dispatcher, tracker, domain, name) -> None:
    assert ValidateBookingForm().validate_booking_name(name, dispatcher, tracker(), domain) == {
        "booking_name": None
    }


async def test_cancel_clears_every_booking_slot(dispatcher, tracker, domain) -> None:
    events = await ActionCancelBooking().run(dispatcher, tracker(slots=BOOKING), domain)
    assert ActiveLoop(None) in events and SlotSet("booking_contact", None) in events
    assert dispatcher.messages[0]["response"] == "utter_booking_cancelled"


async def test_handoff_keeps_the_transcript_out_without_consent(dispatcher, tracker, domain) -> None:
    slots = {"handoff_name": "Ash", "handoff_contact": "ash@example.org", "handoff_contact_method": "email",
             "handoff_message": "Evening appointments?", "handoff_transcript_consent": False}  # fmt: skip
    events = [{"event": "user", "text": "something private"}, {"event": "bot", "text": "reply"}]
    await ActionSubmitHandoffForm().run(dispatcher, tracker(slots=slots, events=events), domain)
    [stored] = repository.list_handoffs()
    assert stored.transcript is None and stored.message == "Evening appointments?"
    dispatcher.messages.clear()
    await ActionSubmitHandoffForm().run(
        dispatcher, tracker(slots={**slots, "handoff_transcript_consent": True}, events=events), domain
    )
    assert "Visitor: something private" in repository.list_handoffs()[0].transcript


async def test_safety_followup_records_the_event_without_text_and_sets_the_help_line(
    dispatcher, tracker, domain
) -> None:
    crisis = {"crisis": {"category": "danger", "subject": "self", "rule": "danger.threat_to_kill"}}
    t = tracker(intent="crisis", text="private words", slots={"region": "UK"}, extra=crisis)
    events = await ActionSafetyFollowup().run(dispatcher, t, domain)
    [event] = repository.list_safety_events()
    assert (event.category, event.subject, event.rule, event.message_text) == (
        "danger",
        "self",
        "rule:danger.threat_to_kill",
        None,
    )
    assert SlotSet("crisis_active", True) in events
    help_line = [e for e in events if e["name"] == "help_line"][0]["value"]
    assert "116 123" in help_line
    assert "not crisis care" in dispatcher.messages[0]["text"]
    assert not any("topic" in (m.get("custom") or {}) for m in dispatcher.messages)


async def test_safety_followup_survives_a_database_outage(dispatcher, tracker, domain, monkeypatch) -> None:
    def down(**_):
        raise repository.DatabaseUnavailable("down")

    monkeypatch.setattr(repository, "record_safety_event", down)
    events = await ActionSafetyFollowup().run(dispatcher, tracker(intent="crisis"), domain)
    assert SlotSet("crisis_active", True) in events and dispatcher.messages


def test_a_chosen_time_is_kept_when_the_database_cannot_be_asked(
    dispatcher, tracker, domain, monkeypatch
) -> None:
    """Dropping it made the form ask for a time again and store the visitor's next "yes" as the time."""

    def down(*_, **__):
        raise repository.DatabaseUnavailable("down")

    monkeypatch.setattr(repository, "booked_slots", down)
    start = _free_slot()
    result = ValidateBookingForm().validate_booking_slot(start.isoformat(), dispatcher, tracker(), domain)
    assert result["booking_slot"] == start.isoformat() and result["booking_time_label"]


# --------------------------------------------------------------------------- the check-in tier


def _after_check_in(answer: str) -> list:
    """Events of a conversation where the last bot turn was the check-in and `answer` came next."""
    return [
        {
            "event": "user",
            "text": "something uncertain",
            "parse_data": {"intent": {"name": "crisis_check_in"}},
        },
        {"event": "bot", "text": "Some of what you wrote makes me want to ask you directly"},
        {"event": "action", "name": "utter_crisis_check_in"},
        {"event": "action", "name": "action_safety_check_in"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": answer, "parse_data": {"intent": {"name": "affirm"}}},
    ]


async def test_a_check_in_is_recorded_with_its_tier_and_what_fired(dispatcher, tracker, domain) -> None:
    crisis = {
        "crisis": {
            "category": "self_harm",
            "subject": "self",
            "rule": "model",
            "model_score": 0.634,
            "tier": "check_in",
        }
    }
    t = tracker(intent="crisis_check_in", text="private words", extra=crisis)
    events = await ActionSafetyCheckIn().run(dispatcher, t, domain)
    [event] = repository.list_safety_events()
    assert (event.category, event.rule, event.tier, event.message_text) == (
        "self_harm",
        "model:0.63",
        "check_in",
        None,
    )
    assert events == [] and dispatcher.messages == [], (
        "the question waits for its answer; no help line pinned yet"
    )


async def test_a_yes_to_the_check_in_is_recorded_as_a_crisis(dispatcher, tracker, domain) -> None:
    t = tracker(
        intent="affirm", text="yes", slots={"crisis_category": "suicide"}, events=_after_check_in("yes")
    )
    events = await ActionSafetyFollowup().run(dispatcher, t, domain)
    [event] = repository.list_safety_events()
    assert (event.category, event.rule, event.tier) == ("suicide", "check_in:yes", "crisis")
    assert SlotSet("crisis_active", True) in events


async def test_a_no_to_the_check_in_goes_back_with_the_door_open(dispatcher, tracker, domain) -> None:
    await ActionCheckInDeclined().run(dispatcher, tracker(intent="deny", text="no"), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_check_in_declined" and not message.get("buttons")
    assert repository.list_safety_events() == []


async def test_a_no_to_the_check_in_offers_to_continue_a_paused_booking(dispatcher, tracker, domain) -> None:
    t = tracker(intent="deny", text="no", slots={"booking_name": "Sam"})
    await ActionCheckInDeclined().run(dispatcher, t, domain)
    [message] = dispatcher.messages
    assert [b["payload"] for b in message["buttons"]] == ["/book_consultation"]


def _name_step_then_declined(
    text: str, crisis: dict, asked: str = "booking_name", form: str = "booking_form"
) -> list:
    """Events: `form` asked `asked`, `text` got a check-in (`crisis` in its parse), "no" came next."""
    return [
        {"event": "active_loop", "name": form},
        {"event": "slot", "name": "requested_slot", "value": asked},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": text,
            "parse_data": {"intent": {"name": "crisis_check_in"}, "crisis": crisis},
        },
        {"event": "action", "name": "utter_crisis_check_in"},
        {"event": "action", "name": "action_deactivate_loop"},
        {"event": "active_loop", "name": None},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "action", "name": "action_safety_check_in"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "no", "parse_data": {"intent": {"name": "deny"}}},
    ]


MODEL_CHECK_IN = {
    "category": "suicide",
    "subject": "self",
    "rule": "model",
    "model_score": 0.915,
    "tier": "check_in",
}


async def test_a_name_only_the_model_asked_about_is_kept_after_a_no(dispatcher, domain) -> None:
    """ "River" at the name step: the risk model asks (0.9), the visitor says no; asking for the name
    again would ask the same check-in again, so the name is kept and the booking can go on."""
    t = make_tracker(intent="deny", text="no", events=_name_step_then_declined("River", MODEL_CHECK_IN))
    events = await ActionCheckInDeclined().run(dispatcher, t, domain)
    assert events == [SlotSet("booking_name", "River")]
    [message] = dispatcher.messages
    assert message["response"] == "utter_check_in_declined"
    assert [b["payload"] for b in message["buttons"]] == ["/book_consultation"]


async def test_a_name_at_the_message_forms_name_step_is_kept_too(dispatcher, domain) -> None:
    events = _name_step_then_declined("River", MODEL_CHECK_IN, "handoff_name", "handoff_form")
    t = make_tracker(intent="deny", text="no", events=events)
    assert await ActionCheckInDeclined().run(dispatcher, t, domain) == [SlotSet("handoff_name", "River")]
    [message] = dispatcher.messages
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("Continue your message", "/leave_message")
    ]


async def test_a_no_to_the_check_in_offers_to_continue_a_paused_message(dispatcher, tracker, domain) -> None:
    t = tracker(intent="deny", text="no", slots={"handoff_contact": "sam@example.org"})
    await ActionCheckInDeclined().run(dispatcher, t, domain)
    [message] = dispatcher.messages
    assert [b["payload"] for b in message["buttons"]] == ["/leave_message"]


@pytest.mark.parametrize(
    "rule", ["model", "self_harm.habit_relapse"], ids=["the model asked", "a pattern asked"]
)
async def test_a_message_for_the_therapist_the_check_in_asked_about_is_kept(dispatcher, domain, rule) -> None:
    """Written to the therapist, who reads it: kept after a no whatever asked about it."""
    text = "things have been really dark lately and I don't know who else to ask"
    crisis = {**MODEL_CHECK_IN, "rule": rule}
    events = _name_step_then_declined(text, crisis, "handoff_message", "handoff_form")
    t = make_tracker(intent="deny", text="no", events=events)
    assert await ActionCheckInDeclined().run(dispatcher, t, domain) == [SlotSet("handoff_message", text)]
    [message] = dispatcher.messages
    assert [b["payload"] for b in message["buttons"]] == ["/leave_message"]


@pytest.mark.parametrize(
    "text, crisis",
    [
        ("yes", MODEL_CHECK_IN),
        ("   ", MODEL_CHECK_IN),
        ("I can't go on", {**MODEL_CHECK_IN, "tier": "crisis"}),
    ],
)
async def test_no_message_or_a_full_reply_is_not_kept(dispatcher, domain, text, crisis) -> None:
    events = _name_step_then_declined(text, crisis, "handoff_message", "handoff_form")
    t = make_tracker(intent="deny", text="no", events=events)
    assert await ActionCheckInDeclined().run(dispatcher, t, domain) == []


@pytest.mark.parametrize(
    "text, crisis, asked",
    [
        (
            "River",
            {**MODEL_CHECK_IN, "rule": "suicide.means_on_my_mind"},
            "booking_name",
        ),  # a reviewed pattern
        ("River", MODEL_CHECK_IN, "booking_contact"),  # not the name question
        ("River", {}, "booking_name"),  # no check-in verdict recorded
        ("the river keeps calling me tonight", MODEL_CHECK_IN, "booking_name"),  # more than a name's words
        ("is the river safe?", MODEL_CHECK_IN, "booking_name"),  # a question, not a name
        ("yes", MODEL_CHECK_IN, "booking_name"),
    ],
)
async def test_anything_else_the_check_in_asked_about_is_not_taken_as_a_name(
    dispatcher, domain, text, crisis, asked
) -> None:
    t = make_tracker(intent="deny", text="no", events=_name_step_then_declined(text, crisis, asked))
    assert await ActionCheckInDeclined().run(dispatcher, t, domain) == []
    [message] = dispatcher.messages
    assert not message.get("buttons"), "nothing of the booking is kept, so there is nothing to continue"


def _declined_after(text: str, ranking: list) -> list:
    """Events where `text` got the check-in (the classifier's `ranking` under it) and "no" came next."""
    events = _after_check_in("no")
    events[0] = {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": "crisis_check_in"}, "intent_ranking": ranking},
    }
    return events


@pytest.mark.parametrize(
    "ranking, payloads",
    [
        ([("crisis_check_in", 1.0), ("why_still_attached", 0.754), ("why_logic_fails", 0.158)],
         ["/why_still_attached"]),
        ([("crisis_check_in", 1.0), ("crisis", 0.6), ("how_to_heal", 0.55)], ["/how_to_heal"]),
        ([("crisis_check_in", 1.0), ("why_still_attached", 0.45), ("why_logic_fails", 0.4)], []),
        ([("crisis_check_in", 1.0), ("nlu_fallback", 1.0), ("why_still_attached", 0.3)], []),
        ([("crisis_check_in", 1.0), ("share_feelings", 0.96), ("is_it_weakness", 0.013)], []),
        ([], []),
    ],
)  # fmt: skip
async def test_a_no_to_the_check_in_offers_the_topic_the_message_also_asked(
    dispatcher, domain, ranking, payloads
) -> None:
    """Only an article topic the classifier was sure of (the fallback's bar) under the check-in."""
    ranked = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    events = _declined_after("sometimes i think about not being here anymore. why can't i let go?", ranked)
    await ActionCheckInDeclined().run(
        dispatcher, make_tracker(intent="deny", text="no", events=events), domain
    )
    [message] = dispatcher.messages
    assert message["response"] == "utter_check_in_declined"
    assert [b["payload"] for b in message.get("buttons") or []] == payloads


async def test_a_no_to_the_check_in_offers_the_faq_entry_the_message_also_asked(dispatcher, domain) -> None:
    ranked = [{"name": "crisis_check_in", "confidence": 1.0}, {"name": "practice_faq", "confidence": 0.9}]
    events = _declined_after("i feel so empty. how much does a session with her cost?", ranked)
    t = make_tracker(intent="deny", text="no", events=events, slots={"booking_name": "Sam"})
    await ActionCheckInDeclined().run(dispatcher, t, domain)
    [message] = dispatcher.messages
    assert [b["payload"] for b in message["buttons"]] == [
        '/practice_faq{"faq_entry": "fees"}',
        "/book_consultation",
    ], "the question first, then the paused booking"


def test_the_topic_answer_bar_is_the_nlu_fallback_threshold() -> None:
    from actions.knowledge import TOPIC_ANSWER_MIN_CONFIDENCE
    from haven import yaml_files
    from haven.settings import ROOT

    [fallback] = [
        c for c in yaml_files.read(ROOT / "config.yml")["pipeline"] if c["name"] == "FallbackClassifier"
    ]
    assert fallback["threshold"] == TOPIC_ANSWER_MIN_CONFIDENCE


# ----------------------------------------------------------------------------- the forgiving forms (issue 13)
# Intents and confidences below are what the trained model gave for these messages (measured).


def _at(tracker, slot: str, text: str, intent: str, confidence: float = 1.0, **slots):
    return tracker(
        text=text,
        slots={"requested_slot": slot, **slots},
        extra={"intent": {"name": intent, "confidence": confidence}},
    )


@pytest.mark.parametrize(
    ("text", "intent", "confidence"),
    [
        ("why do I still feel attached to him after everything?", "why_still_attached", 1.0),
        ("trauma bonds", "what_is_trauma_bond", 0.998),
        ("I want to kill myself", "crisis", 1.0),
        ("never mind", "stop", 0.991),
        ("I'm scared", "share_feelings", 0.731),
        ("can you help me?", "nlu_fallback", 0.525),
        ("are you a bot?", "bot_challenge", 1.0),
        ("/what_is_trauma_bond", "what_is_trauma_bond", 1.0),
    ],
)
async def test_a_question_at_the_name_step_is_left_to_the_digression_rules(
    dispatcher, tracker, domain, text, intent, confidence
) -> None:
    t = _at(tracker, "booking_name", text, intent, confidence)
    assert await ValidateBookingForm().extract_booking_name(dispatcher, t, domain) == {}
    assert await ValidateHandoffForm().extract_handoff_name(dispatcher, _at(
        tracker, "handoff_name", text, intent, confidence), domain) == {}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "intent", "confidence"),
    [
        ("Sam", "share_feelings", 0.528),
        ("Jordan", "out_of_scope", 0.776),
        ("Quinn", "nlu_fallback", 0.525),
        ("Jose", "out_of_scope", 0.934),
        ("my name is Robin", "nlu_fallback", 0.525),
        ("I'm Sam", "out_of_scope", 0.6),
    ],
)
async def test_a_name_the_classifier_misreads_is_still_a_name(dispatcher, tracker, domain, text, intent,
                                                              confidence) -> None:  # fmt: skip
    form = ValidateBookingForm()
    extracted = await form.extract_booking_name(
        dispatcher, _at(tracker, "booking_name", text, intent, confidence), domain
    )
    assert extracted == {"booking_name": text}
    assert form.validate_booking_name(text, dispatcher, tracker(), domain) == {
        "booking_name": text.split()[-1]
    }
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("yes", "utter_name_not_yes_no"),
        ("no", "utter_name_not_yes_no"),
        ("ok sure", "utter_name_not_yes_no"),
        ("hi", "utter_name_not_greeting"),
        ("hello there", "utter_name_not_greeting"),
        ("good morning", "utter_name_not_greeting"),
        ("hi, can you explain?", "utter_name_not_question"),
    ],
)
def test_yes_no_and_greetings_are_not_names_and_are_asked_again_kindly(dispatcher, tracker, domain, text,
                                                                       response) -> None:  # fmt: skip
    assert ValidateBookingForm().validate_booking_name(text, dispatcher, tracker(), domain) == {
        "booking_name": None
    }
    assert dispatcher.messages[-1]["response"] == response
    assert ValidateHandoffForm().validate_handoff_name(text, dispatcher, tracker(), domain) == {
        "handoff_name": None
    }


async def test_a_question_at_the_contact_step_is_answered_not_refused(dispatcher, tracker, domain) -> None:
    question = _at(tracker, "booking_contact", "how much does it cost?", "consultation_info", 0.589)
    assert await ValidateBookingForm().extract_booking_contact(dispatcher, question, domain) == {}
    contact = _at(tracker, "booking_contact", "robin@example.org", "contact_details")
    assert await ValidateBookingForm().extract_booking_contact(dispatcher, contact, domain) == {
        "booking_contact": "robin@example.org"
    }
    vague = _at(tracker, "booking_contact", "not sure", "deny", 0.56)
    assert await ValidateBookingForm().extract_booking_contact(dispatcher, vague, domain) == {
        "booking_contact": "not sure"
    }, "not a question: the validator asks for an email or phone number again"


@pytest.mark.parametrize("text", ["yes", "ok", "sure", "yes please", "hi"])
def test_yes_is_not_a_time_and_the_time_is_asked_again_with_examples(
    dispatcher, tracker, domain, text
) -> None:
    t = _at(tracker, "booking_slot", text, "affirm")
    assert ValidateBookingForm().validate_booking_slot(text, dispatcher, t, domain) == {"booking_slot": None}
    assert dispatcher.messages[-1]["response"] == "utter_time_not_yes"
    preference = ValidateBookingForm().validate_booking_time_preference(text, dispatcher, t, domain)
    assert preference == {"booking_time_preference": None}
    assert dispatcher.messages[-1]["response"] == "utter_time_preference_unclear"


@pytest.mark.parametrize(
    ("text", "intent", "confidence"),
    [("mornings", "greet", 0.955), ("any time", "thanks", 0.646), ("after 5pm", "out_of_scope", 0.558),
     ("I work until 5 so evenings", "share_feelings", 0.6)],
)  # fmt: skip
async def test_a_time_in_words_is_a_time_whatever_the_classifier_says(
    dispatcher, tracker, domain, text, intent, confidence
) -> None:
    form = ValidateBookingForm()
    t = _at(tracker, "booking_slot", text, intent, confidence)
    assert await form.extract_booking_slot(dispatcher, t, domain) == {"booking_slot": text}
    assert form.validate_booking_slot(text, dispatcher, t, domain)["booking_time_preference"] == text


async def test_a_time_button_is_read_from_its_entity(dispatcher, tracker, domain) -> None:
    start = _free_slot().isoformat()
    t = tracker(
        text=f'/inform{{"time_choice":"{start}"}}',
        slots={"requested_slot": "booking_slot"},
        extra={
            "intent": {"name": "inform", "confidence": 1.0},
            "entities": [{"entity": "time_choice", "value": start}],
        },
    )
    assert await ValidateBookingForm().extract_booking_slot(dispatcher, t, domain) == {"booking_slot": start}


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [("/affirm", "affirm", True), ("no", "deny", False), ("huh", "affirm", UNCLEAR),
     ("hmm no", "deny", UNCLEAR), ("hello", "greet", UNCLEAR),
     ("what is a trauma bond", "what_is_trauma_bond", None)],
)  # fmt: skip
async def test_consent_is_a_clear_yes_or_no(dispatcher, tracker, domain, text, intent, expected) -> None:
    form = ValidateBookingForm()
    extracted = await form.extract_booking_consent(
        dispatcher, _at(tracker, "booking_consent", text, intent), domain
    )
    assert extracted == ({} if expected is None else {"booking_consent": expected})
    if expected is UNCLEAR:
        assert form.validate_booking_consent(UNCLEAR, dispatcher, tracker(), domain) == {
            "booking_consent": None
        }
        assert dispatcher.messages[-1]["response"] == "utter_yes_or_no"


async def test_only_the_requested_slot_is_read(dispatcher, tracker, domain) -> None:
    t = _at(tracker, "booking_contact", "Robin", "nlu_fallback", 0.525)
    assert await ValidateBookingForm().extract_booking_name(dispatcher, t, domain) == {}


async def test_a_question_is_the_message_for_the_therapist(dispatcher, tracker, domain) -> None:
    text = "why do I still feel attached to him after everything?"
    t = _at(tracker, "handoff_message", text, "why_still_attached")
    assert await ValidateHandoffForm().extract_handoff_message(dispatcher, t, domain) == {
        "handoff_message": text
    }
    crisis = _at(tracker, "handoff_message", "I want to kill myself", "crisis")
    assert await ValidateHandoffForm().extract_handoff_message(dispatcher, crisis, domain) == {}


async def test_the_crisis_followup_inside_a_form_leaves_the_question_to_the_form(dispatcher, domain) -> None:
    t = make_tracker(intent="crisis", text="private words", slots={"booking_name": "Lee"})
    t.active_loop = {"name": "booking_form"}
    await ActionSafetyFollowup().run(dispatcher, t, domain)
    [message] = dispatcher.messages
    assert "not crisis care" in message["text"] and not message["buttons"]
    assert "paused" not in message["text"]
