"""After the crisis reply: record the event for the therapist, offer the consultation for later, and
keep a "help is still here" line on every later reply."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, NamedTuple, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import digression
from actions.booking import name_problem, validated_name
from actions.faq import faq_button
from actions.handoff import MESSAGE_STEP, validated_message
from actions.knowledge import TOPIC_ANSWER_MIN_CONFIDENCE, button, knowledge_base, topic_buttons
from actions.storage import ensure_schema
from haven import settings as settings_module
from haven.db import repository
from haven.services import faq, intents, safety

logger = logging.getLogger(__name__)


CHECK_IN_YES = "check_in:yes"
FORMS = ("booking_form", "handoff_form")


def record_event(tracker: Tracker, tier: str = "crisis") -> None:
    """Never lets a storage failure get between the visitor and the help they were just given.

    `rule` is what fired, as the detector reported it (`rule:<pattern id>`, `model:<score>`,
    `classifier`); a "yes" to a check-in has no detection of its own and is recorded as `check_in:yes`.
    """
    crisis: Dict[str, Any] = tracker.latest_message.get("crisis") or {}
    rule = fired(crisis)
    if not rule and tier == "crisis" and _answers_check_in(tracker):
        rule = CHECK_IN_YES
    store_text = settings_module.load().store_crisis_text
    try:
        ensure_schema()
        repository.record_safety_event(
            category=crisis.get("category") or tracker.get_slot("crisis_category") or "suicide",
            subject=crisis.get("subject") or tracker.get_slot("crisis_subject") or "self",
            rule=str(rule or "unknown")[:100],
            tier=tier,
            conversation_id=tracker.sender_id,
            message_text=(tracker.latest_message.get("text") or None) if store_text else None,
        )
    except Exception as error:  # noqa: BLE001 - any failure here must not stop the safety reply
        logger.error("safety event not recorded: %s", type(error).__name__)


# The detector's learned rules and the payload field whose number the inbox shows beside each.
SCORED_RULES = {"model": "model_score", "neighbours": "neighbour_margin"}


def fired(crisis: Dict[str, Any]) -> str | None:
    """What the detector's verdict rests on, for the staff inbox: `rule:<pattern id>`,
    `model:<score>` (the risk model), `neighbours:<margin>` (its nearest-neighbour margin, a check-in
    only), or `classifier` (the intent classifier with a cue word)."""
    rule = crisis.get("rule")
    if not rule:
        return None
    if rule in SCORED_RULES:
        value = crisis.get(SCORED_RULES[rule])
        return f"{rule}:{float(value):.2f}" if isinstance(value, (int, float)) else rule
    if rule == "classifier":
        return "classifier"
    return f"rule:{rule}"


def _answers_check_in(tracker: Tracker) -> bool:
    """True when the visitor's latest message answers a check-in (the last bot action before it)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif (
            seen_user and event.get("event") == "action" and event.get("name") not in (None, "action_listen")
        ):
            return event.get("name") == "action_safety_check_in"
    return False


def _booking_paused(tracker: Tracker) -> bool:
    return bool(tracker.get_slot("booking_name") or tracker.get_slot("booking_contact"))


class ActionSafetyCheckIn(Action):
    """After the check-in question (a domain response, sent even without this server): record it.

    Nothing else is said: the question is waiting for its answer, and the help line is not pinned
    to later replies (crisis_active stays as it was) unless the visitor says yes."""

    def name(self) -> Text:
        return "action_safety_check_in"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        record_event(tracker, tier="check_in")
        return []


def _checked_message(tracker: Tracker) -> Dict[str, Any]:
    """The parse of the message the check-in asked about: the visitor's message before the latest."""
    users = (e for e in reversed(tracker.events) if e.get("event") == "user")
    next(users, None)
    earlier = next(users, None)
    parse = (earlier or {}).get("parse_data")
    return {**parse, "text": earlier.get("text") or ""} if isinstance(parse, dict) else {}


def question_buttons(tracker: Tracker) -> List[Dict[Text, Text]]:
    """A button back to what the checked message also asked, when the classifier was sure of it under
    the check-in: an article topic (at the NLU's fallback threshold, TOPIC_ANSWER_MIN_CONFIDENCE) or an
    entry of the practice's FAQ. A tap answers it; nothing is answered unasked."""
    parse = _checked_message(tracker)
    ranking = [
        r for r in parse.get("intent_ranking") or []
        if isinstance(r, dict) and r.get("name") not in (*intents.CRISIS_INTENTS, "nlu_fallback")
    ]  # fmt: skip
    if not ranking or (ranking[0].get("confidence") or 0.0) < TOPIC_ANSWER_MIN_CONFIDENCE:
        return []
    name = ranking[0].get("name")
    if name in knowledge_base().topics:
        return topic_buttons([name])
    if name == "practice_faq":
        try:
            found = faq.store().current().match(parse["text"])
        except Exception as error:  # noqa: BLE001 - logged by type only (the message may quote the visitor)
            logger.warning("faq: matching the checked message failed (%s)", error.__class__.__name__)
            return []
        if found.kind == "answer" and found.entry is not None:
            return [faq_button(found.entry)]
    return []


