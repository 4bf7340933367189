"""The one loaded copy of the vetted content, and the reply pieces every topic action shares."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Tracker

from haven.services import content

TOPIC_SUGGESTION_MIN_CONFIDENCE = 0.05
#: config.yml's FallbackClassifier threshold: under it a topic question is not answered but offered
#: ("Did you mean"). Actions that read an older message's ranking use the same bar (a test keeps the two
#: equal).
TOPIC_ANSWER_MIN_CONFIDENCE = 0.525


@lru_cache(maxsize=1)
def knowledge_base() -> content.KnowledgeBase:
    return content.load()


def button(title: Text, intent: Text) -> Dict[Text, Text]:
    return {"title": title, "payload": f"/{intent}"}


def topic_buttons(topic_ids: Iterable[Text]) -> List[Dict[Text, Text]]:
    kb = knowledge_base()
    return [button(kb.topics[t].title, t) for t in topic_ids if t in kb.topics]


def follow_up_buttons(topic: content.Topic, tell_me_more: bool = True) -> List[Dict[Text, Text]]:
    """'Tell me more', two related topics, and the consultation: the next steps after an answer."""
    labels = knowledge_base().labels
    buttons = [button(labels["tell_me_more"], "tell_me_more")] if tell_me_more else []
    buttons += topic_buttons(topic.related[:2])
    buttons.append(button(labels["book"], "book_consultation"))
    return buttons


def covered_topics(tracker: Tracker) -> List[Text]:
    return list(tracker.get_slot("topics_covered") or [])


def likely_topics(tracker: Tracker, limit: int = 3) -> List[Text]:
    """The classifier's likeliest article topics for the last message, best first."""
    kb = knowledge_base()
    ranking: List[Dict[str, Any]] = tracker.latest_message.get("intent_ranking") or []
    return [
        r["name"]
        for r in ranking
        if r.get("name") in kb.topics and (r.get("confidence") or 0) >= TOPIC_SUGGESTION_MIN_CONFIDENCE
    ][:limit]


def with_help_line(text: Text, tracker: Tracker) -> Text:
    """After a crisis, every reply keeps the region's "help is still here" line (slot help_line)."""
    return text + (tracker.get_slot("help_line") or "")


def topic_of(tracker: Tracker) -> Optional[content.Topic]:
    return knowledge_base().get((tracker.latest_message.get("intent") or {}).get("name"))
