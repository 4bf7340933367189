"""Leaving a message for the therapist: validation, submit (with the transcript only on consent), cancel."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import digression
from actions.booking import (
    answer_text,
    answer_yes_no,
    clear_slots,
    name_problem,
    validated_contact,
    validated_name,
    yes_no_or_ask_again,
)
from actions.knowledge import button
from actions.storage import ensure_schema
from haven.db import repository
from haven.db.models import SAFETY_TIERS
from haven.db.session import DatabaseUnavailable
from haven.services import notify, safety
from haven.text import clean_text

logger = logging.getLogger(__name__)

HANDOFF_SLOTS = ("handoff_name", "handoff_contact", "handoff_contact_method", "handoff_message",
                 "handoff_transcript_consent")  # fmt: skip


def validated_message(value: Any) -> Optional[Text]:
    """The message for the therapist, cleaned; None when there is none, it is too long, or it is only a
    yes or a no."""
    text = clean_text(value if isinstance(value, str) else "")
    if not text or len(text) > repository.MAX_MESSAGE or digression.is_yes_no(text):
        return None
    return text


# The form step whose answer is the message, as (active loop, requested slot).
MESSAGE_STEP = ("handoff_form", "handoff_message")
# The button that sends a message the crisis check held back (unsent_message) as the form's answer.
SEND_WRITTEN = "send_written_message"
# After these the form is over: a message held back before them is not waiting any more.
FORM_ENDED = frozenset({"action_submit_handoff_form", "action_cancel_handoff", "action_restart",
                        "action_session_start"})  # fmt: skip


def unsent_message(tracker: Tracker) -> Optional[Text]:
    """The message for the therapist that the crisis check held back, while it is still waiting; else None.

    Why: crisis language is never taken as a form's answer by itself. The message step's answer that got
    the full crisis reply (or a check-in, answered yes or not at all) is answered with the crisis lines
    first, and the step is asked again; retyped, it would get the same reply, so a visitor whose message
    for the therapist is about wanting to disappear could never send it. The step now offers to send it
    as written (ActionAskHandoffMessage), by the visitor's choice. It waits until the form takes another
    message, ends, or the conversation restarts; a "no" to the check-in keeps it already
    (actions/safety.kept_answer)."""
    events = list(tracker.events or [])
    held = [
        (index, event) for index, event, step in digression.form_steps(events)
        if step == MESSAGE_STEP and digression.crisis_of(event).get("tier") in SAFETY_TIERS
    ]  # fmt: skip
    if not held:
        return None
    index, event = held[-1]
    if any(_stops_waiting(later) for later in events[index + 1 :]):
        return None
    return validated_message(event.get("text"))


def _stops_waiting(event: Dict[Text, Any]) -> bool:
    """The form took a message, ended, or the conversation restarted."""
    kind, name = event.get("event"), event.get("name")
    return (
        (kind == "slot" and name == "handoff_message" and bool(event.get("value")))
        or (kind == "action" and name in FORM_ENDED)
        or kind in ("restart", "session_started")
    )


def _tapped_send_written(tracker: Tracker) -> bool:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") == SEND_WRITTEN


def transcript(tracker: Tracker) -> Text:
    """The conversation so far as plain lines, for the therapist; only built when the visitor agreed."""
    lines = []
    for event in tracker.events or []:
        text = event.get("text")
        if not text:
            continue
        if event.get("event") == "user" and not text.startswith("/"):
            lines.append(f"Visitor: {text}")
        elif event.get("event") == "bot":
            lines.append(f"Haven: {text}")
    return "\n".join(lines)[-repository.MAX_TRANSCRIPT :]


class ValidateHandoffForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_handoff_form"

    # Reading the answers (custom mappings, as in the booking form): a digression leaves the slot unset.
    # The message step takes questions as they come: a question for the therapist *is* the message.
    async def extract_handoff_name(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return answer_text(tracker, "handoff_name", "name")

    async def extract_handoff_contact(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return answer_text(tracker, "handoff_contact", "contact")

    async def extract_handoff_message(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if _tapped_send_written(tracker):  # "Send what I wrote": the held-back message, if still waiting
            if tracker.get_slot("requested_slot") != "handoff_message":
                return {}
            return {"handoff_message": unsent_message(tracker)}
        return answer_text(tracker, "handoff_message", "message")

    async def extract_handoff_transcript_consent(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return answer_yes_no(tracker, "handoff_transcript_consent")

    def validate_handoff_name(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if isinstance(value, str):
            value = digression.name_from_intro(value) or value  # "my name is Sam" gives "Sam"
        problem = name_problem(value)
        if problem:
            dispatcher.utter_message(response=problem)
            return {"handoff_name": None}
        return {"handoff_name": validated_name(value)}

    def validate_handoff_contact(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        contact = validated_contact(value)
        if contact is None:
            dispatcher.utter_message(response="utter_invalid_contact")
            return {"handoff_contact": None}
        return {"handoff_contact": contact["contact"], "handoff_contact_method": contact["method"]}

    def validate_handoff_message(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        text = validated_message(value)
        if text is None:
            gone = _tapped_send_written(tracker)
            dispatcher.utter_message(
                response="utter_written_message_gone" if gone else "utter_invalid_message"
            )
        return {"handoff_message": text}

    def validate_handoff_transcript_consent(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return yes_no_or_ask_again("handoff_transcript_consent", value, dispatcher)


class ActionAskHandoffMessage(Action):
    """The form's message step. When the crisis check held back what the visitor wrote for the therapist
    (unsent_message), it offers to send it as written, saying plainly that the therapist cannot answer
    now and the crisis lines can; typing something else works as always."""

    def name(self) -> Text:
        return "action_ask_handoff_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[EventType]:
        if unsent_message(tracker) is None:
            dispatcher.utter_message(response="utter_ask_handoff_message")
            return []
        copy = safety.load()
        dispatcher.utter_message(text=copy.written_message_offer)
        dispatcher.utter_message(
            response="utter_ask_handoff_message", buttons=[button(copy.send_written_message, SEND_WRITTEN)]
        )
        return []


class ActionSubmitHandoffForm(Action):
    def name(self) -> Text:
        return "action_submit_handoff_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[EventType]:
        consent = tracker.get_slot("handoff_transcript_consent") is True
        try:
            ensure_schema()
            record = repository.create_handoff(
                name=tracker.get_slot("handoff_name"),
                contact_method=tracker.get_slot("handoff_contact_method"),
                contact=tracker.get_slot("handoff_contact"),
                message=tracker.get_slot("handoff_message"),
                transcript=transcript(tracker) if consent else None,
                transcript_consent=consent,
                conversation_id=tracker.sender_id,
            )
        except (DatabaseUnavailable, ValueError) as error:
            logger.warning("hand-off not stored: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_booking_try_again")
            return [SlotSet("handoff_transcript_consent", None), FollowupAction("handoff_form")]
        notify.notify_in_background("handoff", record)
        dispatcher.utter_message(response="utter_handoff_sent", handoff_reference=record.reference)
        return clear_slots(HANDOFF_SLOTS)


class ActionCancelHandoff(Action):
    def name(self) -> Text:
        return "action_cancel_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[EventType]:
        dispatcher.utter_message(response="utter_booking_cancelled")
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + clear_slots(HANDOFF_SLOTS)
