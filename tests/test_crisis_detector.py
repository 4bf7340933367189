"""Tests for nlu_components.crisis_detector.CrisisDetector, built the way Rasa tests components.

The component is created through its `create(config, model_storage, resource,
execution_context)` and fed `Message` objects, both alone (its own tokenizer) and after a real
SpacyNLP + SpacyTokenizer loaded from build/spacy-en (so the message's lemmas are used).
The evaluation set is tests/safety/crisis_eval.yml; numbers are printed (run with -s to see).
"""

from __future__ import annotations

import copy
import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rasa.shared.utils.io  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.recipes.default_recipe import DefaultV1Recipe  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.engine.storage.storage import ModelStorage  # noqa: E402
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer  # noqa: E402
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from nlu_components.crisis_detector import CrisisDetector  # noqa: E402

SPACY_MODEL = ROOT / "build" / "spacy-en"
PATTERNS = ROOT / "safety" / "crisis_patterns.yml"
EVAL = rasa.shared.utils.io.read_yaml_file(ROOT / "tests" / "safety" / "crisis_eval.yml")
CRISIS = EVAL["crisis"]
NON_CRISIS = EVAL["not_crisis"]
MAX_FALSE_ALARM_RATE = 0.03


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def default_model_storage(tmp_path_factory: pytest.TempPathFactory) -> ModelStorage:
    return LocalModelStorage.create(tmp_path_factory.mktemp("model_storage"))


@pytest.fixture(scope="module")
def default_execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), uuid.uuid4().hex)


@pytest.fixture(scope="module")
def create_detector(default_model_storage: ModelStorage, default_execution_context: ExecutionContext):
    def inner(config: Dict[str, Any] | None = None) -> CrisisDetector:
        return CrisisDetector.create(
            {**CrisisDetector.get_default_config(), **(config or {})},
            default_model_storage,
            Resource("crisis_detector"),
            default_execution_context,
        )

    return inner


@pytest.fixture(scope="module")
def detector(create_detector) -> CrisisDetector:
    return create_detector()


@pytest.fixture(scope="module")
def spacy_nlp_component(default_model_storage, default_execution_context) -> SpacyNLP:
    if not SPACY_MODEL.exists():
        pytest.skip("build/spacy-en missing: run scripts/build_spacy_pipeline.py")
    return SpacyNLP.create(
        {**SpacyNLP.get_default_config(), "model": str(SPACY_MODEL), "case_sensitive": False},
        default_model_storage,
        Resource("spacy_nlp"),
        default_execution_context,
    )


@pytest.fixture(scope="module")
def spacy_model(spacy_nlp_component: SpacyNLP) -> SpacyModel:
    return spacy_nlp_component.provide()


@pytest.fixture(scope="module")
def spacy_tokenizer(default_model_storage, default_execution_context) -> SpacyTokenizer:
    return SpacyTokenizer.create(
        SpacyTokenizer.get_default_config(),
        default_model_storage,
        Resource("spacy_tokenizer"),
        default_execution_context,
    )


@pytest.fixture(scope="module")
def run_pipeline(detector, spacy_nlp_component, spacy_model, spacy_tokenizer):
    """SpacyNLP -> SpacyTokenizer -> CrisisDetector, as in config.yml."""

    def inner(messages: List[Message]) -> List[Message]:
        messages = spacy_nlp_component.process(messages, spacy_model)
        messages = spacy_tokenizer.process(messages)
        return detector.process(messages)

    return inner


def message(text: Any, intent: str | None = None, confidence: float = 0.9, ranking=None) -> Message:
    msg = Message(data={"text": text})
    if intent is not None:
        msg.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
        msg.set(
            "intent_ranking",
            ranking if ranking is not None else [{"name": intent, "confidence": confidence}],
            add_to_output=True,
        )
    return msg


def verdict(msg: Message) -> Dict[str, str] | None:
    return msg.get("crisis")


def short(text: str) -> str:
    return text if len(text) <= 50 else text[:47] + "..."


