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
from actions.storage import ensure_schema
from haven.db import repository
from haven.db.session import DatabaseUnavailable
from haven.services import notify
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
            dispatcher.utter_message(response="utter_invalid_message")
        return {"handoff_message": text}

    def validate_handoff_transcript_consent(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return yes_no_or_ask_again("handoff_transcript_consent", value, dispatcher)


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
