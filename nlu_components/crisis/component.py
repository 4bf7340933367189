"""Crisis-language detector for Haven: the Rasa NLU graph component.

It runs after the intent classifiers and the crisis risk model on every message, and decides in
two tiers. A missed crisis is the worst failure the product can have, so nothing can outvote it:
- the full crisis reply (intent `crisis`) when a reviewed pattern matches (safety/crisis_patterns/,
  read once at load), when the classifier's own top intent is `crisis` with a cue word, or when the
  risk model's score (risk_model.py) is high;
- a check-in (intent `crisis_check_in`: Haven asks directly, with the resources) when the risk
  model's score is in the middle band, or when nothing else spoke and the message sits among the crisis
  training examples rather than the calm ones (the risk model's nearest-neighbour margin).
The model's alarms get the patterns' idiom, negation, past-history and third-person checks too
(CrisisJudge.judge_model).

Output on a crisis or check-in (nothing changes otherwise):
  intent          {"name": "crisis" | "crisis_check_in", "confidence": 1.0}, first in intent_ranking
  entities        crisis_category = suicide | self_harm | danger, crisis_subject = self | other
  message "crisis" {"category", "subject", "rule", "tier", "region", "classifier_confidence",
                   "model_score", "verifier_score", "neighbour_margin"}; rule = the pattern id,
                   "classifier", "model" or "neighbours"; tier = crisis | check_in

Which pattern wins when several match, and how each match is judged: judgement.py.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from spacy.tokens import Doc

from haven.services import intents, safety
from nlu_components.crisis.judgement import CLASSIFIER_RULE, MODEL_RULE, NEIGHBOUR_RULE, CrisisJudge
from nlu_components.crisis.patterns import CATEGORIES, resolve_path
from nlu_components.crisis.risk_model import RISK_KEY, SCORER_KEY, VERIFIER_KEY
from nlu_components.input_guard import CONTACT_INTENT, CRISIS_TEXT_KEY, EMPTY_INTENT, TOO_LONG_INTENT

logger = logging.getLogger(__name__)

CRISIS_INTENT = intents.CRISIS
CHECK_IN_INTENT = intents.CHECK_IN
FALLBACK_INTENT = "nlu_fallback"
# Intents set over the classifier's by other components; the classifier's own guess comes after them.
NOT_CLASSIFIER_INTENTS = (FALLBACK_INTENT, TOO_LONG_INTENT, EMPTY_INTENT, CONTACT_INTENT)


def _as_float(value: Any) -> float:
    """A confidence clamped to [0, 1]; NaN when it is not a number at all."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number if number != number else min(1.0, max(0.0, number))


_SENTENCE_END = re.compile(r"[.!?\n]")


