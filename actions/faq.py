"""Answers a question about the practice from its FAQ (content/faq.yml), found by meaning.

Why it is shaped like this:
- One intent (`practice_faq`) routes here, but the entry is chosen by the sentence encoder
  (haven/services/faq.py), so the therapist's new or reworded entries work without `rasa train`.
- The out-of-scope and "Did you mean" fallbacks call `answer_from_faq` first with the stricter
  FALLBACK_THRESHOLD: an FAQ question the intent missed is still answered, while article topics keep
  priority (a confident topic intent never reaches the fallback at all).
- A `to_fill` entry is never said: Haven says it does not have that information and offers the
  consultation or a message to the therapist. Every FAQ reply carries {"faq": id, "status": ...}.
- The crisis check runs before any of this (the NLU's CrisisDetector overrides the intent).
- Counts for the staff FAQ page go through haven.db.faq_questions.note: the visitor's words only when
  HAVEN_FAQ_KEEP_QUESTIONS is on.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import button, with_help_line
from haven.db import faq_questions
from haven.services import faq

log = logging.getLogger(__name__)

ENTITY = "faq_entry"


def _button_entry(tracker: Tracker) -> Optional[str]:
    """The entry a "Did you mean" button named (/practice_faq{"faq_entry": "fees"})."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == ENTITY and isinstance(entity.get("value"), str):
            return entity["value"]
    return None


def say_entry(
    dispatcher: CollectingDispatcher, tracker: Tracker, matcher: faq.Matcher, entry: faq.FaqEntry
) -> None:
    labels = matcher.faq.labels
    buttons = [button(labels["book"], "book_consultation")]
    if not entry.approved:
        buttons.append(button(labels["leave_message"], "leave_message"))
    dispatcher.utter_message(text=with_help_line(entry.reply_text(labels), tracker), buttons=buttons)
    dispatcher.utter_message(json_message=entry.payload())


def faq_button(entry: faq.FaqEntry) -> Dict[Text, Text]:
    title = entry.title[:1].upper() + entry.title[1:]
    return {"title": title, "payload": f'/practice_faq{{"{ENTITY}": "{entry.id}"}}'}


def answer_from_faq(dispatcher: CollectingDispatcher, tracker: Tracker, threshold: float) -> bool:
    """Answer (or ask "Did you mean" between two entries) when the FAQ matches; False when it does not,
    so the caller goes on with its own reply. Never raises: a broken FAQ must not silence the fallback."""
    try:
        matcher = faq.store().current()
        chosen = matcher.faq.get(_button_entry(tracker))
        if chosen is not None:
            say_entry(dispatcher, tracker, matcher, chosen)
            faq_questions.note("answered", chosen.id, 1.0)
            return True
        text = tracker.latest_message.get("text") or ""
        found = matcher.match(text, threshold)
    except Exception as error:  # noqa: BLE001 - logged by type only (the message may quote the visitor)
        log.warning("faq: matching failed (%s); falling back", error.__class__.__name__)
        return False
    entry_id = found.entry.id if found.entry else None
    if found.kind == "answer" and found.entry is not None:
        say_entry(dispatcher, tracker, matcher, found.entry)
        faq_questions.note("answered", entry_id, found.score)
        return True
    if found.kind == "did_you_mean" and found.entry is not None and found.runner_up is not None:
        labels = matcher.faq.labels
        buttons = [faq_button(found.entry), faq_button(found.runner_up)]
        buttons.append(button(labels["none_of_these"], "something_else"))
        dispatcher.utter_message(text=with_help_line(labels["did_you_mean"], tracker), buttons=buttons)
        faq_questions.note("did_you_mean", entry_id, found.score, text)
        return True
    faq_questions.note("unmatched", entry_id, found.score, text)
    return False


def answer_beside_topic(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[str]:
    """After the article's consultation answer: the FAQ entry that answers what the article does not
    ("what happens after the free call?", `after_consultation`), when one beats the article's own
    consultation questions (faq.Matcher.beside_topic). The entry's id, or None. A button's payload
    ("/consultation_info") is no question to match; a broken FAQ only means no addition."""
    text = tracker.latest_message.get("text") or ""
    if not text.strip() or text.startswith("/"):
        return None
    try:
        matcher = faq.store().current()
        entry = matcher.beside_topic(text)
    except Exception as error:  # noqa: BLE001 - logged by type only (the message may quote the visitor)
        log.warning("faq: matching beside the topic failed (%s)", error.__class__.__name__)
        return None
    if entry is None:
        return None
    say_entry(dispatcher, tracker, matcher, entry)
    faq_questions.note("answered", entry.id, 1.0)
    return entry.id


class ActionAnswerFaq(Action):
    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if answer_from_faq(dispatcher, tracker, faq.INTENT_THRESHOLD):
            return []
        # A question about the practice that no entry answers: honest, and the two ways to a person.
        from actions.out_of_scope import ways_to_a_person

        ways_to_a_person(dispatcher, tracker)
        return []
