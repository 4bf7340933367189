"""Tests for nlu_components.crisis.CrisisDetector, built the way Rasa tests components.

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
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
import rasa.shared.utils.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from haven import yaml_files
from nlu_components.crisis import CrisisDetector, patterns

ROOT = Path(__file__).resolve().parent.parent
SPACY_MODEL = ROOT / "build" / "spacy-en"
PATTERNS = ROOT / "safety" / "crisis_patterns"
EVAL = yaml_files.read_12(ROOT / "tests" / "safety" / "crisis_eval.yml")
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
    registered = DefaultV1Recipe._from_registry("nlu_components.crisis.CrisisDetector")
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

    monkeypatch.setattr(detector.judge, "_tokenise", no_tokenising)
    msg = run_pipeline([message("I've been stockpiling my meds")])[0]
    assert verdict(msg)["rule"] == "suicide.plan_or_means"  # LEMMA stockpile <- stockpiling


def test_patterns_are_compiled_once(create_detector, monkeypatch):
    fresh = create_detector()

    def no_reading(*args, **kwargs):
        raise AssertionError("patterns re-read while processing")

    monkeypatch.setattr(yaml_files, "read_12", no_reading)
    monkeypatch.setattr(patterns, "read_folder", no_reading)
    monkeypatch.setattr(patterns.Patterns, "_compile", no_reading)
    assert verdict(fresh.process([message("I want to kill myself")])[0])["category"] == "suicide"


def test_missing_or_broken_patterns_fail_loudly(create_detector, tmp_path):
    with pytest.raises((OSError, ValueError)):  # FileNotFoundError or Rasa's FileNotFoundException
        create_detector({"patterns": str(tmp_path / "missing")})
    with pytest.raises(FileNotFoundError):  # one file of the folder is not the folder
        create_detector({"patterns": str(PATTERNS / "suicide.yml")})
    broken = tmp_path / "patterns"
    shutil.copytree(PATTERNS, broken)
    spec = yaml_files.read_12(broken / "suicide.yml")
    spec["categories"]["suicide"]["patterns"][0]["tokens"] = [[{"LOWER": {"IN": "not-a-list"}}]]
    rasa.shared.utils.io.write_yaml(spec, broken / "suicide.yml")
    with pytest.raises(ValueError):
        create_detector({"patterns": str(broken)})


def _add_pattern(folder: Path, file_name: str, pattern: Dict[str, Any]) -> None:
    """Appends a pattern to the one category of a file that has no YAML anchors to lose."""
    spec = yaml_files.read_12(folder / file_name)
    (body,) = spec["categories"].values()
    body["patterns"].append(pattern)
    rasa.shared.utils.io.write_yaml(spec, folder / file_name)


def _replace_text(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda f: _add_pattern(f, "self_harm.yml", {"id": "suicide.explicit", "phrases": ["x"]}),
            "pattern id 'suicide.explicit' in both self_harm.yml and suicide.yml",
        ),
        (
            lambda f: _add_pattern(f, "self_harm.yml", {"id": "self_harm.explicit", "phrases": ["x"]}),
            "pattern id 'self_harm.explicit' twice in self_harm.yml",
        ),
        (
            lambda f: (f / "more.yml").write_text("exceptions: [{id: idiom.die, tokens: [[{LOWER: x}]]}]\n"),
            "exception id 'idiom.die' in both more.yml and shared.yml",
        ),
        (
            lambda f: (f / "more.yml").write_text("categories:\n  suicide: {patterns: []}\n"),
            "category 'suicide' in both more.yml and suicide.yml",
        ),
        (lambda f: (f / "more.yml").write_text("negation: {}\n"), "'negation' in both more.yml and shared"),
        (lambda f: (f / "more.yml").write_text("categorys: {}\n"), "unknown top-level key 'categorys'"),
        (lambda f: (f / "more.yml").write_text('version: "2"\n'), "version '2'"),
        (
            lambda f: _replace_text(f / "danger.yml", "[sister, mom", "[mom"),
            "set 'close_people' differs between danger.yml and suicide.yml",
        ),
    ],
)
def test_pattern_folder_is_one_consistent_spec(tmp_path, change, error):
    """Every *.yml of the folder is merged; nothing may be defined twice or differently. Checked on the
    folder reader the detector loads through (compiling the patterns each time would cost a second a
    case); the next test shows the detector itself refusing such a folder."""
    folder = tmp_path / "patterns"
    shutil.copytree(PATTERNS, folder)  # an unchanged copy loads: the next test
    change(folder)
    with pytest.raises(ValueError, match=re.escape(error)):
        patterns.read_folder(folder)


def test_the_detector_refuses_an_inconsistent_pattern_folder(create_detector, tmp_path):
    folder = tmp_path / "patterns"
    shutil.copytree(PATTERNS, folder)
    create_detector({"patterns": str(folder)})  # the copy itself loads
    (folder / "more.yml").write_text("categories:\n  suicide: {patterns: []}\n")
    with pytest.raises(ValueError, match=re.escape("category 'suicide' in both more.yml and suicide.yml")):
        create_detector({"patterns": str(folder)})


def test_pattern_folder_merges_like_the_single_file_did():
    """Categories are compiled in the order of the old single file (suicide, self_harm, danger):
    matchers are shared between categories, and their order can decide which of two rules of one
    category is reported. Exceptions, subjects, negation and context come from shared.yml."""
    spec = patterns.read_folder(PATTERNS)
    assert list(spec["categories"]) == ["suicide", "self_harm", "danger"]
    assert sorted(p.name for p in PATTERNS.glob("*.yml")) == [
        "danger.yml", "self_harm.yml", "shared.yml", "suicide.yml"
    ]  # fmt: skip
    shared = yaml_files.read_12(PATTERNS / "shared.yml")
    assert {"subjects", "negation", "context", "exceptions"} <= set(shared) and "categories" not in shared


@pytest.mark.parametrize("path", sorted(PATTERNS.glob("*.yml")), ids=lambda p: p.name)
def test_the_pattern_files_read_the_same_as_with_rasas_yaml_reader(path):
    """The patterns are read with libyaml under the YAML 1.2 core schema (haven/yaml_files.py), not
    Rasa's pure-Python YAML 1.2 reader: same words (`on` and `off` stay words), a tenth of the time."""
    assert yaml_files.read_12(path) == rasa.shared.utils.io.read_yaml_file(path)


