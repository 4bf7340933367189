"""The two tiers: how the crisis detector turns the risk model's score into the full reply or a
check-in, and the patterns' checks applied to the model's alarms (CrisisJudge.judge_model).

The score is set by hand here, so these tests pin the decision logic; the trained model's behaviour
on real phrasings is in tests/test_crisis_model.py."""

from __future__ import annotations

import uuid
from typing import Any, Dict

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from haven.settings import ROOT
from nlu_components.crisis import CrisisDetector, CrisisJudge
from nlu_components.crisis.risk_model import RISK_KEY, SCORER_KEY, VERIFIER_KEY

HIGH, MIDDLE, FLOOR = 0.9, 0.5, 0.05


@pytest.fixture(scope="module")
def judge() -> CrisisJudge:
    return CrisisJudge.load(ROOT / "safety" / "crisis_patterns")


def make_detector(tmp_path_factory, **config: Any) -> CrisisDetector:
    settings: Dict[str, Any] = {
        **CrisisDetector.get_default_config(),
        "risk_crisis_threshold": HIGH,
        "risk_check_in_threshold": MIDDLE,
        "risk_pattern_floor": FLOOR,
        **config,
    }
    return CrisisDetector.create(
        settings,
        LocalModelStorage.create(tmp_path_factory.mktemp("storage")),
        Resource("crisis_detector"),
        ExecutionContext(GraphSchema({}), uuid.uuid4().hex),
    )


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> CrisisDetector:
    return make_detector(tmp_path_factory)


def scored(text: str, score: float, category: str = "suicide") -> Message:
    msg = Message(data={"text": text})
    msg.set(RISK_KEY, {"score": score, "category": category, "chunks": 1}, add_to_output=True)
    return msg


def verdict(detector: CrisisDetector, text: str, score: float, category: str = "suicide"):
    [msg] = detector.process([scored(text, score, category)])
    return (msg.get("intent") or {}).get("name"), msg.get("crisis") or {}


@pytest.mark.parametrize(
    ("score", "intent", "tier"),
    [(0.97, "crisis", "crisis"), (0.9, "crisis", "crisis"), (0.7, "crisis_check_in", "check_in"),
     (0.5, "crisis_check_in", "check_in"), (0.49, None, None), (0.0, None, None)],
)  # fmt: skip
def test_the_score_chooses_the_tier_when_no_pattern_matches(detector, score, intent, tier) -> None:
    name, crisis = verdict(detector, "i gave the dog to my sister and wrote some letters", score)
    assert name == intent
    if tier:
        assert (crisis["tier"], crisis["rule"], crisis["model_score"]) == (tier, "model", round(score, 3))
        assert crisis["category"] == "suicide"


def test_a_check_in_carries_the_entities_its_reply_needs(detector) -> None:
    [msg] = detector.process([scored("i keep looking at the bottle of tablets", 0.6, "suicide")])
    entities = {e["entity"]: e["value"] for e in msg.get("entities")}
    assert entities == {"crisis_category": "suicide", "crisis_subject": "self", "haven_region": "US"}


def test_a_pattern_match_is_the_full_reply_whatever_the_model_says(detector) -> None:
    name, crisis = verdict(detector, "I want to kill myself", 0.2)
    assert (name, crisis["tier"], crisis["rule"]) == ("crisis", "crisis", "suicide.explicit")


def test_a_pattern_match_the_model_reads_as_plainly_calm_is_asked_about(detector) -> None:
    name, crisis = verdict(detector, "I want to kill myself", 0.01)
    assert (name, crisis["tier"]) == ("crisis_check_in", "check_in")


# --------------------------------------------------------------------------- the pattern verifier
VERIFIER_FLOOR, DROP_MODEL, DROP_VERIFIER = 0.3, 0.05, 0.02


@pytest.fixture(scope="module")
def verified_detector(tmp_path_factory) -> CrisisDetector:
    return make_detector(
        tmp_path_factory,
        risk_pattern_floor=0.1,
        pattern_verifier_floor=VERIFIER_FLOOR,
        pattern_drop_model=DROP_MODEL,
        pattern_drop_verifier=DROP_VERIFIER,
    )


def two_opinions(detector: CrisisDetector, text: str, score: float, pieces: Dict[str, float], verified):
    """The detector's verdict with the risk model's whole-message score `score`, the risk model's score
    of a piece of text from `pieces` (0 for any other), and the verifier `verified(text)`."""
    msg = scored(text, score)
    msg.set(SCORER_KEY, lambda piece: pieces.get(piece, 0.0))
    msg.set(VERIFIER_KEY, verified)
    [msg] = detector.process([msg])
    return (msg.get("intent") or {}).get("name"), (msg.get("crisis") or {}).get("tier")


