"""Booking the free consultation: the form's validation, its dynamic question, submit and cancel.

Storage goes through haven.db.repository only. A lost booking is the failure to avoid: database
errors become a kind "please try again" with every answer kept, and a slot taken by someone else
in the meantime sends the visitor back to the time question with fresh options.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import digression
from actions.knowledge import knowledge_base
from actions.storage import booking_limit_message, ensure_schema, visitor_timezone
from haven.db import repository
from haven.db.session import DatabaseUnavailable
from haven.services import availability, notify
from haven.text import single_line

logger = logging.getLogger(__name__)

NONE_OF_THESE = "none"
PREFERENCE = "preference"
BOOKING_SLOTS = (
    "booking_name", "booking_contact", "booking_contact_method", "booking_slot", "booking_time_label",
    "booking_time_preference", "booking_consent", "booking_confirm",
)  # fmt: skip
SLOT_OFFER_COUNT = 3


def clear_slots(names: tuple) -> List[EventType]:
    return [SlotSet(name, None) for name in names]


def contact_method(value: Text) -> Text:
    return "email" if "@" in value else "phone"


def validated_contact(value: Any) -> Optional[Dict[Text, Text]]:
    """Normalised contact and its method, or None when it is neither an email nor a phone number."""
    value = single_line(value)
    if not value:
        return None
    method = contact_method(value)
    try:
        return {"contact": repository.normalize_contact(method, value), "method": method}
    except ValueError:
        return None


def validated_name(value: Any) -> Optional[Text]:
    # Control, bidi and lone-surrogate characters go (haven/text.py): a name is shown in the staff inbox.
    name = single_line(value)
    if not name or len(name) > repository.MAX_NAME or "@" in name or name.startswith("/"):
        return None
    return name


# ----------------------------------------------------------------------------- reading an answer
# The forms' slots use custom mappings (domain.yml, booking): these read the latest message as the
# answer to the question being asked, or leave it to the digression rules (actions/digression.py).
# The hand-off form (actions/handoff.py) uses them too.

UNCLEAR = "__unclear__"  # a yes/no slot's answer that was neither: the validator asks again


def answer_text(tracker: Tracker, slot: Text, kind: Text) -> Dict[Text, Any]:
    """{slot: the message text} when the latest message answers `slot`; {} for a digression or when
    `slot` is not the question being asked (the form then rejects its turn and the rules answer)."""
    if tracker.get_slot("requested_slot") != slot or digression.is_digression(tracker.latest_message, kind):
        return {}
    return {slot: tracker.latest_message.get("text") or ""}


def answer_yes_no(tracker: Tracker, slot: Text) -> Dict[Text, Any]:
    """True or False from the buttons or a typed yes/no; UNCLEAR for anything else that is no digression."""
    message = tracker.latest_message
    if tracker.get_slot("requested_slot") != slot or digression.is_digression(message, "yes_no"):
        return {}
    intent, _ = digression.intent_of(message)
    text = tracker.latest_message.get("text") or ""
    if intent in ("affirm", "deny") and not digression.is_unsure(text):
        return {slot: intent == "affirm"}
    return {slot: UNCLEAR}


def name_problem(value: Any) -> Optional[Text]:
    """The response that says what a name needs, or None when `value` can be a name."""
    text = single_line(value) if isinstance(value, str) else ""
    if validated_name(text) is None:
        return "utter_invalid_name"
    if digression.is_yes_no(text):
        return "utter_name_not_yes_no"
    if digression.is_greeting(text):
        return "utter_name_not_greeting"
    if digression.looks_like_question(text):
        return "utter_name_not_question"
    return None


def time_problem(value: Any) -> Optional[Text]:
    """The response that asks again for a time, or None when `value` says when (any words but a bare
    yes/no or greeting: "weekday mornings", "after 5", "any time")."""
    text = single_line(value) if isinstance(value, str) else ""
    if not text or digression.is_yes_no(text) or digression.is_greeting(text):
        return "utter_time_not_yes"
    return None


def yes_no_or_ask_again(slot: Text, value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    if isinstance(value, bool):
        return {slot: value}
    dispatcher.utter_message(response="utter_yes_or_no")
    return {slot: None}


def one_line(reference: Text) -> Text:
    """The reference with a non-breaking hyphen (U+2011): "HV-" / "PHF3SY" never wraps apart in any
    client. The custom payload keeps the plain ASCII reference for copying and for the staff search."""
    return reference.replace("-", "\u2011")


def free_slots(now: datetime, tz: Optional[Text]) -> List[availability.Slot]:
    start, end = availability.search_window(now)
    booked = repository.booked_slots(start, end)
    return availability.next_free_slots(now, count=SLOT_OFFER_COUNT, booked=booked, tz_for_display=tz)


def _parse_start(value: Text) -> Optional[datetime]:
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        return None
    return start if start.tzinfo else None


class ValidateBookingForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_booking_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        # The free-text preference is only asked after "none of these work".
        if tracker.get_slot("booking_slot") == PREFERENCE:
            return domain_slots
        return [slot for slot in domain_slots if slot != "booking_time_preference"]

    # Reading the answers (custom mappings): a digression leaves the slot unset for the rules.
    async def extract_booking_name(self, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return answer_text(tracker, "booking_name", "name")

    async def extract_booking_contact(self, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return answer_text(tracker, "booking_contact", "contact")

    async def extract_booking_slot(self, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "booking_slot":
            return {}
        chosen = next(tracker.get_latest_entity_values("time_choice"), None)  # a time button
        return {"booking_slot": chosen} if chosen else answer_text(tracker, "booking_slot", "time")

    async def extract_booking_time_preference(self, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return answer_text(tracker, "booking_time_preference", "time")

    async def extract_booking_consent(self, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return answer_yes_no(tracker, "booking_consent")

    async def extract_booking_confirm(self, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return answer_yes_no(tracker, "booking_confirm")

    def validate_booking_name(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        if isinstance(value, str):
            value = digression.name_from_intro(value) or value  # "my name is Sam" gives "Sam"
        problem = name_problem(value)
        if problem:
            dispatcher.utter_message(response=problem)
            return {"booking_name": None}
        return {"booking_name": validated_name(value)}

    def validate_booking_contact(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        contact = validated_contact(value)
        if contact is None:
            dispatcher.utter_message(response="utter_invalid_contact")
            return {"booking_contact": None}
        return {"booking_contact": contact["contact"], "booking_contact_method": contact["method"]}

    def validate_booking_slot(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if value == NONE_OF_THESE or (intent == "deny" and not digression.is_unsure(str(value))):
            return {"booking_slot": PREFERENCE, "booking_time_label": None, "booking_time_preference": None}
        start = _parse_start(value) if isinstance(value, str) else None
        if start is None and time_problem(value):
            # "yes" or "ok" at the time step says no time: ask again, with examples.
            dispatcher.utter_message(response=time_problem(value))
            return {"booking_slot": None}
        if start is None:
            # Typed text instead of a button ("Tuesday evenings") is the visitor's own preference.
            preference = single_line(str(value))[: repository.MAX_TIME_PREFERENCE]
            return {
                "booking_slot": PREFERENCE,
                "booking_time_label": None,
                "booking_time_preference": preference,
            }
        tz = visitor_timezone(tracker)
        try:
            now = datetime.now(timezone.utc)
            start_window, end_window = availability.search_window(now)
            booked = repository.booked_slots(start_window, end_window)
        except DatabaseUnavailable:
            # Keep the time if it is otherwise bookable: saving checks it again (the database refuses a
            # taken slot) and says "please try again" while the database is down. Dropping it made the
            # form ask for a time again and take the visitor's next "yes" as their preferred time.
            booked = []
        if not availability.is_bookable(start, now, booked):
            dispatcher.utter_message(response="utter_slot_no_longer_free")
            return {"booking_slot": None}
        return {"booking_slot": start.isoformat(), "booking_time_label": availability.format_slot(start, tz)}

    def validate_booking_time_preference(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        problem = time_problem(value)
        if problem:
            dispatcher.utter_message(response="utter_time_preference_unclear")
            return {"booking_time_preference": None}
        text = single_line(str(value or ""))[: repository.MAX_TIME_PREFERENCE]
        return {"booking_time_preference": text or None}

    def validate_booking_consent(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return yes_no_or_ask_again("booking_consent", value, dispatcher)

    def validate_booking_confirm(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return yes_no_or_ask_again("booking_confirm", value, dispatcher)


class ActionAskBookingSlot(Action):
    """Offers the next free slots as buttons, in the visitor's time zone when the widget sent one."""

    def name(self) -> Text:
        return "action_ask_booking_slot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[EventType]:
        tz = visitor_timezone(tracker)
        try:
            ensure_schema()
            slots = free_slots(datetime.now(timezone.utc), tz)
        except DatabaseUnavailable:
            slots = []
        if not slots:
            dispatcher.utter_message(response="utter_no_free_slots")
            return [SlotSet("booking_slot", PREFERENCE), SlotSet("booking_time_label", None)]
        labels = knowledge_base().labels
        buttons = [
            {"title": slot.label, "payload": f'/inform{{"time_choice":"{slot.start.isoformat()}"}}'}
            for slot in slots
        ]
        buttons.append(
            {"title": labels["none_of_these"], "payload": f'/inform{{"time_choice":"{NONE_OF_THESE}"}}'}
        )
        dispatcher.utter_message(
            response="utter_ask_booking_slot", buttons=buttons, visitor_timezone=slots[0].display_timezone
        )
        return [SlotSet("visitor_timezone", slots[0].display_timezone)]