def test_the_pattern_reader_keeps_yaml_1_1_booleans_as_words(tmp_path):
    words = "words: [on, off, yes, no, y, n]\nflags: [true, False]\nn: 0x1f\nv: ~\n"
    (tmp_path / "words.yml").write_text(words)
    assert yaml_files.read_12(tmp_path / "words.yml") == {
        "words": ["on", "off", "yes", "no", "y", "n"], "flags": [True, False], "n": 31, "v": None
    }  # fmt: skip
    (tmp_path / "words.yml").write_text("words: [on, off\n")
    with pytest.raises(ValueError, match="words.yml is not valid YAML"):
        patterns._read_file(tmp_path / "words.yml")


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


@pytest.mark.slow
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
              - name: nlu_components.crisis.CrisisDetector
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
def test_region_comes_from_the_widget_locale(us_detector, metadata, region) -> None:
    assert us_detector.region(metadata) == region


@pytest.fixture(scope="module")
def us_detector() -> CrisisDetector:
    """One detector for the region cases: compiling the patterns takes about a second."""
    return CrisisDetector({**CrisisDetector.get_default_config(), "default_region": "US"})


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


# --------------------------------------------------------------------------- round 3 phrasings
# Written for these tests (not taken from any evaluation set): the kinds of phrasing a blind set
# showed the detector missing, and ordinary messages the new patterns must leave alone.
ROUND3_CRISIS = [
    ("honestly I don't think I'll be around much longer", "suicide", "self"),
    ("i won't be around for much longer so it doesn't matter", "suicide", "self"),
    ("I'm not going to be around a lot longer", "suicide", "self"),
    ("after I'm gone he can have the house", "suicide", "self"),
    ("when i'm gone maybe he'll finally feel sorry", "suicide", "self"),
    ("once I'm gone nobody has to worry about me", "suicide", "self"),
    ("I won't be a burden to anyone for much longer", "suicide", "self"),
    ("i won't be a problem for anybody much longer", "suicide", "self"),
    ("soon I won't be anyone's problem", "suicide", "self"),
    ("it would be easier for everyone if i just disappeared for good", "suicide", "self"),
    ("things would be simpler for everybody if I vanished", "suicide", "self"),
    ("everyone would be better off if I wasn't in the picture", "suicide", "self"),
    ("I want it all to stop for good", "suicide", "self"),
    ("i want the pain to stop permanently", "suicide", "self"),
    ("I just want it to stop. forever.", "suicide", "self"),
    ("I'm done living", "suicide", "self"),
    ("i am so done with living", "suicide", "self"),
    ("I'm finished with life", "suicide", "self"),
    ("tonight's the night", "suicide", "self"),
    ("I think tonight is the night I do it", "suicide", "self"),
    ("I'm sorry to everyone. I love you all", "suicide", "self"),
    ("sorry to everyone I let down, this is goodbye", "suicide", "self"),
    ("i have a plan", "suicide", "self"),
    ("I've got a plan and I know when", "suicide", "self"),
    ("I've made my plan", "suicide", "self"),
    ("I've been writing letters for people to find", "suicide", "self"),
    ("wrote notes for my kids to read after", "suicide", "self"),
    ("I'm writing letters to everyone I love so they understand", "suicide", "self"),
    ("I asked my neighbour to look after my dog for a bit", "suicide", "self"),
    ("gave my cat to my sister for a while, she doesn't know why", "suicide", "self"),
    ("I've been giving my things away", "suicide", "self"),
    ("been sorting out my will and cancelling my subscriptions", "suicide", "self"),
    ("I'm tying up loose ends so nobody has to deal with it", "suicide", "self"),
    ("getting everything in order so no one has to sort it out after", "suicide", "self"),
    ("I keep hoping I'll crash the car on the way to work", "suicide", "self"),
    ("sometimes I hope I don't wake up", "suicide", "self"),
    ("i hope i just don't wake up tomorrow", "suicide", "self"),
    ("I stood at the edge of the platform and nearly did it", "suicide", "self"),
    ("I was standing on the platform edge waiting for the train to come", "suicide", "self"),
    ("I sat at the bridge for an hour last night", "suicide", "self"),
    ("I nearly went through with it yesterday", "suicide", "self"),
    ("I looked up how many pills it would take", "suicide", "self"),
    ("been googling how many paracetamol is too many", "suicide", "self"),
    ("looking up how much of my medication would be enough", "suicide", "self"),
    ("thinking about ctb", "suicide", "self"),
    ("i want to ctb", "suicide", "self"),
    ("gonna unalive tonight", "suicide", "self"),
    ("kms fr", "suicide", "self"),
    ("might just off myself", "suicide", "self"),
    ("I want to end it all", "suicide", "self"),
    ("thinking of ending it all tonight", "suicide", "self"),
    ("my friend says he wants to off himself", "suicide", "other"),
    ("my daughter told me she wishes she was dead", "suicide", "other"),
    ("my mate texted goodbye and now he won't answer his phone", "suicide", "other"),
    ("my sister sent a goodbye text and isn't picking up", "suicide", "other"),
    ("my friend keeps saying she wishes she wasn't alive", "suicide", "other"),
    ("do you ever want to kill yourself?", "suicide", "self"),
    ("what do I do when I want to kill myself", "suicide", "self"),
    ("I can't keep myself safe tonight", "suicide", "self"),
    ("i don't think i can keep myself safe", "suicide", "self"),
    ("I can't promise I'll stay safe tonight", "suicide", "self"),
    ("I punched the wall until my knuckles split", "self_harm", "self"),
    ("i keep punching walls until my hands bleed", "self_harm", "self"),
    ("I bang my head against the wall when it gets too much", "self_harm", "self"),
    ("I've been banging my head on the wall", "self_harm", "self"),
    ("I bit my arm till it bled", "self_harm", "self"),
    ("I slap myself when I mess up", "self_harm", "self"),
    ("i hit myself in the face over and over", "self_harm", "self"),
    ("I scratch myself until it bleeds", "self_harm", "self"),
    ("i burned my arm with the iron on purpose", "self_harm", "self"),
    ("I hold a lighter to my skin", "self_harm", "self"),
    ("i pull my hair out on purpose", "self_harm", "self"),
    ("I've been pulling my hair out in clumps", "self_harm", "self"),
    ("got the blade out again", "self_harm", "self"),
    ("I want to hurt myself", "self_harm", "self"),
    ("i wanna hurt myself so bad right now", "self_harm", "self"),
    ("I hurt myself on purpose last night", "self_harm", "self"),
    ("i've been doing it every night again, the cutting", "self_harm", "self"),
    ("I relapsed last night after two years clean", "self_harm", "self"),
    ("my son is hurting himself on purpose", "self_harm", "other"),
    ("he said he'll take the kids and I'll never see them again", "danger", "self"),
    ("he's threatening to take the children abroad", "danger", "self"),
    ("he says he'll take my kids out of the country", "danger", "self"),
    ("he told me if he can't have me no one can", "danger", "self"),
    ("if i can't have you nobody can, that's what he said", "danger", "self"),
    ("he tried to break the door down", "danger", "self"),
    ("he was kicking the door in last night", "danger", "self"),
    ("he put his hands round my neck", "danger", "self"),
    ("his hands were around my neck", "danger", "self"),
    ("he choked me until I passed out", "danger", "self"),
    ("he strangled me last week", "danger", "self"),
    ("he said next time he won't miss", "danger", "self"),
    ("he told me the next one is me", "danger", "self"),
    ("he said the next one is you", "danger", "self"),
    ("he threatened to burn the house down with me in it", "danger", "self"),
    ("he said he'd set the house on fire with us inside", "danger", "self"),
    ("he's been taking photos of my house at night", "danger", "self"),
    ("he has my location and he's coming over", "danger", "self"),
    ("he's on his way here and I'm scared", "danger", "self"),
    ("I think he put spyware on my phone", "danger", "self"),
    ("he rang me 80 times and says he's watching me", "danger", "self"),
    ("he says he's watching me", "danger", "self"),
    ("he's coming home drunk and last time I ended up in A&E", "danger", "self"),
    ("last time he was like this I ended up in the ER", "danger", "self"),
    ("he threw something at my head", "danger", "self"),
    ("he threw a glass at my head", "danger", "self"),
    ("years ago I self harmed and tonight I want to do it again", "self_harm", "self"),
    ("I used to feel suicidal as a teenager and it's back now, I want to die", "suicide", "self"),
    ("watched a film about suicide and now I keep thinking about doing it myself", "suicide", "self"),
    ("I used to cut myself", "self_harm", "self"),
    ("when I found out I wanted to die", "suicide", "self"),
]