@pytest.mark.parametrize(
    ("score", "verifier", "expected"),
    [
        (0.9, 0.9, ("crisis", "crisis")),  # both agree
        (0.9, VERIFIER_FLOOR, ("crisis", "crisis")),
        (0.9, 0.29, ("crisis_check_in", "check_in")),  # the verifier doubts it: asked, not told
        (0.09, 0.9, ("crisis_check_in", "check_in")),  # the risk model doubts it (its floor, as before)
        (0.04, 0.03, ("crisis_check_in", "check_in")),  # one of them above its drop threshold: asked
        (0.06, 0.01, ("crisis_check_in", "check_in")),
        (0.04, 0.01, (None, None)),  # both read it as plainly calm: no alarm
        (0.9, float("nan"), ("crisis", "crisis")),  # an undefined score errs on the side of safety
    ],
)
def test_a_pattern_match_needs_the_verifier_for_the_full_reply(verified_detector, score, verifier, expected):
    text = "I used to cut myself as a teen, nine years clean now"
    assert two_opinions(verified_detector, text, score, {}, lambda _piece: verifier) == expected


def test_the_matched_sentence_counts_when_a_long_message_dilutes_it(verified_detector) -> None:
    story = "We met at university and he was kind to me for years. " * 6
    text = story + "Last night I wanted to kill myself. " + story
    sentence = "Last night I wanted to kill myself."

    def verified(piece: str) -> float:
        return 0.9 if piece.strip() == sentence else 0.01

    pieces = {sentence: 0.8}
    assert two_opinions(verified_detector, text, 0.01, pieces, verified) == ("crisis", "crisis")
    # read whole only, both would have dropped it
    assert two_opinions(verified_detector, text, 0.01, {}, lambda _piece: 0.01) == (None, None)


def test_a_dropped_match_still_leaves_the_model_tier(verified_detector) -> None:
    """A match both models read as calm raises no alarm of its own; the classifier's `crisis` intent, if
    it was the top intent, gives way as for any message the detector did not confirm."""
    msg = scored("I used to cut myself as a teen, nine years clean now", 0.01)
    msg.set("intent", {"name": "crisis", "confidence": 0.99})
    msg.set("intent_ranking", [{"name": "crisis", "confidence": 0.99}, {"name": "greet", "confidence": 0.01}])
    msg.set(VERIFIER_KEY, lambda _piece: 0.0)
    [msg] = verified_detector.process([msg])
    assert msg.get("intent")["name"] == "greet" and msg.get("crisis") is None


def test_without_a_verifier_the_floor_decides_as_before(verified_detector) -> None:
    # a model trained before the verifier existed: no VERIFIER_KEY on the message
    name, crisis = verdict(verified_detector, "I want to kill myself", 0.2)
    assert (name, crisis["tier"]) == ("crisis", "crisis")
    name, crisis = verdict(verified_detector, "I want to kill myself", 0.01)
    assert (name, crisis["tier"]) == ("crisis_check_in", "check_in")


def test_without_a_score_the_patterns_decide_as_before(detector) -> None:
    [msg] = detector.process([Message(data={"text": "I want to kill myself"})])
    assert msg.get("intent")["name"] == "crisis" and msg.get("crisis")["model_score"] is None
    [msg] = detector.process([Message(data={"text": "what is a trauma bond"})])
    assert msg.get("intent") is None


@pytest.mark.parametrize("score", [float("nan"), "high", None])
def test_a_broken_score_raises_no_alarm_and_no_error(detector, score) -> None:
    msg = Message(data={"text": "hello"})
    msg.set(RISK_KEY, {"score": score, "category": "suicide"})
    [msg] = detector.process([msg])
    assert msg.get("intent") is None


# --------------------------------------------------------------------------- checks on the model's alarms
@pytest.mark.parametrize(
    ("text", "demoted_by"),
    [
        # resolved history
        (
            "i took an overdose years ago after my divorce. i'm ok now, just wanted to say it gets better",
            ("past",),
        ),
        # the only crisis words negated
        ("i'm not suicidal, just so tired of all of it", ("negated",)),
        ("I would never kill myself, I just feel empty", ("negated",)),
        # an idiom
        ("ive been killing myself at work to make the mortgage since he left", ("idiom",)),
        ("i could die of embarrassment, he told everyone", ("idiom",)),
    ],
)
def test_the_patterns_checks_lower_a_model_alarm(judge, text, demoted_by) -> None:
    high = judge.judge_model(text, 0.95, "suicide", HIGH, MIDDLE)
    assert high is not None and high.tier == "check_in" and high.demoted_by == demoted_by
    assert judge.judge_model(text, 0.7, "suicide", HIGH, MIDDLE) is None


