"""Haven's crisis-language detector (config.yml: nlu_components.crisis.CrisisDetector).

text.py       cleaning and tokenising, the same for patterns and messages
patterns.py   the reviewed data (safety/crisis_patterns/): read, validated, compiled to matchers
judgement.py  CrisisJudge.detect(): is this message a crisis, which kind, whose (no Rasa in it)
component.py  CrisisDetector, the Rasa graph component that writes the verdict on each message
"""

from nlu_components.crisis.component import (
    CRISIS_INTENT,
    FALLBACK_INTENT,
    NOT_CLASSIFIER_INTENTS,
    CrisisDetector,
)
from nlu_components.crisis.judgement import CLASSIFIER_RULE, CrisisJudge
from nlu_components.crisis.patterns import CATEGORIES

__all__ = [
    "CATEGORIES",
    "CLASSIFIER_RULE",
    "CRISIS_INTENT",
    "FALLBACK_INTENT",
    "NOT_CLASSIFIER_INTENTS",
    "CrisisDetector",
    "CrisisJudge",
]
