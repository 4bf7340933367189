"""'Tell me more': the fuller answer of the topic the visitor last heard about."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import follow_up_buttons, knowledge_base, with_help_line
from actions.list_topics import list_topics


class ActionTellMeMore(Action):
    def name(self) -> Text:
        return "action_tell_me_more"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = knowledge_base().get(tracker.get_slot("last_topic"))
        if topic is None:
            list_topics(dispatcher, tracker)
            return []
        dispatcher.utter_message(
            text=with_help_line(topic.more, tracker),
            buttons=follow_up_buttons(topic, tell_me_more=False),
            json_message=topic.payload(),
        )
        return []