ROUND3_CALM = [
    "my phone's about to die",
    "my phone is about to die, talk later",
    "my mum will murder me when she finds out",
    "my mom is going to kill me when she sees my grades",
    "he stabbed me in the back",
    "she really stabbed me in the back with that",
    "years ago I self harmed but I'm ok now",
    "I used to feel suicidal as a teenager, long ago",
    "when I was a teenager I went through a suicidal phase but that's long behind me",
    "I watched a film about suicide last night",
    "listening to a podcast on self harm awareness week",
    "there was a documentary about suicide on tv",
    "my friend attempted suicide years ago, it's part of why I'm so anxious",
    "my uncle took his own life when I was little",
    "my grandad killed himself before I was born",
    "I have a plan to leave him next month",
    "I have a plan for the weekend with my sister",
    "we have a plan for co-parenting now",
    "I need to make a plan for when he moves out",
    "today's the day I tell him I know about the affair",
    "tomorrow is the day of the custody hearing",
    "tonight's the night we finally talk about it",
    "when I'm gone for work trips he texts her",
    "after I've gone to bed he stays up messaging her",
    "he said goodbye and blocked me",
    "I said goodbye to him for the last time",
    "I wrote a goodbye letter to my ex like my therapist suggested",
    "I'm sorry for everything I said to him",
    "I feel like a burden to my friends always talking about him",
    "he's coming over tonight to pick up his things",
    "he's on his way to collect the kids",
    "he knows where I live, we were married for ten years",
    "he takes the kids every other weekend",
    "he wants to take the kids to his mum's for christmas",
    "he called me 3 times yesterday",
    "I called him 40 times the night I found out",
    "I keep checking his location on find my friends",
    "I left a note for him to find when he gets home",
    "I'm pulling my hair out over this",
    "it's like banging my head against a brick wall",
    "I could slap myself for believing him",
    "I bit my lip and said nothing",
    "I relapsed and texted him last night",
    "I broke no contact again, I relapsed",
    "I'm done with him",
    "I'm finished with this relationship",
    "I want it to end for good with him",
    "I want the fighting to stop",
    "I need to update my will now we're divorcing",
    "tying up loose ends at work before the holidays",
    "I'm getting everything in order for the divorce",
    "my dog is staying with my mum for a bit while I move",
    "my phone is dying, talk later",
    "my laptop's about to die",
    "my dad will kill me when he finds out I'm divorcing",
    "my boss is going to kill me if I'm late again",
    "she stabbed me in the back",
    "he's watching TV while I cry",
    "he keeps watching the kids' football",
    "I watched a documentary about narcissists",
    "we did a training on suicide prevention at work",
    "there was a podcast about self-harm awareness",
    "my grandmother took her own life long before I was born",
    "I used to have dark thoughts years ago but I'm in a good place now",
    "years ago I went through a really bad patch, self harmed, but I'm fine now",
    "next time he lies I'm leaving",
    "you're next in line for the consultation?",
    "the next one is the hardest step",
    "I ended up in A&E with a panic attack",
    "I ended up in hospital after I found out, with chest pains",
    "I threw his stuff out the window",
    "he threw my clothes on the lawn",
    "I burned his letters",
    "he burned the dinner again",
    "my friend's husband has my address for the party invite",
    "can I stay safe while meeting him to sign papers?",
    "I don't trust myself around him",
    "I don't trust myself not to text him",
    "how many sessions would it take to feel better",
    "I wish he would just vanish for good",
    "I hope he crashes his car",
    "he disappeared for good after the affair",
    "I can't have him back, no one can make me",
    "do it every night? no, only sometimes do I cry",
]