# --------------------------------------------------------------------------- registration
def test_registered_as_non_trainable_intent_classifier():
    registered = DefaultV1Recipe._from_registry("nlu_components.crisis_detector.CrisisDetector")
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert registered.is_trainable is False


# --------------------------------------------------------------------------- the evaluation set
@pytest.mark.parametrize("item", CRISIS, ids=[short(i["text"]) for i in CRISIS])
def test_crisis_message_detected_standalone(detector: CrisisDetector, item: Dict[str, str]):
    msg = detector.process([message(item["text"])])[0]
    assert msg.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert verdict(msg)["category"] == item["category"]
    assert verdict(msg)["subject"] == item["subject"]


@pytest.mark.parametrize("item", CRISIS, ids=[short(i["text"]) for i in CRISIS])
def test_crisis_message_detected_after_spacy(run_pipeline, item: Dict[str, str]):
    msg = run_pipeline([message(item["text"])])[0]
    assert msg.get("text_spacy_doc") is not None
    assert msg.get("intent")["name"] == "crisis"
    assert verdict(msg)["category"] == item["category"]
    assert verdict(msg)["subject"] == item["subject"]


def _score(process, items_crisis, items_safe):
    found = [verdict(m) for m in process([message(i["text"]) for i in items_crisis])]
    hits = sum(1 for v, i in zip(found, items_crisis, strict=True) if v and v["category"] == i["category"])
    others = [(v, i) for v, i in zip(found, items_crisis, strict=True) if i["subject"] == "other"]
    safe = [verdict(m) for m in process([message(i["text"]) for i in items_safe])]
    alarms = [i["text"] for v, i in zip(safe, items_safe, strict=True) if v]
    return (
        hits / len(items_crisis),
        sum(1 for v, _ in others if v and v["subject"] == "other") / len(others),
        len(alarms) / len(items_safe),
        alarms,
    )


@pytest.mark.parametrize("path", ["standalone", "after_spacy"])
def test_recall_and_false_alarm_rate(path, detector, request):
    process = detector.process if path == "standalone" else request.getfixturevalue("run_pipeline")
    recall, other_subject, false_alarm_rate, alarms = _score(process, CRISIS, NON_CRISIS)
    print(
        f"\n[{path}] recall {recall:.1%} over {len(CRISIS)} crisis messages; third-person subject "
        f"correct {other_subject:.1%}; false alarms {false_alarm_rate:.1%} over "
        f"{len(NON_CRISIS)} non-crisis messages {alarms}"
    )
    assert recall == 1.0
    assert other_subject == 1.0
    assert false_alarm_rate <= MAX_FALSE_ALARM_RATE


def test_eval_set_is_broad_enough():
    categories = {(i["category"], i["subject"]) for i in CRISIS}
    assert len(CRISIS) >= 170 and len(NON_CRISIS) >= 120
    assert {"suicide", "self_harm", "danger"} == {c for c, _ in categories}
    assert {("suicide", "other"), ("self_harm", "other"), ("danger", "other")} <= categories
    assert all(i["subject"] in ("self", "other") for i in CRISIS)
    assert sum(1 for i in CRISIS if len(i["text"]) > 120) >= 8  # buried in longer questions


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def test_training_data_is_crisis_only_and_disjoint_from_eval():
    training = load_data(str(ROOT / "data" / "nlu" / "crisis.yml"))
    examples = training.intent_examples
    assert len(examples) >= 50
    assert {m.get("intent") for m in examples} == {"crisis"}
    eval_texts = {_norm(i["text"]) for i in CRISIS + NON_CRISIS}
    overlap = [m.get("text") for m in examples if _norm(m.get("text")) in eval_texts]
    assert overlap == []


# --------------------------------------------------------------------------- decisions
@pytest.mark.parametrize(
    "text",
    [
        "I could die of embarrassment",
        "the suspense is killing me",
        "my phone died",
        "this homework is killing me",
        "I'm dying to know",
        "just killing time",
        "I'm dead tired",
        "this cake is to die for",
        "I'm going to kill it at work",
        "he's drop-dead gorgeous",
        "it hurts so much",
        "I'm in so much pain",
        "the nervous system detects danger",
        "I'm stuck in survival mode",
        "I'm just trying to survive",
        "he's a threat to my peace",
        "it feels like it's killing me slowly",
        "he hurt me",
        "I could kill myself for believing him",
    ],
)
def test_idioms_and_article_vocabulary_do_not_trigger(detector, text):
    msg = detector.process([message(text, "why_still_attached")])[0]
    assert msg.get("intent")["name"] == "why_still_attached"
    assert verdict(msg) is None


