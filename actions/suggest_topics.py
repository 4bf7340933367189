"""Low NLU confidence: offer the two or three likeliest topics instead of guessing.

The practice's FAQ comes first when it matches by meaning at the strict fallback threshold
(actions/faq.py): "are sessions online or in person?" should get its answer, not a menu of article
topics. Below that threshold the article's topics are offered as before, except for a question about
the visitor's own relationship (haven.services.content.is_personal: a first-person word and a relationship
word): that gets the ways to a person first and the two likeliest topics after them (issue 10.5: a
personal question the article may not answer deserves more than a menu of article topics).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import answer_from_faq
from actions.knowledge import button, knowledge_base, likely_topics, topic_buttons, with_help_line
from actions.list_topics import list_topics
from actions.out_of_scope import ways_to_a_person
from haven.db import counts
from haven.services import faq
from haven.services.content import is_personal


class ActionSuggestTopics(Action):
    def name(self) -> Text:
        return "action_suggest_topics"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if answer_from_faq(dispatcher, tracker, faq.FALLBACK_THRESHOLD):
            return []
        candidates = likely_topics(tracker)
        labels = knowledge_base().labels
        if is_personal(tracker.latest_message.get("text") or ""):
            counts.note("could_not_answer")  # insights: a count, never the visitor's words
            if not candidates:
                ways_to_a_person(dispatcher, tracker)
                return []
            buttons = [
                button(labels["book"], "book_consultation"),
                button(labels["leave_message"], "leave_message"),
            ] + topic_buttons(candidates[:2])
            text = " ".join(labels["personal_unsure"].split())
            dispatcher.utter_message(text=with_help_line(text, tracker), buttons=buttons)
            return []
        counts.note("did_you_mean" if len(candidates) >= 2 else "could_not_answer")  # insights
        if len(candidates) < 2:
            list_topics(dispatcher, tracker)
            return []
        buttons = topic_buttons(candidates) + [button(labels["something_else"], "something_else")]
        dispatcher.utter_message(text=with_help_line(labels["did_you_mean"], tracker), buttons=buttons)
        return []
