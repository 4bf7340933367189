"""The FAQ's blind held-out set (tests/nlu/faq_blind.yml): written by a helper who saw only the list of
entry ids and what each answers — never content/faq.yml, the NLU data or the dev set.

Numbers only: the questions stay unread so the set stays useful. The floors are the measured values less
a little, so a change that makes the FAQ worse fails here; the issue's targets (0.95) are printed by
`make eval` and are not met yet (docs/faq.md).
"""

from __future__ import annotations

import re

import pytest
import yaml

from haven.services import faq
from haven.settings import ROOT
from haven_devtools import faq_evaluation

BLIND = ROOT / "tests" / "nlu" / "faq_blind.yml"

# measured 2026-12-05: right entry 116/154 = 0.753, off-topic refused 107/119 = 0.899, article kept 59/59
# (16 questions the writer happened to phrase exactly like an FAQ example or an NLU training line were
# taken out: they measured recall of the training data, not understanding)
FLOORS = {"right": 0.73, "refused": 0.87, "articles_kept": 0.97}


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_no_blind_question_is_an_example_or_training_data() -> None:
    data = yaml.safe_load(BLIND.read_text(encoding="utf-8"))
    blind = [q for qs in data["faq"].values() for q in qs] + data["off_topic"] + data["article_topic"]
    examples = {_norm(q) for e in faq.load().entries for q in e.questions}
    training = {
        _norm(line.strip()[2:])
        for path in (ROOT / "data" / "nlu").glob("*.yml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- ")
    }
    leaked = [q for q in blind if _norm(q) in examples or _norm(q) in training]
    assert not leaked, f"{len(leaked)} blind FAQ questions are in content/faq.yml or data/nlu"


@pytest.fixture(scope="module")
def blind_result():
    results = dict((r.name.split(" ")[0], r) for r, _ in faq_evaluation.evaluate_faq())
    return results[BLIND.name]


@pytest.mark.model
def test_the_blind_set_keeps_its_accuracy_and_refusal(blind_result) -> None:
    # Plain numbers only, so a failure's message shows no blind question (pytest prints the operands).
    r = blind_result
    counts = (r.questions, r.negatives, r.articles)
    right, refused, kept = r.right / r.questions, r.refused / r.negatives, r.articles_kept / r.articles
    summary = (
        f"right {r.right}/{r.questions}, refused {r.refused}/{r.negatives}, "
        f"kept {r.articles_kept}/{r.articles}"
    )
    assert counts == (154, 119, 59), summary
    assert right >= FLOORS["right"], summary
    assert refused >= FLOORS["refused"], summary
    assert kept >= FLOORS["articles_kept"], summary