@pytest.mark.parametrize(
    "text, triggers",
    [
        ("I'm not suicidal", False),
        ("I would never hurt myself", False),
        ("I don't want to die", False),
        ("I have no thoughts of suicide", False),
        ("I'm not going to kill myself", False),
        ("he has never hit me", False),
        ("I'm not suicidal but sometimes I wish I wouldn't wake up", True),
        ("I don't want to die, but I've been cutting again", True),
        ("he doesn't hit me but he threatened to kill me", True),
        ("I can't kill myself because of my kids", True),  # ability, not negation
        ("I don't want to live anymore", True),  # the negation is the crisis
        ("I don't think I want to live", True),
        ("he won't let me leave", True),
    ],
)
def test_negation(detector, text, triggers):
    assert (verdict(detector.process([message(text)])[0]) is not None) is triggers


@pytest.mark.parametrize(
    "text, category, subject",
    [
        ("I cut myself and I want to die", "suicide", "self"),
        ("he hits me and I've been cutting again", "danger", "self"),
        ("he said he will kill me", "danger", "self"),
        ("he says he wants to die", "suicide", "other"),
        ("my friend is suicidal and my boyfriend hits me", "danger", "self"),
        ("he said he'd kill me and then himself", "danger", "self"),
        ("my sister cuts herself and I want to die", "suicide", "self"),
        ("he says I should kill myself", "suicide", "self"),
    ],
)
def test_priority_and_subject(detector, text, category, subject):
    found = verdict(detector.process([message(text)])[0])
    assert (found["category"], found["subject"]) == (category, subject)


# --------------------------------------------------------------------------- Rasa message output
def test_override_sets_intent_ranking_entities_and_output(detector):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "why_still_attached", "confidence": 0.41},
        {"name": "greet", "confidence": 0.2},
    ]
    msg = message("why do I still love him? he said he'll kill me", "nlu_fallback", 0.5, ranking)
    msg = detector.process([msg])[0]
    assert msg.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert [r["name"] for r in msg.get("intent_ranking")] == ["crisis", "why_still_attached", "greet"]
    assert msg.get("intent_ranking")[0]["confidence"] == 1.0
    entities = {e["entity"]: e for e in msg.get("entities")}
    assert entities["crisis_category"]["value"] == "danger"
    assert entities["crisis_subject"]["value"] == "self"
    span = msg.get("text")[entities["crisis_category"]["start"] : entities["crisis_category"]["end"]]
    assert "kill me" in span
    crisis = msg.get("crisis")
    assert {k: crisis[k] for k in ("category", "subject", "rule")} == {
        "category": "danger",
        "subject": "self",
        "rule": "danger.threat_to_kill",
    }
    assert crisis["region"] == "US"
    output = msg.as_dict(only_output_properties=True)
    assert {"intent", "intent_ranking", "entities", "crisis"} <= set(output)


def test_nothing_changes_without_a_crisis(detector):
    msg = message("what is a trauma bond?", "what_is_trauma_bond", 0.97)
    msg.set("entities", [{"entity": "topic", "value": "x", "start": 0, "end": 1}], add_to_output=True)
    before, outputs = copy.deepcopy(msg.data), set(msg.output_properties)
    detector.process([msg])
    assert msg.data == before
    assert msg.output_properties == outputs


def test_processing_twice_does_not_duplicate_entities(detector):
    msg = detector.process(detector.process([message("I want to kill myself")]))[0]
    assert [e["entity"] for e in msg.get("entities")] == ["crisis_category", "crisis_subject", "haven_region"]


