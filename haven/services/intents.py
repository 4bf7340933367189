"""The names of the intents Haven's own code sets or reacts to, in one place. The crisis detector
(nlu_components/crisis/component.py) sets the first two on any message, whatever the classifier said;
the command gate (haven/plugins/commands.py) and the forms' digressions (actions/digression.py) treat
them as crisis. The article topics' intents are `content.topic_ids()` (content/topics.yml)."""

CRISIS = "crisis"
CHECK_IN = "crisis_check_in"
#: Either tier of the crisis check: the full reply or the direct question.
CRISIS_INTENTS = frozenset({CRISIS, CHECK_IN})