# A name the risk model alone asked about is taken as the name after a "no": at most this many words.
NAME_ANSWER_MAX_WORDS = 4
# The form steps whose answer a check-in may have been about: (form, slot asked) -> what keeps it.
NAME_STEPS = {("booking_form", "booking_name"), ("handoff_form", "handoff_name")}


def _handoff_paused(tracker: Tracker) -> bool:
    return any(tracker.get_slot(s) for s in ("handoff_name", "handoff_contact", "handoff_message"))


def kept_answer(tracker: Tracker) -> Optional[Tuple[Text, Text]]:
    """(slot, value): the checked message as the answer to the form step that asked for it, after the
    visitor said no to the check-in; else None.

    Why: the visitor has just said no, and asking the same step again would ask the same check-in again.
    A visitor named River (the risk model reads the word at 0.9) could never book, and one whose message
    for the therapist is "things have been really dark lately" could never send it. So:
    - a name step's answer is kept when only the risk model asked about it (no reviewed pattern matched:
      a name never reads like one), it is at most NAME_ANSWER_MAX_WORDS words and it can be a name;
    - the message step's answer is kept whatever asked (the check-in tier only: the full reply never
      pauses a form), since it is written to the therapist, who reads it."""
    turns = list(digression.form_steps(tracker.events or []))
    if len(turns) < 2:
        return None
    _, checked, (loop, requested) = turns[-2]
    crisis = digression.crisis_of(checked)
    if crisis.get("tier") != "check_in":
        return None
    text = checked.get("text") or ""
    if (loop, requested) == MESSAGE_STEP:
        message = validated_message(text)
        return (requested, message) if message else None
    if (loop, requested) not in NAME_STEPS or crisis.get("rule") != "model":
        return None
    if len(text.split()) > NAME_ANSWER_MAX_WORDS or name_problem(text) is not None:
        return None
    return requested, validated_name(text)


class ActionCheckInDeclined(Action):
    """The visitor answered no to the check-in: thanks, the door left open, and back to where they were:
    a button for the question the checked message also asked (question_buttons), and a paused booking
    or message for the therapist can be continued. A form's answer the check-in was about is kept
    (kept_answer)."""

    def name(self) -> Text:
        return "action_check_in_declined"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        buttons = question_buttons(tracker)
        kept = kept_answer(tracker)
        copy = safety.load()
        if (kept and kept[0] == "booking_name") or _booking_paused(tracker):
            buttons.append(button(copy.continue_booking, "book_consultation"))
        if (kept and kept[0].startswith("handoff_")) or _handoff_paused(tracker):
            buttons.append(button(copy.continue_message, "leave_message"))
        if buttons:
            dispatcher.utter_message(response="utter_check_in_declined", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_check_in_declined")
        return [SlotSet(*kept)] if kept else []


# Categories whose crisis turn offers no consultation or booking button (docs/crisis-detection.md,
# "The crisis turn"): after a suicide or self-harm disclosure the only things to tap are the lines.
NO_BOOKING_BUTTON = frozenset({"suicide", "self_harm"})


def crisis_category(tracker: Tracker) -> str:
    crisis: Dict[str, Any] = tracker.latest_message.get("crisis") or {}
    return str(crisis.get("category") or tracker.get_slot("crisis_category") or "suicide")


class Paused(NamedTuple):
    """A form the crisis turn paused: what the follow-up says of it, with and without a button to resume."""

    said: Text
    said_without_button: Text
    button: Dict[Text, Text]


def _paused_forms(tracker: Tracker, data: safety.SafetyData) -> List[Paused]:
    forms = [
        (_booking_paused, data.followup_booking_paused, data.followup_booking_paused_no_button,
         data.continue_booking, "book_consultation"),
        (_handoff_paused, data.followup_message_paused, data.followup_message_paused_no_button,
         data.continue_message, "leave_message"),
    ]  # fmt: skip
    return [Paused(said, quiet, button(label, intent)) for is_paused, said, quiet, label, intent in forms
            if is_paused(tracker)]  # fmt: skip


class ActionSafetyFollowup(Action):
    """The second message of the crisis turn: the event recorded, "I'm still here", the help line pinned
    to later replies; a booking button only where the category allows one (NO_BOOKING_BUTTON)."""

    def name(self) -> Text:
        return "action_safety_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        record_event(tracker)
        data = safety.load()
        paused = _paused_forms(tracker, data)
        help_line = data.help_line(tracker.get_slot("region"))
        if tracker.active_loop_name in FORMS:
            # The form goes on and asks its question next (data/rules/form_digressions.yml): no buttons.
            dispatcher.utter_message(text=data.followup)
        elif crisis_category(tracker) in NO_BOOKING_BUTTON:
            dispatcher.utter_message(text=" ".join([data.followup, *(p.said_without_button for p in paused)]))
        elif paused:
            dispatcher.utter_message(
                text=" ".join([data.followup, *(p.said for p in paused)]), buttons=[p.button for p in paused]
            )
        else:
            dispatcher.utter_message(
                text=data.followup, buttons=[button(knowledge_base().labels["book"], "book_consultation")]
            )
        return [SlotSet("crisis_active", True), SlotSet("help_line", f"\n\n{help_line}")]