@pytest.mark.parametrize(
    "text",
    [
        "I watched a film about suicide",  # media topic
        "years ago I self harmed but I'm ok now",  # past and resolved
        "my cousin took his own life when I was little",  # someone else's past, as background
    ],
)
def test_past_and_media_context_also_silences_the_classifier(detector, text):
    ranking = [{"name": "crisis", "confidence": 0.95}, {"name": "why_still_attached", "confidence": 0.05}]
    msg = detector.process([message(text, "crisis", 0.95, ranking)])[0]
    assert msg.get("crisis") is None
    assert msg.get("intent")["name"] == "why_still_attached"


@pytest.mark.parametrize(
    "text, category",
    [
        ("I watched a film about suicide and now I keep thinking about doing it", "suicide"),
        ("years ago I self harmed and the urges are back tonight", "self_harm"),
        (
            "a podcast on self harm made me realise I want to kill myself",
            "suicide",
        ),  # first-person, not a topic
        ("I read an article about how to kill myself", "suicide"),
        ("I used to cut myself", "self_harm"),  # history without resolution: a gentle check-in
        ("when I was a teenager I cut myself", "self_harm"),
    ],
)
def test_present_risk_beside_past_or_media_still_triggers(detector, text, category):
    found = verdict(detector.process([message(text)])[0])
    assert found is not None and found["category"] == category


