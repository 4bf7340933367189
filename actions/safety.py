"""After the crisis reply: record the event for the therapist, offer the consultation for later, and
keep a "help is still here" line on every later reply."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import button, knowledge_base
from actions.storage import ensure_schema
from haven import safety
from haven import settings as settings_module
from haven.db import repository

logger = logging.getLogger(__name__)


def record_event(tracker: Tracker) -> None:
    """Never lets a storage failure get between the visitor and the help they were just given."""
    crisis: Dict[str, Any] = tracker.latest_message.get("crisis") or {}
    store_text = settings_module.load().store_crisis_text
    try:
        ensure_schema()
        repository.record_safety_event(
            category=crisis.get("category") or tracker.get_slot("crisis_category") or "suicide",
            subject=crisis.get("subject") or tracker.get_slot("crisis_subject") or "self",
            rule=str(crisis.get("rule") or "unknown")[:120],
            conversation_id=tracker.sender_id,
            message_text=(tracker.latest_message.get("text") or None) if store_text else None,
        )
    except Exception as error:  # noqa: BLE001 - any failure here must not stop the safety reply
        logger.error("safety event not recorded: %s", type(error).__name__)


class ActionSafetyFollowup(Action):
    def name(self) -> Text:
        return "action_safety_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        record_event(tracker)
        data = safety.load()
        help_line = data.help_line(tracker.get_slot("region"))
        if tracker.get_slot("booking_name") or tracker.get_slot("booking_contact"):
            dispatcher.utter_message(
                text=f"{data.followup} {data.followup_booking_paused}",
                buttons=[button(data.continue_booking, "book_consultation")],
            )
        else:
            dispatcher.utter_message(
                text=data.followup, buttons=[button(knowledge_base().labels["book"], "book_consultation")]
            )
        return [SlotSet("crisis_active", True), SlotSet("help_line", f"\n\n{help_line}")]
