"""Commands only as offered (issue 12.5): a visitor's `/intent{...}` is a button press, not an API.

Rasa reads any message `/intent{"entity": "value"}` as that intent with those entities and skips the
NLU pipeline's verdict, so without this any intent, any entity and any slot value could be sent, and
the crisis check (an NLU component) never saw the words inside. Here, before Rasa sees a message:

- a command is accepted only when it is one of the buttons of the bot's last turn in that
  conversation (read from the tracker), or on a small allow-list: the topic buttons (`/<topic id>`,
  what the knowledge actions offer), booking start (`/book_consultation`, the page's call to action),
  `/stop`, and `/greet`, `/restart` (what the widget sends when it opens and on "Start over");
- anything else is read as the text it is: the NLU (crisis check first) parses the raw text, and
  Rasa's command reader is kept out of it (it would otherwise read the slash form again);
- the entity values of an accepted command go through the NLU too: when they carry crisis language
  (a check-in or the full reply), the visitor's words are handled as the words they are, so
  `/inform{"time_choice": "I want to kill myself tonight"}` gets the crisis reply, not a booking.

Nothing here logs the text.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT

from haven.services import intents

logger = logging.getLogger(__name__)

#: Intents a client may send as a bare command at any time (besides the topic ids).
ALLOWED_INTENTS = frozenset({"greet", "restart", "stop", "book_consultation"})
#: The NLU's verdicts that mean crisis language (nlu_components/crisis).
CRISIS_INTENTS = intents.CRISIS_INTENTS
#: Rasa's reading of a command: /intent, an optional @confidence, optional {entities}.
_COMMAND = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?$", re.DOTALL)
#: What the NLU reads instead of the leading "/" of a refused command: the same look, but Rasa's
#: command reader (which looks for "/") leaves it to the classifiers.
_TEXT_SLASH = "\uff0f"


@dataclass(frozen=True)
class Command:
    intent: str
    entities: Tuple[Tuple[str, Any], ...]
    confidence: Optional[str]

    @property
    def values(self) -> List[str]:
        """The entity values that are words (what a visitor could have typed into them)."""
        found: List[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        for _, value in self.entities:
            walk(value)
        return [value for value in found if value.strip()]


def parse(text: str) -> Optional[Command]:
    """The command `text` spells, or None when it is not one Rasa would read."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    entities: Dict[str, Any] = {}
    if match["entities"]:
        try:
            entities = json.loads(match["entities"])
        except ValueError:
            return None
        if not isinstance(entities, dict):
            return None
    key = tuple(sorted((str(k), json.dumps(v, sort_keys=True)) for k, v in entities.items()))
    return Command(match["intent"].strip(), tuple((k, json.loads(v)) for k, v in key), match["confidence"])


def offered_payloads(events: Iterable[Any]) -> List[str]:
    """The button payloads of the bot's last turn: every bot message since the visitor's last one."""
    payloads: List[str] = []
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or []:
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    payloads.append(button["payload"])
    return payloads


def is_allowed(command: Command, topic_ids: Set[str], offered: Iterable[str]) -> bool:
    if command.confidence is None and not command.entities:
        if command.intent in ALLOWED_INTENTS or command.intent in topic_ids:
            return True
    return any(parse(payload) == command for payload in offered)


def _topic_ids() -> Set[str]:
    try:
        from haven.services import content

        return set(content.load().topics)
    except Exception as error:  # noqa: BLE001 - no topics then: only offered buttons pass
        logger.warning("commands: the topic ids could not be read (%s)", type(error).__name__)
        return set()


async def _events(agent: Any, sender: str) -> List[Any]:
    try:
        tracker = await agent.tracker_store.retrieve(sender)
    except Exception as error:  # noqa: BLE001 - unreadable: nothing counts as offered
        logger.warning("commands: the conversation could not be read (%s)", type(error).__name__)
        return []
    return list(tracker.events) if tracker is not None else []


async def _nlu(agent: Any, text: str, sender: str, shown: str) -> Dict[str, Any]:
    """The NLU's reading of `text` (the crisis check included), recorded as the visitor's `shown` text."""
    parse_data = await agent.processor.parse_message(UserMessage(text, sender_id=sender))
    parse_data[TEXT] = shown
    return parse_data


async def screen(text: str, sender: str, agent: Any) -> Tuple[str, Optional[Dict[str, Any]]]:
    """(text, parse_data) for the UserMessage: a command only as offered, else the words as words.

    parse_data is None when Rasa should parse the text itself (plain text, an accepted command).
    """
    if not text.startswith("/") or agent is None or getattr(agent, "processor", None) is None:
        return text, None
    command = parse(text)
    if command is None:
        return text, None
    offered = offered_payloads(await _events(agent, sender))
    if not is_allowed(command, _topic_ids(), offered):
        logger.info("commands: a command that was not offered is read as text")
        return text, await _nlu(agent, _TEXT_SLASH + text[1:], sender, text)
    values = command.values
    if values:
        words = "\n".join(values)
        verdict = await _nlu(agent, words, sender, words)
        if ((verdict.get(INTENT) or {}).get(INTENT_NAME_KEY)) in CRISIS_INTENTS:
            logger.info("commands: crisis language inside a command's values")
            return words, verdict
    return text, None
