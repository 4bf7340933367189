"""What the NLU pipeline reads of a message, and a clear limit for very long ones.

Two small graph components, one at each end of the pipeline (config.yml):

`InputGuard` runs first, before spaCy. It cleans the text (haven.text.clean_text: lone surrogates,
control and bidi characters go; a lone "\\ud800" used to crash SpacyNLP) and keeps the first
`max_chars` characters for the featurizers and the classifier: a 100 000-character message took
seconds of CPU per message on the whole pipeline, for no better understanding. The widget's input
has the same maxlength, so only other clients ever send more. Runs of over 40 characters without
a space are cut into pieces (haven.text.break_long_runs): spaCy's tokenizer is quadratic on them.

Crisis language must not be missed because it came late in a long message, so the cleaned text up
to `crisis_scan_chars` is kept beside it (message key `haven_crisis_text`) for the CrisisDetector,
which is fast enough to read all of it.

`InputGuardVerdict` runs after the classifiers and before the CrisisDetector. A message that was
cut gets the intent `message_too_long` (a rule answers kindly that only the first part was read);
an empty one gets `empty_message`; one that is nothing but an e-mail address or a phone number gets
`contact_details` (the classifier read "quillon@example.org" as `stop` with 0.46, which cancelled
the booking form at its contact question). Intents listed in `intent_thresholds` count only at or
above their confidence, else they become `nlu_fallback`: `stop` (which cancels a form) needs 0.5
in config.yml, because first names took it at the name question ("Quinn" 0.31, "Quincy" 0.40: those
visitors could never book) while real requests to stop score 0.73 to 1.0. The CrisisDetector, which
runs last, still overrides all of these with `crisis`. Output beside the intent: `input_guard` =
{"truncated", "original_chars", "read_chars"} (lengths only, never text).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from haven.text import EMAIL, break_long_runs, clean_text, shorten

logger = logging.getLogger(__name__)

GUARD_KEY = "input_guard"
CRISIS_TEXT_KEY = "haven_crisis_text"
TOO_LONG_INTENT = "message_too_long"
EMPTY_INTENT = "empty_message"
CONTACT_INTENT = "contact_details"
FALLBACK_INTENT = "nlu_fallback"
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")


def is_contact(text: str) -> bool:
    """True when the whole message is one e-mail address or one phone number (6 to 20 digits)."""
    text = text.strip()
    if EMAIL.match(text):
        return True
    return bool(_PHONE.match(text)) and 6 <= sum(ch.isdigit() for ch in text) <= 20


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class InputGuard(GraphComponent):
    """Cleans the text and keeps its first `max_chars` characters for the rest of the pipeline."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """`max_chars`: what the classifiers read; `crisis_scan_chars`: what the CrisisDetector reads."""
        return {"max_chars": 1000, "crisis_scan_chars": 20000}

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> InputGuard:
        """Creates the component (no state, nothing trained)."""
        return cls({**cls.get_default_config(), **config})

    def __init__(self, config: Dict[str, Any]) -> None:
        """Checks the limits: a pipeline with a nonsensical limit must not load."""
        self.max_chars = int(config["max_chars"])
        self.crisis_scan_chars = int(config["crisis_scan_chars"])
        if not 0 < self.max_chars <= self.crisis_scan_chars:
            raise ValueError("InputGuard needs 0 < max_chars <= crisis_scan_chars")

    def process(self, messages: List[Message]) -> List[Message]:
        """Cleans and shortens each message in place; never raises."""
        for message in messages:
            try:
                self._guard(message)
            except Exception as error:  # pragma: no cover - defensive: input must never break parsing
                logger.error("InputGuard failed on a message (%s); text cleared.", type(error).__name__)
                message.set(TEXT, "")
        return messages

    def _guard(self, message: Message) -> None:
        raw = message.get(TEXT)
        if raw is None:
            return
        text = clean_text(raw)
        kept = shorten(text, self.max_chars)
        # A button payload ("/inform{"time_choice":"2026-11-25T17:30:00+00:00"}") is read by Rasa's
        # RegexMessageHandler from this same text at the end of the graph: cutting its long run would
        # corrupt the value (a booked time became "17:30: 00" and the booking lost its slot).
        # The channel only lets well-formed commands keep their slash (haven/plugins/channels.py).
        is_command = kept == text and text.startswith("/") and "{" in text
        message.set(TEXT, kept if is_command else break_long_runs(kept))
        truncated = len(kept) < len(text)
        if truncated:
            message.set(CRISIS_TEXT_KEY, break_long_runs(text[: self.crisis_scan_chars]))
        original = len(raw) if isinstance(raw, str) else 0
        message.set(
            GUARD_KEY,
            {"truncated": truncated, "original_chars": original, "read_chars": len(kept)},
            add_to_output=True,
        )


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class InputGuardVerdict(GraphComponent):
    """Sets `message_too_long`, `empty_message` or `contact_details` by the form of the message, and
    holds the intents of `intent_thresholds` to their minimum confidence."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """`intent_thresholds`: {intent: minimum confidence}; below it the intent is nlu_fallback."""
        return {"intent_thresholds": {}}

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> InputGuardVerdict:
        """Creates the component (no state, nothing trained)."""
        return cls({**cls.get_default_config(), **config})

    def __init__(self, config: Dict[str, Any] | None = None) -> None:
        """Checks the thresholds (numbers between 0 and 1)."""
        thresholds = (config or {}).get("intent_thresholds") or {}
        self.thresholds = {str(k): float(v) for k, v in thresholds.items()}
        if not all(0.0 <= v <= 1.0 for v in self.thresholds.values()):
            raise ValueError("InputGuardVerdict: intent_thresholds must be between 0 and 1")

    def process(self, messages: List[Message]) -> List[Message]:
        """Overrides the intent of cut or empty messages; the CrisisDetector comes after this."""
        for message in messages:
            guard = message.get(GUARD_KEY)
            text = message.get(TEXT)
            if isinstance(guard, dict) and guard.get("truncated"):
                self._set_intent(message, TOO_LONG_INTENT)
            elif isinstance(text, str) and not text.strip():
                self._set_intent(message, EMPTY_INTENT)
            elif isinstance(text, str) and is_contact(text):
                self._set_intent(message, CONTACT_INTENT)
            else:
                self._hold_to_threshold(message)
        return messages

    def _hold_to_threshold(self, message: Message) -> None:
        intent = message.get(INTENT)
        if not isinstance(intent, dict) or intent.get(INTENT_NAME_KEY) not in self.thresholds:
            return
        confidence = intent.get(PREDICTED_CONFIDENCE_KEY)
        if isinstance(confidence, (int, float)) and confidence >= self.thresholds[intent[INTENT_NAME_KEY]]:
            return
        message.set(
            INTENT, {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}, add_to_output=True
        )
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if isinstance(r, dict)]
        fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT_RANKING_KEY, [fallback] + ranking, add_to_output=True)

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        intent = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [
            r
            for r in message.get(INTENT_RANKING_KEY) or []
            if isinstance(r, dict) and r.get(INTENT_NAME_KEY) != name
        ]
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(intent)] + ranking, add_to_output=True)
