"""The risk model's training data: `data/crisis/*.yml`, written by hand in the way people write.

Each file is one writer's work (provenance: data/crisis/README.md):

    writer: T1
    crisis:
      - {text: "...", category: suicide | self_harm | danger, subject: self | other}
    calm:
      - {text: "...", kind: relationship_pain | grief_other | idiom | ...}

Why a format of its own and not Rasa NLU examples: these messages train the crisis risk model only.
As NLU examples of an intent they would also train the topic classifier, which must not learn that
"he put me in hospital" is an intent to answer with an article, and the calm ones have no intent.
Rasa's data importer reads only files with an `nlu:`, `stories:` or `rules:` key, so it skips these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List

import yaml

from haven import yaml_files

CALM = "calm"
CATEGORIES = ("suicide", "self_harm", "danger")
LABELS = (CALM, *CATEGORIES)
SUBJECTS = ("self", "other")


class RiskDataError(ValueError):
    """A malformed training file: training stops with the file and the entry named."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # calm | suicide | self_harm | danger
    subject: str = "self"
    source: str = ""


def key(text: str) -> str:
    """Case and spacing ignored: two texts that differ only there are the same example."""
    return " ".join(text.lower().split())


def read_file(path: Path) -> List[Example]:
    try:
        data = yaml_files.read(path)
    except (OSError, yaml.YAMLError) as error:
        raise RiskDataError(f"{path}: cannot be read: {error}") from error
    if not isinstance(data, dict) or not ({"crisis", "calm"} & set(data)):
        raise RiskDataError(f"{path}: expected the keys 'crisis' and/or 'calm'")
    unknown = set(data) - {"writer", "crisis", "calm", "version"}
    if unknown:
        raise RiskDataError(f"{path}: unknown keys {sorted(unknown)}")
    examples: List[Example] = []
    for number, item in enumerate(data.get("crisis") or [], 1):
        if not (isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip()):
            raise RiskDataError(f"{path}: crisis entry {number} has no text")
        if item.get("category") not in CATEGORIES:
            raise RiskDataError(f"{path}: crisis entry {number}: category must be one of {CATEGORIES}")
        subject = item.get("subject", "self")
        if subject not in SUBJECTS:
            raise RiskDataError(f"{path}: crisis entry {number}: subject must be self or other")
        examples.append(Example(item["text"].strip(), item["category"], subject, path.name))
    for number, item in enumerate(data.get("calm") or [], 1):
        text = item.get("text") if isinstance(item, dict) else item
        if not (isinstance(text, str) and text.strip()):
            raise RiskDataError(f"{path}: calm entry {number} has no text")
        examples.append(Example(text.strip(), CALM, "self", path.name))
    return examples


def files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.glob("*.yml") if p.is_file())


def load(folder: Path) -> List[Example]:
    """Every example of every file, the first of any duplicate kept (case and spacing ignored).

    The same text with two different labels is an error: one of the two writers' readings must be
    settled by a person, not by the order of the files."""
    if not folder.is_dir():
        raise RiskDataError(f"{folder}: no such folder of crisis training data")
    seen: dict = {}
    kept: List[Example] = []
    for path in files(folder):
        for example in read_file(path):
            text_key = key(example.text)
            if text_key in seen:
                first = seen[text_key]
                if first.label != example.label:
                    raise RiskDataError(
                        f"{path}: {example.text[:60]!r} is {example.label} here and {first.label} in "
                        f"{first.source}"
                    )
                continue
            seen[text_key] = example
            kept.append(example)
    if not any(e.label != CALM for e in kept) or not any(e.label == CALM for e in kept):
        raise RiskDataError(f"{folder}: needs both crisis and calm examples")
    return kept


def texts(examples: Iterable[Example]) -> List[str]:
    return [e.text for e in examples]
