"""Everyday hurt (intent share_feelings): acknowledged, with gentle options, never a crisis alarm."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import button, knowledge_base, topic_buttons


class ActionAcknowledgeFeelings(Action):
    """Everyday hurt: acknowledge it, then offer the topics most visitors in pain start with."""

    def name(self) -> Text:
        return "action_acknowledge_feelings"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = knowledge_base()
        buttons = topic_buttons(["why_still_attached", "what_is_betrayal_trauma", "how_to_heal"])
        buttons.append(button(kb.labels["book"], "book_consultation"))
        dispatcher.utter_message(response="utter_acknowledge_feelings", buttons=buttons)
        return []
