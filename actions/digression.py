"""Inside a form: is the visitor's message an answer to the question, or something to answer first?

Why this exists: a form that takes every message as the answer turns "why do I still feel attached to
him after everything?" into a name and "yes" into a time preference (issue 13). The forms' slots use
custom mappings, and each `extract_<slot>` asks `is_digression` first:

- a digression leaves the slot unset, so Rasa's form rejects its turn and the rules in
  data/rules/form_digressions.yml answer it the usual way (crisis first, a topic, "Did you mean…"),
  then run the form again, which asks the same question again;
- anything else is passed to the slot's `validate_<slot>`, which says kindly what it needs when the
  answer is not what the slot is (a greeting is not a name, "yes" is not a time).

Intent confidence alone cannot decide: measured on the trained model, 40 of 100 first names are
`out_of_scope` (up to 0.93) and "Sam" is `share_feelings` (0.53), while "mornings" is `greet` (0.95).
So the shape of the message (a question, a first-person statement) decides for those intents, and
only the article's own intents count as a digression on confidence alone.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Iterator, Optional, Text, Tuple

from haven.services import content, intents

#: Never an answer: the rules for these win inside a form (crisis, the check-in, stop).
ALWAYS = intents.CRISIS_INTENTS | {"stop"}

#: Questions and requests Haven answers outside the form; each has a rule per form.
TOPICS = frozenset(content.topic_ids())
#: Reliable when the classifier is sure: names and times never scored 0.9 for these.
SURE_INTENTS = TOPICS | {
    "tell_me_more", "something_else", "bot_challenge", "talk_to_human", "book_consultation", "practice_faq",
}  # fmt: skip
#: Names and times land here too (see the module docstring): only a question's shape makes them digressions.
SHAPE_INTENTS = frozenset({"out_of_scope", "share_feelings", "nlu_fallback"})
#: Every intent that can interrupt a form; data/rules/form_digressions.yml has a rule for each, per form.
DIGRESSION_INTENTS = ALWAYS | SURE_INTENTS | SHAPE_INTENTS

SURE = 0.9

QUESTION_WORDS = frozenset(
    "what why how when where who whom whose which is are am was were do does did can could should would "
    "will shall may might has have must tell explain".split()
)
FIRST_PERSON = re.compile(
    r"^(i|i'm|im|i’m|i've|i’ve|i'd|i’d|me|we|he|she|they|it's|its|my\s+(?!name\b))\b", re.I
)
#: "my name is Sam", "call me Sam", "I'm Sam": the name is the last word or two.
NAME_INTRO = re.compile(
    r"^\s*(?:my name is|my name's|name is|call me|i am|i'm|im|i’m|it's|it’s|this is)\s+"
    r"(?P<name>[^\s?]+(?:\s+[^\s?]+)?)[\s.!]*$",
    re.I,
)
WORD = re.compile(r"[\w'’-]+", re.UNICODE)

YES_NO = frozenset(
    "yes y yeah yea yep yup ya sure ok okay k kk alright fine right correct true no n nope nah not".split()
)
#: Not a yes: "huh" scores 0.99 for `affirm`, and consent must be given, not guessed.
UNSURE = frozenset("maybe perhaps hmm hm huh idk dunno unsure".split())
GREETING_WORDS = frozenset("hi hello hey hiya howdy greetings good thanks thank bye goodbye".split())
GREETING_FILLER = frozenset("there you morning evening afternoon day haven again".split())


def intent_of(message: Dict[Text, Any]) -> Tuple[Optional[Text], float]:
    intent = message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def words(text: Text) -> list:
    return [w.lower() for w in WORD.findall(text or "")]


def looks_like_question(text: Text) -> bool:
    """A question mark or a question word first: not a name, a contact or a time."""
    found = words(text)
    return "?" in (text or "") or (bool(found) and found[0] in QUESTION_WORDS)


def name_from_intro(text: Text) -> Optional[Text]:
    """The name in "my name is Sam" or "call me Sam", or None; "I'm scared" and "I'm not sure" too give
    a candidate, so callers check it is not an ordinary word (see actions/booking.py)."""
    match = NAME_INTRO.match(text or "")
    return match.group("name") if match else None


def is_yes_no(text: Text) -> bool:
    """ "yes", "ok sure", "no thanks", "hmm": an answer to a yes/no question, not a name or a time."""
    found = words(text)
    fillers = YES_NO | UNSURE | {"please", "thanks", "thank", "you"}
    return bool(found) and all(w in fillers for w in found)


def is_unsure(text: Text) -> bool:
    return any(w in UNSURE for w in words(text))


def is_greeting(text: Text) -> bool:
    """ "hi", "hello there", "good morning", "thank you": a greeting or thanks, not a name or a time."""
    found = words(text)
    return (
        bool(found)
        and len(found) <= 4
        and any(w in GREETING_WORDS for w in found)
        and all(w in GREETING_WORDS or w in GREETING_FILLER for w in found)
    )


def is_digression(message: Dict[Text, Any], kind: Text) -> bool:
    """True when the latest message should be answered by the rules instead of filling the slot.

    `kind` is what the slot holds: "name", "contact", "time", "yes_no" or "message" (the hand-off's
    free text, where a question *is* the message: only crisis and stop interrupt it).
    """
    intent, confidence = intent_of(message)
    if intent in ALWAYS:
        return True
    if kind == "message" or intent not in DIGRESSION_INTENTS:
        return False
    text = message.get("text") or ""
    if text.startswith("/"):
        return True  # a button for a topic, a suggestion or the hand-off, pressed mid-form
    if looks_like_question(text):
        return True
    if intent in SHAPE_INTENTS:
        # "I'm scared" at the name step is not a name; "I work until 5" at the time step is a time.
        if kind != "name" or not FIRST_PERSON.match(text.strip()):
            return False
        candidate = name_from_intro(text)
        return not (candidate and candidate[:1].isupper())  # "I'm Sam" is a name, "I'm scared" is not
    if kind == "yes_no":
        return True  # a topic, "tell me more", "are you a bot": not a yes or a no
    return confidence >= SURE


#: (active loop, requested slot): the form step a message answered; (None, None) outside a form.
Step = Tuple[Optional[Text], Optional[Text]]


def form_steps(events: Iterable[Dict[Text, Any]]) -> Iterator[Tuple[int, Dict[Text, Any], Step]]:
    """(index, user event, step) for each of the visitor's messages, the step read from the events before
    it. One reading of the tracker's events for the actions that ask what a held-back message answered
    (actions/safety.kept_answer, actions/handoff.unsent_message)."""
    loop = requested = None
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "active_loop":
            loop = event.get("name")
        elif kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "user":
            yield index, event, (loop, requested)


def crisis_of(event: Dict[Text, Any]) -> Dict[Text, Any]:
    """The crisis detector's verdict recorded in a user event's parse ({} when there is none)."""
    return (event.get("parse_data") or {}).get("crisis") or {}