# --------------------------------------------------------------------------- classifier path
@pytest.mark.parametrize(
    "text, category, subject",
    [
        ("honestly I'm so tired of everything, nothing matters", "suicide", "self"),
        ("he keeps yelling and I'm terrified of him", "danger", "self"),
        ("there's a razor blade on my desk", "self_harm", "self"),
        ("my sister keeps scratching herself", "self_harm", "other"),
    ],
)
def test_classifier_says_crisis_without_a_pattern(detector, text, category, subject):
    msg = detector.process([message(text, "crisis", 0.83)])[0]
    assert msg.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert msg.get("intent_ranking")[0] == {"name": "crisis", "confidence": 1.0}
    assert {k: msg.get("crisis")[k] for k in ("category", "subject", "rule")} == {
        "category": category,
        "subject": subject,
        "rule": "classifier",
    }
    assert {e["entity"]: e["value"] for e in msg.get("entities")} == {
        "crisis_category": category,
        "crisis_subject": subject,
        "haven_region": "US",
    }


@pytest.mark.parametrize("text", ["tonight feels different", "I'm not suicidal", "i'm judging myself too"])
def test_a_classifier_crisis_without_any_cue_is_demoted(detector, text):
    """The classifier alone raised false alarms on plain self-talk; with no crisis cue at all its
    `crisis` gives way to its next-best intent, and no crisis is recorded."""
    ranking = [{"name": "crisis", "confidence": 0.99}, {"name": "is_it_weakness", "confidence": 0.01}]
    msg = detector.process([message(text, "crisis", 0.99, ranking)])[0]
    assert msg.get("crisis") is None
    assert msg.get("intent") == {"name": "is_it_weakness", "confidence": 0.01}
    assert [r["name"] for r in msg.get("intent_ranking")] == ["is_it_weakness"]


def test_low_confidence_crisis_behind_fallback_counts(detector):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "crisis", "confidence": 0.34},
        {"name": "greet", "confidence": 0.3},
    ]
    msg = detector.process(
        [message("i dunno anymore, i just want to disappear", "nlu_fallback", 0.5, ranking)]
    )[0]
    assert msg.get("intent")["name"] == "crisis"
    assert [r["name"] for r in msg.get("intent_ranking")] == ["crisis", "greet"]
    assert msg.get("crisis")["rule"] == "classifier"


def test_pattern_rule_wins_over_classifier_rule(detector):
    msg = detector.process([message("my friend wants to kill herself", "crisis", 0.99)])[0]
    assert {k: msg.get("crisis")[k] for k in ("category", "subject", "rule")} == {
        "category": "suicide",
        "subject": "other",
        "rule": "suicide.explicit",
    }


