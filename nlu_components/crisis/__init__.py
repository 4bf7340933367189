"""Haven's crisis-language detector (config.yml: nlu_components.crisis.CrisisDetector).

text.py       cleaning and tokenising, the same for patterns and messages
patterns.py   the reviewed data (safety/crisis_patterns/): read, validated, compiled to matchers
judgement.py  CrisisJudge.detect(): is this message a crisis, which kind, whose (no Rasa in it)
component.py  CrisisDetector, the Rasa graph component that writes the verdict on each message
risk_data.py  the risk model's hand-written training data (data/crisis/)
risk_model.py CrisisRiskModel, the Rasa graph component that scores each message on the sentence
              encoder's embeddings and n-grams (haven/encoder)
"""

from nlu_components.crisis.component import (
    CRISIS_INTENT,
    FALLBACK_INTENT,
    NOT_CLASSIFIER_INTENTS,
    CrisisDetector,
)
from nlu_components.crisis.judgement import CLASSIFIER_RULE, CrisisJudge
from nlu_components.crisis.patterns import CATEGORIES
from nlu_components.crisis.risk_model import CrisisRiskModel

__all__ = [
    "CATEGORIES",
    "CLASSIFIER_RULE",
    "CRISIS_INTENT",
    "FALLBACK_INTENT",
    "NOT_CLASSIFIER_INTENTS",
    "CrisisDetector",
    "CrisisJudge",
    "CrisisRiskModel",
]
