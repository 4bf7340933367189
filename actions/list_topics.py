"""The honest "here is what I can help with" list, with every article topic as a button."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import button, knowledge_base, topic_buttons, with_help_line


def list_topics(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    kb = knowledge_base()
    buttons = topic_buttons(kb.topics) + [button(kb.labels["book"], "book_consultation")]
    dispatcher.utter_message(text=with_help_line(kb.labels["help_intro"], tracker), buttons=buttons)


class ActionListTopics(Action):
    def name(self) -> Text:
        return "action_list_topics"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        list_topics(dispatcher, tracker)
        return []