# --------------------------------------------------------------------------- robustness and speed
EDGE_CASES = {
    "empty": "",
    "spaces": "   \n\t ",
    "emoji": "😢😢😢 💔🔪",
    "control": "he\x00 hit\x07 me\x1b[31m",
    "rtl_override": "\u202eI want to kill myself\u202c",
    "zero_width": "ki\u200bll my\u200dself",
    "surrogate": "I want to die \ud800 now",
    "fullwidth": "ＩＷＡＮＮＡ ＤＩＥ",
    "curly": "I don’t want to be here anymore",
    "spanish": "quiero morir",
    "chinese": "我不想活了",
    "arabic": "لا أريد أن أعيش",
    "glued": "he hit me.he said sorry",
    "combining": "ki\u0301ll myse\u0301lf",
    "long_safe": ("why do I still feel attached to him? " * 2800),
    "long_buried": ("why do I still feel attached to him? " * 2700) + "I have the pills ready.",
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_inputs_never_raise(detector, name, caplog):
    text = EDGE_CASES[name]
    msg = detector.process([message(text, "greet", 0.6)])[0]
    assert "CrisisDetector failed" not in caplog.text
    assert msg.get("intent")["name"] in ("greet", "crisis")
    expected = {
        "rtl_override": "suicide",
        "zero_width": "suicide",
        "surrogate": "suicide",
        "curly": "suicide",
        "spanish": "suicide",
        "glued": "danger",
        "long_buried": "suicide",
    }
    if name in expected:
        assert verdict(msg)["category"] == expected[name]
        entity = msg.get("entities")[0]
        assert 0 <= entity["start"] < entity["end"] <= len(text)
    if name in ("empty", "spaces", "emoji", "chinese", "arabic", "long_safe"):
        assert verdict(msg) is None


def test_text_that_is_not_a_string_is_left_alone(detector):
    for data in ({"text": None}, {}, {"text": 42}):
        msg = Message(data=dict(data))
        detector.process([msg])
        assert msg.get("crisis") is None


_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=300)
_CRISIS_BITS = st.sampled_from(
    ["kill myself", "he hit me", "not suicidal", "cut myself", "to die for", "kys", "", "n't"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=_ANY_TEXT,
    middle=_CRISIS_BITS,
    suffix=_ANY_TEXT,
    intent=st.sampled_from([None, "greet", "crisis", "nlu_fallback", "why_still_attached"]),
    confidence=st.floats(allow_nan=True, allow_infinity=True),
)
def test_fuzz_never_raises_and_only_moves_to_crisis(detector, prefix, middle, suffix, intent, confidence):
    text = prefix + middle + suffix
    msg = message(text, intent, confidence)
    before = copy.deepcopy(msg.get("intent"))
    found = detector.detect(text)  # raises on a bug; process() would only log it
    detector.process([msg])
    after = msg.get("intent")
    confirmed = msg.get("crisis") is not None
    if confirmed:
        assert after == {"name": "crisis", "confidence": 1.0}
    elif intent == "crisis":
        assert after["name"] != "crisis", "an unconfirmed classifier crisis is demoted"
    else:
        assert after == before
    assert found is None or confirmed


def test_fast_enough(detector, spacy_nlp_component, spacy_model, spacy_tokenizer):
    texts = [i["text"] for i in NON_CRISIS + CRISIS]
    messages = spacy_tokenizer.process(spacy_nlp_component.process([message(t) for t in texts], spacy_model))
    timings = []
    for msg in messages:
        start = time.perf_counter()
        detector.process([msg])
        timings.append(time.perf_counter() - start)
    standalone = []
    for text in texts:
        start = time.perf_counter()
        detector.process([message(text)])
        standalone.append(time.perf_counter() - start)
    median, p95 = statistics.median(timings) * 1000, sorted(timings)[int(0.95 * len(timings))] * 1000
    alone = statistics.median(standalone) * 1000
    print(
        f"\nper message with SpacyNLP docs: median {median:.3f} ms, p95 {p95:.3f} ms; "
        f"standalone median {alone:.3f} ms"
    )
    assert median < 1.0
    assert alone < 2.0


def test_spacy_doc_is_reused(detector, run_pipeline, monkeypatch):
    def no_tokenising(text):
        raise AssertionError("tokenised again although SpacyNLP gave a doc")

    monkeypatch.setattr(detector, "_tokenise", no_tokenising)
    msg = run_pipeline([message("I've been stockpiling my meds")])[0]
    assert verdict(msg)["rule"] == "suicide.plan_or_means"  # LEMMA stockpile <- stockpiling


def test_patterns_are_compiled_once(create_detector, monkeypatch):
    fresh = create_detector()

    def no_reading(*args, **kwargs):
        raise AssertionError("patterns re-read while processing")

    monkeypatch.setattr(rasa.shared.utils.io, "read_yaml_file", no_reading)
    monkeypatch.setattr(fresh, "_compile", no_reading)
    assert verdict(fresh.process([message("I want to kill myself")])[0])["category"] == "suicide"


def test_missing_or_broken_patterns_fail_loudly(create_detector, tmp_path):
    with pytest.raises((OSError, ValueError)):  # FileNotFoundError or Rasa's FileNotFoundException
        create_detector({"patterns": str(tmp_path / "missing.yml")})
    spec = rasa.shared.utils.io.read_yaml_file(PATTERNS)
    spec["categories"]["suicide"]["patterns"][0]["tokens"] = [[{"LOWER": {"IN": "not-a-list"}}]]
    broken = tmp_path / "broken.yml"
    rasa.shared.utils.io.write_yaml(spec, broken)
    with pytest.raises(ValueError):
        create_detector({"patterns": str(broken)})


# --------------------------------------------------------------------------- through Rasa's graph
E2E_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from rasa.model_training import train_nlu
    from rasa.core.agent import Agent
    path = train_nlu("config.yml", "nlu.yml", "models", fixed_model_name="crisis-e2e")
    agent = Agent.load(path)
    out = {t: asyncio.run(agent.parse_message(t)) for t in sys.argv[1:]}
    print("E2E-RESULT " + json.dumps(out, default=str))
    """
)


def test_component_loads_from_config_through_rasa_graph(tmp_path):
    """Trains a tiny NLU-only model (no DIET) and parses through Rasa's graph runner.

    Skipped only if training and parsing take more than 60 s on this machine.
    """
    (tmp_path / "config.yml").write_text(
        textwrap.dedent(
            f"""
            recipe: default.v1
            language: en
            assistant_id: crisis-e2e
            pipeline:
              - name: SpacyNLP
                model: {SPACY_MODEL}
                case_sensitive: false
              - name: SpacyTokenizer
              - name: CountVectorsFeaturizer
              - name: KeywordIntentClassifier
              - name: nlu_components.crisis_detector.CrisisDetector
                patterns: {PATTERNS}
            policies: []
            """
        )
    )
    (tmp_path / "nlu.yml").write_text(
        textwrap.dedent(
            """
            version: "3.1"
            nlu:
              - intent: greet
                examples: |
                  - hello
                  - hi
              - intent: why_still_attached
                examples: |
                  - attached
                  - miss him
            """
        )
    )
    (tmp_path / "run.py").write_text(E2E_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RASA_CACHE_DIRECTORY": str(tmp_path / "cache"),
    }
    texts = ["I want to kill myself", "hello", "why am I still attached"]
    try:
        done = subprocess.run(
            [sys.executable, "run.py", *texts],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("training the tiny model took more than 60 s on this machine")
    lines = [line for line in done.stdout.splitlines() if line.startswith("E2E-RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    parsed = json.loads(lines[-1][len("E2E-RESULT ") :])
    crisis = parsed["I want to kill myself"]
    assert crisis["intent"] == {"name": "crisis", "confidence": 1.0}
    assert {k: crisis["crisis"][k] for k in ("category", "subject", "rule")} == {
        "category": "suicide",
        "subject": "self",
        "rule": "suicide.explicit",
    }
    assert {e["entity"]: e["value"] for e in crisis["entities"]} == {
        "crisis_category": "suicide",
        "crisis_subject": "self",
        "haven_region": "US",
    }
    assert parsed["hello"]["intent"]["name"] == "greet" and "crisis" not in parsed["hello"]
    assert parsed["why am I still attached"]["intent"]["name"] == "why_still_attached"


@pytest.mark.parametrize(
    ("metadata", "region"),
    [
        (None, "US"),
        ({"locale": "en-GB"}, "UK"),
        ({"locale": "en_AU"}, "AU"),
        ({"locale": "fr-CA"}, "CA"),
        ({"region": "uk"}, "UK"),
        ({"locale": "de-DE"}, "US"),
        ({"locale": "<script>"}, "US"),
        ("junk", "US"),
    ],
)
def test_region_comes_from_the_widget_locale(metadata, region) -> None:
    detector = CrisisDetector({**CrisisDetector.get_default_config(), "default_region": "US"})
    assert detector.region(metadata) == region


def test_classifier_path_respects_its_threshold() -> None:
    detector = CrisisDetector({**CrisisDetector.get_default_config(), "classifier_threshold": 0.9})
    message = Message(
        data={
            "text": "i just want to disappear",
            "intent": {"name": "crisis", "confidence": 0.6},
            "intent_ranking": [{"name": "crisis", "confidence": 0.6}],
        }
    )
    detector.process([message])
    assert message.get("crisis") is None
    message.set("intent_ranking", [{"name": "crisis", "confidence": 0.95}])
    detector.process([message])
    assert message.get("crisis")["rule"] == "classifier"