def test_with_any_and_unless_any(detector):
    # a rule with `with_any` needs one of its phrases in the message
    assert verdict(detector.process([message("I relapsed and texted him")])[0]) is None
    assert verdict(detector.process([message("I relapsed and cut last night")])[0])["category"] == "self_harm"
    # an exception with `unless_any` stops applying when one of its phrases is present
    assert verdict(detector.process([message("he stabbed me in the back")])[0]) is None
    found = verdict(detector.process([message("he stabbed me in the back with a knife")])[0])
    assert found["category"] == "danger"


def test_needs_self(detector):
    assert (
        verdict(detector.process([message("he has a plan to hurt himself")])[0])["rule"]
        != "suicide.have_plan"
    )
    assert (
        verdict(detector.process([message("I've got a plan and the pills")])[0])["rule"]
        == "suicide.have_plan"
    )


# --------------------------------------------------------------------------- round 4 phrasings
# Written for these tests (not taken from any evaluation set): kinds of phrasing a second blind set
# showed the detector missing after round 3, and calm messages the new patterns must leave alone.
ROUND4_CRISIS = [
    ("there's a rope in the garage and I keep thinking about it", "suicide", "self"),
    ("the gun is in the safe upstairs and i can't stop thinking about it", "suicide", "self"),
    ("i keep thinking about taking myself out", "suicide", "self"),
    ("maybe I should take myself out of the picture", "suicide", "self"),
    ("reckon I'm done, can't keep going", "suicide", "self"),
    ("i'm done. i can't go on", "suicide", "self"),
    ("this is goodbye. it doesn't matter now anyway", "suicide", "self"),
    ("so this is goodbye, none of it matters now", "suicide", "self"),
    ("stopped on the bridge on the way home, thought how easy it would be to go over", "suicide", "self"),
    ("my life insurance is worth more to the kids than I am alive", "suicide", "self"),
    ("the kids would get more from my life insurance than from me being alive", "suicide", "self"),
    ("i dont think ill make it to my birthday honestly", "suicide", "self"),
    ("when I cut it's the only time I feel anything", "self_harm", "self"),
    ("I cut again last night", "self_harm", "self"),
    ("my thighs are covered in cuts nobody knows about", "self_harm", "self"),
    ("I deserve to bleed for being so stupid", "self_harm", "self"),
    ("i deserve to hurt after what i did", "self_harm", "self"),
    ("I deserve to be punished", "self_harm", "self"),
    ("I sh'd again last night", "self_harm", "self"),
    ("i sh'ed after he left", "self_harm", "self"),
    ("did sh again tonight", "self_harm", "self"),
    ("locked in the bathroom hurting myself again", "self_harm", "self"),
    ("there's a gun in the house and he said I'd regret it if I left", "danger", "self"),
    ("he keeps a knife in the drawer and told me it's for me", "danger", "self"),
    ("he chocked me last night", "danger", "self"),
    ("he choaked me until I nearly passed out", "danger", "self"),
    ("he's been bashing me for months", "danger", "self"),
    ("he has been hitting me for years", "danger", "self"),
    ("i have bruises on my arms from where he grabbed me", "danger", "self"),
    ("he knows which school the kids go to and he's going to take them", "danger", "self"),
    ("i'm hiding at a friend's place", "danger", "self"),
    ("terrified he'll find out where i am", "danger", "self"),
    ("he said he'll take me down with him", "danger", "self"),
    ("he said he'll send my pictures to everyone and then he'll come for me", "danger", "self"),
    ("if I leave he'll kill me", "danger", "self"),
    # 2026-12-07: the visitor's own passive ideation, with the question that outweighed it for the models
    (
        "some days i think about not being here anymore. why do i still feel attached to him?",
        "suicide",
        "self",
    ),
    ("i keep thinking about just not being here", "suicide", "self"),
    ("ive been thinking about no longer being alive", "suicide", "self"),
]