def sentence_around(text: str, start: int, end: int, limit: int = 300) -> str:
    """The sentence that holds text[start:end] (at most `limit` characters either side)."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    left = max(0, start - limit)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, left, start)]
    first = ends[-1] if ends else left
    found = _SENTENCE_END.search(text, end, min(len(text), end + limit))
    last = found.end() if found else min(len(text), end + limit)
    return text[first:last].strip()


def pattern_tier(
    model: float,
    verified: float | None,
    floor: float,
    verifier_floor: float,
    drop_model: float,
    drop_verifier: float,
) -> str | None:
    """The decision on a pattern match from the risk model's score and the verifier's (None: not
    asked), each already the higher of the whole message's and the matched sentence's: "crisis" (the
    full reply), "check_in", or None (no alarm). Shared with scripts/crisis_model_cv.py, so the
    thresholds are cross-validated on the rule the server runs."""
    if verified is not None and model < drop_model and verified < drop_verifier:
        return None
    if model < floor or (verified is not None and verified < verifier_floor):
        return "check_in"
    return "crisis"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CrisisDetector(GraphComponent):
    """Overrides the intent with `crisis` when crisis language is found (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """`patterns`: the reviewed YAML folder, relative to the working dir or project root."""
        return {
            "patterns": "safety/crisis_patterns",
            # The classifier's own `crisis` intent counts only at or above this confidence: below
            # it, ordinary hurt ("he hurt my feelings again") raised too many false alarms.
            "classifier_threshold": 0.0,
            # The risk model's score (nlu_components/crisis/risk_model.py, message["crisis_risk"]):
            # at or above `risk_crisis_threshold` the full crisis reply, at or above
            # `risk_check_in_threshold` a check-in question; both after the patterns' checks
            # (CrisisJudge.judge_model). 1.0 / 1.0 turns the model tier off.
            "risk_crisis_threshold": 1.0,
            "risk_check_in_threshold": 1.0,
            # A pattern match whose message the risk model scores below this floor (it reads as
            # plainly calm: a film about suicide, an old scar) is asked about with a check-in
            # rather than answered with the full reply; 0.0 turns this off.
            "risk_pattern_floor": 0.0,
            # The pattern verifier (risk_model.py), asked only when a pattern matched: the full reply
            # needs its score at or above `pattern_verifier_floor` too (else a check-in), and a match
            # that both it and the risk model read as plainly calm (below `pattern_drop_verifier` and
            # `pattern_drop_model`) raises no alarm. 0.0 turns each off.
            "pattern_verifier_floor": 0.0,
            "pattern_drop_model": 0.0,
            "pattern_drop_verifier": 0.0,
            # The risk model's nearest-neighbour margin (risk_model.Neighbours): a message nothing else
            # raised an alarm on, that no pattern matched and none of the patterns' checks lowers, gets a
            # check-in when its margin reaches this. 1.0 or more turns it off (a margin is under 1).
            "neighbour_check_in_margin": 1.0,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Lists required dependencies."""
        return ["spacy"]

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrisisDetector:
        """Creates the component; patterns are compiled here, once, not per message."""
        from haven import settings as settings_module

        return cls({"default_region": settings_module.load().region, **cls.get_default_config(), **config})

    def __init__(self, config: Dict[str, Any]) -> None:
        """Loads and compiles the patterns. Fails loudly: a detector without data is unsafe."""
        self.component_config = config
        self._path = resolve_path(config["patterns"])
        self.judge = CrisisJudge.load(self._path)

    def detect(
        self, text: str, doc: Doc | None = None, classifier_crisis: bool = False
    ) -> Tuple[str, str, str, int, int] | None:
        """(category, subject, rule id, start, end) for a crisis, else None: CrisisJudge.detect."""
        return self.judge.detect(text, doc, classifier_crisis)

    # ---------------------------------------------------------------- Rasa entry point
    def process(self, messages: List[Message]) -> List[Message]:
        """Checks every message; never raises (an error is logged and the message kept)."""
        for message in messages:
            try:
                self._process_message(message)
            except Exception:  # pragma: no cover - defensive: input must never break parsing
                logger.exception("CrisisDetector failed on a message; left unchanged.")
        return messages

    def _process_message(self, message: Message) -> None:
        # A long message's classifiers read only its first part (nlu_components/input_guard.py);
        # crisis language is looked for in the longer cleaned text InputGuard kept for this.
        text = message.get(CRISIS_TEXT_KEY) or message.get(TEXT)
        text = text if isinstance(text, str) else ""
        confidence = self._classifier_crisis_confidence(message)
        threshold = float(self.component_config.get("classifier_threshold", 0.0))
        # `not <` rather than `>=`: an undefined (NaN) confidence errs on the side of safety.
        classifier_crisis = confidence is not None and not confidence < threshold
        doc = message.get(SPACY_DOCS[TEXT])
        risk = message.get(RISK_KEY) if isinstance(message.get(RISK_KEY), dict) else {}
        score = _as_float(risk.get("score")) if risk else None
        check_in_threshold = float(self.component_config.get("risk_check_in_threshold", 1.0))
        if classifier_crisis and score is not None and score < check_in_threshold:
            # Two learned signals, one trained on 136 crisis examples and one on thousands: the
            # intent classifier's `crisis` counts only where the risk model is at least unsure too
            # (alone, with the sentence embedding, it was sure of "I've never self harmed").
            classifier_crisis = False
        found = self.detect(text, doc, classifier_crisis)
        matched = found is not None  # a pattern (or the classifier) spoke, even if dropped below
        tier, verified = "crisis", None
        if found is not None and found[2] != CLASSIFIER_RULE and score is not None:
            pattern_tier, verified = self._pattern_tier(message, text, found, score)
            if pattern_tier is None:
                logger.debug("A pattern match (%s) was read as calm by both models: no alarm.", found[2])
                found = None
            else:
                tier = pattern_tier
        if found is None and score is not None and risk.get("category") in CATEGORIES:
            verdict = self.judge.judge_model(
                text,
                score,
                risk["category"],
                float(self.component_config.get("risk_crisis_threshold", 1.0)),
                check_in_threshold,
                doc,
            )
            if verdict is not None:
                tier = verdict.tier
                found = (verdict.category, verdict.subject, MODEL_RULE, 0, len(text))
        margin = _as_float(risk.get("neighbour_margin")) if risk else None
        if found is None and not matched and margin is not None and risk.get("category") in CATEGORIES:
            if margin >= float(self.component_config.get("neighbour_check_in_margin", 1.0)):
                verdict = self.judge.judge_check_in(text, risk["category"], doc)
                if verdict is not None:
                    tier = verdict.tier
                    found = (verdict.category, verdict.subject, NEIGHBOUR_RULE, 0, len(text))
        if found is None:
            self._demote_classifier_crisis(message)
            return
        category, subject, rule, start, end = found
        intent_name = CRISIS_INTENT if tier == "crisis" else CHECK_IN_INTENT

        ranking = [
            r
            for r in message.get(INTENT_RANKING_KEY) or []
            if isinstance(r, dict) and r.get(INTENT_NAME_KEY) not in (CRISIS_INTENT, FALLBACK_INTENT)
        ]
        intent = {INTENT_NAME_KEY: intent_name, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(intent)] + ranking, add_to_output=True)

        entities = [
            e
            for e in message.get(ENTITIES) or []
            if not (
                isinstance(e, dict)
                and e.get("entity") in ("crisis_category", "crisis_subject", "haven_region")
            )
        ]
        region = self.region(message.get("metadata"))
        for name, value in (
            ("crisis_category", category),
            ("crisis_subject", subject),
            ("haven_region", region),
        ):
            entities.append(
                {
                    "entity": name,
                    "value": value,
                    "start": start,
                    "end": end,
                    "confidence_entity": 1.0,
                    "extractor": self.__class__.__name__,
                }
            )
        message.set(ENTITIES, entities, add_to_output=True)
        message.set(
            "crisis",
            {
                "category": category,
                "subject": subject,
                "rule": rule,
                "tier": tier,
                "region": region,
                "classifier_confidence": None if confidence is None else round(confidence, 3),
                "model_score": None if score is None else round(score, 3),
                "verifier_score": None if verified is None or verified != verified else round(verified, 3),
                "neighbour_margin": None if margin is None or margin != margin else round(margin, 3),
            },
            add_to_output=True,
        )

    def _pattern_tier(
        self, message: Message, text: str, found: Tuple[str, str, str, int, int], score: float
    ) -> Tuple[str | None, float | None]:
        """What a pattern match comes to once the learned models have read the message: the full
        reply ("crisis"), a check-in, or None (both read it as plainly calm: a novel about suicide,
        scars told as healed), with the verifier's score when it was asked. A long message dilutes one
        sentence, so wherever a score would lower the tier, the sentence the pattern matched is also
        scored on its own and the higher counts."""
        config = self.component_config
        floor = float(config.get("risk_pattern_floor", 0.0))
        verifier_floor = float(config.get("pattern_verifier_floor", 0.0))
        drop_model = float(config.get("pattern_drop_model", 0.0))
        drop_verifier = float(config.get("pattern_drop_verifier", 0.0))
        sentence = sentence_around(text, found[3], found[4])
        scorer = message.get(SCORER_KEY)
        model = score
        if model < max(floor, drop_model) and callable(scorer):
            model = max(model, scorer(sentence))
        verifier = message.get(VERIFIER_KEY)
        verified = None
        if callable(verifier) and (verifier_floor > 0 or drop_verifier > 0):
            verified = verifier(text)
            if verified < max(verifier_floor, drop_verifier):
                verified = max(verified, verifier(sentence))
        return pattern_tier(model, verified, floor, verifier_floor, drop_model, drop_verifier), verified

    @staticmethod
    def _demote_classifier_crisis(message: Message) -> None:
        """This component alone decides what is a crisis: a `crisis` intent it did not confirm gives
        way to the classifier's next-best intent (or nlu_fallback), so no rule fires on it."""
        intent = message.get(INTENT)
        if not (isinstance(intent, dict) and intent.get(INTENT_NAME_KEY) == CRISIS_INTENT):
            return
        ranking = [
            r for r in message.get(INTENT_RANKING_KEY) or []
            if isinstance(r, dict) and r.get(INTENT_NAME_KEY) not in (CRISIS_INTENT, FALLBACK_INTENT)
        ]  # fmt: skip
        fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, dict(ranking[0]) if ranking else fallback, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    @staticmethod
    def _classifier_crisis_confidence(message: Message) -> float | None:
        """The classifier's confidence in `crisis` when `crisis` is its top intent, else None.

        When FallbackClassifier has replaced a low-confidence guess with nlu_fallback, the
        classifier's top intent is the first other entry of the ranking.
        """
        for entry in message.get(INTENT_RANKING_KEY) or []:
            if isinstance(entry, dict) and entry.get(INTENT_NAME_KEY) not in NOT_CLASSIFIER_INTENTS:
                if entry.get(INTENT_NAME_KEY) == CRISIS_INTENT:
                    return _as_float(entry.get(PREDICTED_CONFIDENCE_KEY))
                return None
        intent = message.get(INTENT)
        if isinstance(intent, dict) and intent.get(INTENT_NAME_KEY) == CRISIS_INTENT:
            return _as_float(intent.get(PREDICTED_CONFIDENCE_KEY))
        return None

    def region(self, metadata: Any) -> str:
        """The visitor's crisis-resources region from the message metadata (`region`, else the
        locale's country), else `default_region` (HAVEN_REGION); the regions are safety/hotlines.yml's."""
        metadata = metadata if isinstance(metadata, dict) else {}
        return safety.load().visitor_region(
            metadata.get("region"), metadata.get("locale"), self.component_config.get("default_region")
        )
