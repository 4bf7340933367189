"""Checks over Haven's NLU training data (data/nlu/*.yml) and its held-out test sets.

- every topic intent of shared/CONTRACT.md has enough training examples;
- the conversation intents have enough training examples;
- the held-out set (tests/nlu/heldout.yml) has enough messages per intent and covers every topic;
- the off-topic set (tests/nlu/off_topic.yml) is big enough;
- no training example appears twice, and none is shared by two intents;
- no held-out or off-topic message appears in the training data.

Examples are compared normalised: Unicode NFKC, lowercase, punctuation removed (Unicode category
P*, so "can't" == "cant" and "hello?" == "hello"; emoji and symbols are kept), whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from haven import yaml_files

ROOT = Path(__file__).resolve().parents[1]
TRAINING_DIR = ROOT / "data" / "nlu"
HELDOUT_FILE = ROOT / "tests" / "nlu" / "heldout.yml"
OFF_TOPIC_FILE = ROOT / "tests" / "nlu" / "off_topic.yml"

# The topic ids of shared/CONTRACT.md (intent names = topic ids).
TOPIC_INTENTS = [
    "why_still_attached",
    "what_is_betrayal_trauma",
    "what_is_trauma_bond",
    "how_betrayal_fuels_bond",
    "survival_mode",
    "is_it_weakness",
    "why_logic_fails",
    "how_to_heal",
    "consultation_info",
    "book_consultation",
    "talk_to_human",
]
CONVERSATION_INTENTS = [
    "thanks",
    "affirm",
    "deny",
    "out_of_scope",
    "tell_me_more",
    "something_else",
]

MIN_TOPIC_TRAINING = 30
MIN_CONVERSATION_TRAINING = 25
MIN_HELDOUT = 12
MIN_OFF_TOPIC = 40


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return re.sub(r"\s+", " ", text).strip()


def examples_of(block: str) -> List[str]:
    """The examples of one `examples: |` block: each non-empty line with its leading "- " removed."""
    out = []
    for line in block.splitlines():
        line = line.strip()
        if not line:
            continue
        assert line.startswith("- "), f"example line does not start with '- ': {line!r}"
        out.append(line[2:].strip())
    return out


def load_nlu_file(path: Path) -> List[Tuple[str, str]]:
    """(intent, example) pairs of one Rasa NLU YAML file, in file order."""
    data = yaml_files.read(path) or {}
    pairs = []
    for item in data.get("nlu") or []:
        if "intent" not in item:
            continue  # synonyms, regexes, lookups
        for example in examples_of(item.get("examples") or ""):
            pairs.append((item["intent"], example))
    return pairs


def training_files() -> List[Path]:
    return sorted(TRAINING_DIR.glob("*.yml"))


def training_pairs() -> List[Tuple[str, str, str]]:
    """(file name, intent, example) over all training files."""
    return [(p.name, intent, ex) for p in training_files() for intent, ex in load_nlu_file(p)]


def count_by_intent(pairs) -> Dict[str, int]:
    counts: Dict[str, int] = defaultdict(int)
    for pair in pairs:
        counts[pair[-2]] += 1
    return counts


HELDOUT_FILES = sorted(HELDOUT_FILE.parent.glob("heldout*.yml"))
OFF_TOPIC_FILES = sorted(OFF_TOPIC_FILE.parent.glob("off_topic*.yml"))


def heldout_pairs(path: Path = HELDOUT_FILE) -> List[Tuple[str, str]]:
    return load_nlu_file(path) if path.exists() else []


def all_heldout_pairs() -> List[Tuple[str, str]]:
    return [pair for path in HELDOUT_FILES for pair in heldout_pairs(path)]


def off_topic_messages(path: Path = OFF_TOPIC_FILE) -> List[str]:
    data = yaml_files.read(path) or {}
    messages = data.get("messages")
    assert isinstance(messages, list), f"{path} must hold a list under 'messages:'"
    for message in messages:
        assert isinstance(message, str), f"off-topic entry is not a string: {message!r}"
    return messages


def _heldout_intents() -> List[str]:
    return sorted({intent for intent, _ in all_heldout_pairs()}) or ["<no held-out file>"]


# ---- sizes -----------------------------------------------------------------------------------


def test_training_files_parse():
    assert training_files(), f"no training files in {TRAINING_DIR}"
    for path in training_files():
        data = yaml_files.read(path)
        assert isinstance(data, dict) and isinstance(data.get("nlu"), list), f"{path.name}: no 'nlu:' list"
        assert str(data.get("version")) == "3.1", f'{path.name}: version must be "3.1"'


@pytest.mark.parametrize("intent", TOPIC_INTENTS)
def test_topic_intent_has_enough_training_examples(intent):
    count = count_by_intent(training_pairs()).get(intent, 0)
    assert count >= MIN_TOPIC_TRAINING, (
        f"topic intent {intent!r} has {count} training examples, needs >= {MIN_TOPIC_TRAINING}"
    )


@pytest.mark.parametrize("intent", CONVERSATION_INTENTS)
def test_conversation_intent_has_enough_training_examples(intent):
    count = count_by_intent(training_pairs()).get(intent, 0)
    assert count >= MIN_CONVERSATION_TRAINING, (
        f"intent {intent!r} has {count} training examples, needs >= {MIN_CONVERSATION_TRAINING}"
    )


@pytest.mark.parametrize("path", HELDOUT_FILES, ids=lambda p: p.name)
def test_heldout_covers_every_topic(path):
    present = {intent for intent, _ in heldout_pairs(path)}
    missing = [t for t in TOPIC_INTENTS if t not in present]
    assert not missing, f"{path.name} has no messages for topic intents: {missing}"


def test_heldout_intents_are_trained():
    trained = set(count_by_intent(training_pairs()))
    unknown = sorted({intent for intent, _ in all_heldout_pairs()} - trained)
    assert not unknown, f"held-out intents with no training data: {unknown}"


@pytest.mark.parametrize("intent", _heldout_intents())
def test_heldout_intent_has_enough_messages(intent):
    count = count_by_intent(all_heldout_pairs()).get(intent, 0)
    assert count >= MIN_HELDOUT, f"held-out intent {intent!r} has {count} messages, needs >= {MIN_HELDOUT}"


def all_off_topic_messages() -> List[str]:
    return [m for path in OFF_TOPIC_FILES for m in off_topic_messages(path)]


def test_off_topic_sets_are_big_enough():
    messages = all_off_topic_messages()
    assert len(messages) >= MIN_OFF_TOPIC, (
        f"the off-topic sets hold {len(messages)} messages, need >= {MIN_OFF_TOPIC}"
    )


# ---- overlaps --------------------------------------------------------------------------------


def test_no_empty_examples():
    empty = [f"{f}: {intent}: {ex!r}" for f, intent, ex in training_pairs() if not normalise(ex)]
    empty += [f"heldout: {intent}: {ex!r}" for intent, ex in all_heldout_pairs() if not normalise(ex)]
    assert not empty, "examples that are empty once normalised:\n" + "\n".join(empty)


def test_no_training_example_appears_twice():
    seen: Dict[str, List[str]] = defaultdict(list)
    for file_name, intent, example in training_pairs():
        seen[normalise(example)].append(f"{file_name}:{intent}:{example!r}")
    dupes = [" / ".join(where) for where in seen.values() if len(where) > 1]
    assert not dupes, "training examples that appear more than once:\n" + "\n".join(dupes)


def test_no_training_example_shared_by_two_intents():
    intents: Dict[str, set] = defaultdict(set)
    originals: Dict[str, str] = {}
    for _, intent, example in training_pairs():
        key = normalise(example)
        intents[key].add(intent)
        originals.setdefault(key, example)
    shared = [f"{originals[k]!r} in {sorted(v)}" for k, v in intents.items() if len(v) > 1]
    assert not shared, "training examples labelled with two intents:\n" + "\n".join(shared)


def test_no_heldout_message_appears_twice():
    seen: Dict[str, List[str]] = defaultdict(list)
    for intent, example in all_heldout_pairs():
        seen[normalise(example)].append(f"{intent}:{example!r}")
    dupes = [" / ".join(where) for where in seen.values() if len(where) > 1]
    assert not dupes, "held-out messages that appear more than once:\n" + "\n".join(dupes)


def test_no_heldout_message_is_in_training_data():
    training = {normalise(ex): f"{f}:{intent}" for f, intent, ex in training_pairs()}
    leaked = [
        f"{example!r} (held-out {intent}) is in {training[normalise(example)]}"
        for intent, example in all_heldout_pairs()
        if normalise(example) in training
    ]
    assert not leaked, "held-out messages found in the training data:\n" + "\n".join(leaked)


def test_no_off_topic_message_is_in_training_data():
    training = {normalise(ex): f"{f}:{intent}" for f, intent, ex in training_pairs()}
    leaked = [
        f"{message!r} is in {training[normalise(message)]}"
        for message in all_off_topic_messages()
        if normalise(message) in training
    ]
    assert not leaked, "off-topic messages found in the training data:\n" + "\n".join(leaked)


def test_no_off_topic_message_appears_twice():
    seen: Dict[str, int] = defaultdict(int)
    for message in all_off_topic_messages():
        seen[normalise(message)] += 1
    dupes = [m for m in all_off_topic_messages() if seen[normalise(m)] > 1]
    assert not dupes, "off-topic messages that appear more than once:\n" + "\n".join(map(repr, dupes))


# ---- the checks can fail ---------------------------------------------------------------------


def test_normalise_folds_case_punctuation_and_spaces():
    assert normalise("  Can't   LET go?! ") == normalise("cant let go")
    assert normalise("I’m still attached…") == normalise("im still attached")
    assert normalise("🙃🙃") != normalise("🌮🌮🌮")
    assert normalise("why do I still love him") != normalise("why do I still love her")