ROUND4_CALM = [
    "years ago in my twenties I was suicidal, but I've been well for a long time now",
    "I thought about ending things back in my first marriage but that was a decade ago, "
    "I'm in a good place now, asking for a friend",
    "i overdosed on chocolate and netflix last night haha",
    "I cut him off last week",
    "I cut my hair short after the breakup",
    "we cut the cake at the party",
    "I cut ties with his family",
    "I cut the wrapping paper and wrapped his present",
    "I deserve to be happy",
    "I deserve to hurt him back",
    "i'm taking myself out for dinner tonight as a treat",
    "I'm done. I can't keep going back to him",
    "how easy it would be to go back to him",
    "this is goodbye to my old life, and i'm excited",
    "he bashed me on facebook to all his mates",
    "my mum came for me at the station",
    "i regret it, I shouldn't have texted him",
    "I grabbed my keys and left",
    "i'm not thinking about not being here, i'm just worn out",
    "i keep thinking about not being around him anymore",
    "i keep thinking about not being here for christmas with his family",
]

_AFFAIR_STORY = (
    "We got married eleven years ago and in March I found out he had been seeing someone from his work. "
    "I read the messages on his laptop, the hotel bookings, the gifts. When I confronted him he said it was "
    "my fault. His mother said I should forgive him for the kids. "
    "I moved into the spare room and barely sleep. "
) * 4


@pytest.mark.parametrize(
    "ending",
    [
        "Honestly I just want to not be here anymore.",
        "I keep thinking about taking myself out.",
        "There are pills in the cabinet and I keep thinking about them.",
    ],
)
def test_crisis_far_into_a_long_message_is_caught(detector, run_pipeline, ending):
    text = _AFFAIR_STORY + ending
    assert len(text) > 1000
    assert verdict(detector.process([message(text)])[0])["category"] == "suicide"
    assert verdict(run_pipeline([message(text)])[0])["category"] == "suicide"  # SpacyNLP's doc too


def test_yields_to(detector):
    # trapped alone is danger; trapped while hurting oneself is reported as self-harm
    assert verdict(detector.process([message("I'm locked in the bathroom")])[0])["category"] == "danger"
    found = verdict(detector.process([message("locked in the bathroom cutting myself")])[0])
    assert found["category"] == "self_harm"


