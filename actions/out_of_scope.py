"""Out of scope, honestly: a personal question about the visitor's own relationship that no article
topic answers gets a warm acknowledgement and the two ways to a person (the consultation, a message
to the therapist); anything else off-topic gets the plain "outside what I can help with".

Why two replies: "should I tell his affair partner's wife?" and "how do I make banana bread" are
both outside the article, but only one of them comes from someone in pain who deserves to hear that
the question matters and where to take it. Which is which is read from reviewed word lists
(content/personal_words.yml): a first-person word and a relationship word.

Before either, the practice's FAQ is consulted (actions/faq.py, the strict fallback threshold): "do you
take insurance?" may be classed out of scope by the NLU, and still deserves the FAQ's answer.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import answer_from_faq
from actions.knowledge import button, knowledge_base, with_help_line
from haven.db import counts
from haven.services import faq
from haven.services.content import is_personal


def ways_to_a_person(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The warm "that matters, and it deserves more than a guess" with the consultation and a message."""
    labels = knowledge_base().labels
    dispatcher.utter_message(
        text=with_help_line(" ".join(labels["personal_out_of_scope"].split()), tracker),
        buttons=[
            button(labels["book"], "book_consultation"),
            button(labels["leave_message"], "leave_message"),
            button(labels["what_i_can_help_with"], "something_else"),
        ],
    )


class ActionOutOfScope(Action):
    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if answer_from_faq(dispatcher, tracker, faq.FALLBACK_THRESHOLD):
            return []
        counts.note("could_not_answer")  # insights: a count, never the visitor's words
        if not is_personal(tracker.latest_message.get("text") or ""):
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        ways_to_a_person(dispatcher, tracker)
        return []