def test_an_alarm_that_can_only_ask_is_a_check_in_until_a_check_lowers_it(judge) -> None:
    """judge_check_in (the nearest-neighbour margin's alarm): never the full reply; past, negated and
    idiom each drop it."""
    asked = judge.judge_check_in("i keep thinking about the bridge on my way home", "suicide")
    assert asked is not None and asked.tier == "check_in" and asked.demoted_by == ()
    assert judge.judge_check_in("i'm not suicidal, just so tired of all of it", "suicide") is None
    assert judge.judge_check_in("i could die of embarrassment, he told everyone", "suicide") is None


@pytest.mark.parametrize(
    "text",
    [
        "i'm trying not to kill myself tonight",
        "trying so hard not to cut again",
        "i didn't do it tonight but i have everything ready",
        "haven't done it yet. tonight maybe",
    ],
)
def test_trying_not_to_and_not_tonight_are_not_negations(judge, text) -> None:
    found = judge.judge_model(text, 0.95, "suicide", HIGH, MIDDLE)
    assert found is not None and found.tier == "crisis" and "negated" not in found.demoted_by


def test_someone_elses_risk_is_their_subject(judge) -> None:
    found = judge.judge_model(
        "my sister keeps saying she won't be around much longer", 0.95, "suicide", HIGH, MIDDLE
    )
    assert found is not None and found.subject == "other"


def test_trying_not_to_is_a_pattern_crisis_too(judge) -> None:
    assert judge.detect("i'm trying not to kill myself tonight")[0] == "suicide"
    assert judge.detect("im doing my best not to kill myself") is not None
    assert judge.detect("i'm not going to kill myself") is None


@pytest.mark.parametrize(
    "text",
    [
        "my cousin killed himself 3 yrs ago and today is hard",
        "my mom died by suicide when i was 12. i think about her a lot this time of year",
        "The anniversary of my son's death is next week. He took his own life at 22.",
        "my best friend's suicide still haunts me",
    ],
)
def test_someone_elses_completed_suicide_is_grief_not_a_pattern_crisis(judge, text) -> None:
    assert judge.detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "my son tried to kill himself last night",
        "my brother nearly killed himself, he's in hospital",
        "my husband killed himself last month and i want to join him",
    ],
)
def test_an_attempt_or_wanting_to_follow_is_still_a_crisis(judge, text) -> None:
    assert judge.detect(text) is not None


def classified(text: str, score: float) -> Message:
    msg = scored(text, score)
    msg.set("intent", {"name": "crisis", "confidence": 0.99}, add_to_output=True)
    msg.set("intent_ranking", [{"name": "crisis", "confidence": 0.99}], add_to_output=True)
    return msg


def test_the_classifiers_crisis_needs_the_risk_model_to_be_at_least_unsure(tmp_path) -> None:
    detector = CrisisDetector.create(
        {**CrisisDetector.get_default_config(), "classifier_threshold": 0.95,
         "risk_crisis_threshold": HIGH, "risk_check_in_threshold": MIDDLE},
        LocalModelStorage.create(tmp_path), Resource("crisis_detector"),
        ExecutionContext(GraphSchema({}), uuid.uuid4().hex),
    )  # fmt: skip
    text = "everything hurts and i feel hopeless"  # a weak cue word, no pattern
    [calm] = detector.process([classified(text, 0.2)])
    assert calm.get("intent")["name"] != "crisis"
    [unsure] = detector.process([classified(text, 0.6)])
    assert (unsure.get("intent")["name"], unsure.get("crisis")["rule"]) == ("crisis", "classifier")


def test_a_pattern_match_in_a_long_calm_story_is_scored_as_its_own_sentence(detector) -> None:
    filler = "He lied to me for years and I still miss him, I don't understand why I feel this way. "
    text = filler * 20 + "honestly I want to end my life. " + filler * 20
    msg = scored(text, 0.02)
    asked = []
    msg.set("haven_crisis_risk_scorer", lambda piece: asked.append(piece) or 0.99)
    [msg] = detector.process([msg])
    assert msg.get("intent")["name"] == "crisis", "the sentence alone is clearly a crisis: the full reply"
    assert asked == ["honestly I want to end my life."]


@pytest.mark.parametrize(
    ("text", "start", "end", "sentence"),
    [
        ("a. b c d. e", 5, 6, "b c d."),
        ("no punctuation here", 3, 5, "no punctuation here"),
        ("first line\nsecond bit here\nthird", 12, 18, "second bit here"),
        ("", 0, 0, ""),
    ],
)
def test_sentence_around(text, start, end, sentence) -> None:
    from nlu_components.crisis.component import sentence_around

    assert sentence_around(text, start, end) == sentence
