"""Answers an article topic with its vetted explanation, the contract's payload and next steps."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import answer_beside_topic
from actions.knowledge import covered_topics, follow_up_buttons, knowledge_base, topic_of, with_help_line
from haven.db import counts
from haven.services import faq


class ActionExplainTopic(Action):
    def name(self) -> Text:
        return "action_explain_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = topic_of(tracker)
        if topic is None:
            # Only reachable through a misconfigured rule; never invent an answer.
            dispatcher.utter_message(response="utter_default")
            return []
        counts.note("topic", topic.id)  # insights: a count, never the visitor's words
        covered = covered_topics(tracker)
        if topic.id in covered:
            # A repeat question gets a shorter reminder instead of the same paragraph again.
            text = f"{knowledge_base().labels['repeat_intro']} {topic.reminder}"
        else:
            text = topic.short
            covered.append(topic.id)
        dispatcher.utter_message(
            text=with_help_line(text, tracker), buttons=follow_up_buttons(topic), json_message=topic.payload()
        )
        if topic.id == faq.NEIGHBOUR_TOPIC:
            # "what happens after the free call?": the article says what the call is for, the practice's
            # FAQ what follows it (docs/faq.md).
            answer_beside_topic(dispatcher, tracker)
        return [SlotSet("last_topic", topic.id), SlotSet("topics_covered", covered)]