class ActionSubmitBookingForm(Action):
    def name(self) -> Text:
        return "action_submit_booking_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[EventType]:
        if tracker.get_slot("booking_consent") is not True:
            dispatcher.utter_message(response="utter_booking_needs_consent")
            return clear_slots(BOOKING_SLOTS)
        if tracker.get_slot("booking_confirm") is not True:
            dispatcher.utter_message(response="utter_booking_not_sent")
            return clear_slots(BOOKING_SLOTS)
        limited = booking_limit_message(tracker)  # issue 12.7: caps per contact and per client
        if limited:
            dispatcher.utter_message(text=limited)
            return clear_slots(BOOKING_SLOTS)
        slot_value = tracker.get_slot("booking_slot")
        start = _parse_start(slot_value) if slot_value and slot_value != PREFERENCE else None
        try:
            ensure_schema()
            record = repository.create_booking(
                name=tracker.get_slot("booking_name"),
                contact_method=tracker.get_slot("booking_contact_method"),
                contact=tracker.get_slot("booking_contact"),
                timezone=tracker.get_slot("visitor_timezone") or availability.load_schedule().timezone_name,
                consent=True,
                slot_start=start,
                time_preference=None if start else tracker.get_slot("booking_time_preference"),
                conversation_id=tracker.sender_id,
            )
        except repository.SlotTaken:
            # Someone booked this time a moment ago: keep every other answer and ask for a time again.
            dispatcher.utter_message(response="utter_slot_no_longer_free")
            return [
                SlotSet("booking_slot", None),
                SlotSet("booking_time_label", None),
                SlotSet("booking_confirm", None),
                FollowupAction("booking_form"),
            ]
        except (DatabaseUnavailable, ValueError) as error:
            logger.warning("booking not stored: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_booking_try_again")
            # Every answer is kept; the form asks to confirm again, which retries the save.
            return [SlotSet("booking_confirm", None), FollowupAction("booking_form")]
        notify.notify_in_background("booking", record)
        dispatcher.utter_message(
            response="utter_booking_requested",
            booking_reference=one_line(record.reference),
            json_message={"booking": {"reference": record.reference, "status": record.status}},
        )
        return clear_slots(BOOKING_SLOTS)


class ActionCancelBooking(Action):
    def name(self) -> Text:
        return "action_cancel_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[EventType]:
        dispatcher.utter_message(response="utter_booking_cancelled")
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + clear_slots(BOOKING_SLOTS)