# Round 5 (2026-12-07): textbook phrasings the cross-validation missed on the training writers' data,
# in the tests' own wording (docs/crisis-detection.md, "tenth session").
ROUND5_CRISIS = [
    ("its too late now, ive already taken them all", "suicide", "self"),
    ("i already swallowed the whole bottle", "suicide", "self"),
    ("woke up in a&e. i should have taken more.", "suicide", "self"),
    ("checking out tonight. thanks for everything", "suicide", "self"),
    ("i think i'm ready to check out. sorry", "suicide", "self"),
    ("every night i pray god takes me in my sleep", "suicide", "self"),
    ("i just want to fall asleep and never come back", "suicide", "self"),
    ("goodbye cruel world", "suicide", "self"),
    ("i don't feel safe with myself tonight", "suicide", "self"),
    ("honestly i'd be better off six feet under", "suicide", "self"),
    ("if he leaves i'll walk into traffic", "suicide", "self"),
    ("tonight i'm going to jump off the bridge by my flat", "suicide", "self"),
    ("tried twice this year and i'm still here", "suicide", "self"),
    ("my arm is bleeding through the bandage again", "self_harm", "self"),
    ("i stub cigarettes out on my arm when he ignores me", "self_harm", "self"),
    ("he told me the next one won't miss", "danger", "self"),
    ("he said i wouldn't live long enough to see the divorce", "danger", "self"),
    ("my husband broke in while the kids were asleep", "danger", "self"),
    ("he broke my wrist last week and i still went back", "danger", "self"),
    ("my boyfriend pressured me into having sex when i was crying", "danger", "self"),
    ("he has started threatening my daughter too", "danger", "self"),
    # other languages: the commonest first-person forms
    ("tengo ganas de quitarme la vida", "suicide", "self"),
    ("j'ai envie d'en finir ce soir", "suicide", "self"),
    ("ich will nicht mehr leben, seit er weg ist", "suicide", "self"),
    ("mi marido me golpea cuando bebe", "danger", "self"),
    ("il m'a frappée hier soir", "danger", "self"),
    ("je me scarifie depuis qu'il est parti", "self_harm", "self"),
]

ROUND5_CALM = [
    "I should have taken more photos on that trip",
    "I already took the kids to school, then cried in the car",
    "he tried to get in touch with me again through my sister",
    "my first attempt at writing him a letter was a mess",
    "we walked into the sea holding hands on our honeymoon",
    "he jumped from the top board at the pool to impress her",
    "i pray god takes care of my kids through all of this",
    "i went to sleep and didn't come back to the group chat for days",
    "he broke my heart and my trust",
    "the dentist cracked my tooth and i cried, everything makes me cry lately",
    "i feel safe with myself again after a lot of therapy",
    "me corto el pelo mañana, necesito un cambio",
    "se me pega todo lo que él dice",
    "he made me have a cup of tea and sit down before he told me",
    "she threatened the kids with no screen time for a week",
]


# The pattern rounds' phrasings, each round's list kept where it was written, checked by one pair of tests.
ROUNDS_CRISIS = [(f"r{n}", *item) for n, items in ((3, ROUND3_CRISIS), (4, ROUND4_CRISIS), (5, ROUND5_CRISIS))
                 for item in items]  # fmt: skip
ROUNDS_CALM = [(f"r{n}", text) for n, items in ((3, ROUND3_CALM), (4, ROUND4_CALM), (5, ROUND5_CALM))
               for text in items]  # fmt: skip


@pytest.mark.parametrize(
    "text, category, subject",
    [item[1:] for item in ROUNDS_CRISIS],
    ids=[f"{r}-{short(t)}" for r, t, _, _ in ROUNDS_CRISIS],
)
def test_round_crisis_phrasings(detector, text, category, subject):
    found = verdict(detector.process([message(text)])[0])
    assert found is not None, text
    assert (found["category"], found["subject"]) == (category, subject)


@pytest.mark.parametrize("text", [t for _, t in ROUNDS_CALM], ids=[f"{r}-{short(t)}" for r, t in ROUNDS_CALM])
def test_round_calm_messages_do_not_trigger(detector, text):
    assert verdict(detector.process([message(text)])[0]) is None
