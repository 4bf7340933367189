"""Every evaluation set is made of messages the model never trained on (compared case- and
punctuation-insensitively), or its numbers would mean nothing."""

from __future__ import annotations

import pytest

from haven import yaml_files
from haven.settings import ROOT
from haven_devtools import evaluation
from nlu_components.crisis import risk_data

_norm = evaluation.normalised


def _training() -> set:
    seen = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml_files.read(path)["nlu"]:
            seen.update(_norm(e) for e in evaluation.examples(block.get("examples", "")))
    # the crisis risk model's own training data (nlu_components/crisis/risk_data.py)
    seen.update(_norm(e.text) for e in risk_data.load(ROOT / "data" / "crisis"))
    return seen


TRAINING = _training()
CRISIS, CALM = evaluation.crisis_set()


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("held-out topics", [t for t, _ in evaluation.heldout()]),
        ("off-topic", evaluation.off_topic()),
        ("crisis", [c["text"] for c in CRISIS]),
        ("not crisis", CALM),
        *[
            (f"blind {path.name}", [c["text"] for c in crisis] + calm)
            for path in evaluation.blind_crisis_files()
            for crisis, calm in [evaluation.crisis_set(path)]
        ],
    ],
)
def test_no_evaluation_message_is_in_the_training_data(name: str, messages: list) -> None:
    leaked = [m for m in messages if _norm(m) and _norm(m) in TRAINING]
    assert leaked == [], f"{name}: {leaked}"
