"""The risk model's nearest-neighbour margin (risk_model.Neighbours) and the check-in it may add
(CrisisDetector, `neighbour_check_in_margin`).

The banks and margins are set by hand here, so these tests pin the arithmetic and the decision; what the
margin does on the writers' messages is cross-validated by `make crisis-cv` (docs/crisis-detection.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from rasa.shared.nlu.training_data.message import Message

from actions.safety import fired
from nlu_components.crisis import CrisisDetector
from nlu_components.crisis.risk_model import RISK_KEY, Neighbours
from tests.test_crisis_tiers import make_detector as tiers_detector

MARGIN = 0.08


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def banks() -> Neighbours:
    crisis = np.stack([unit(1, 0, 0), unit(1, 0.1, 0), unit(1, 0, 0.1)])
    calm = np.stack([unit(0, 1, 0), unit(0, 1, 0.1), unit(0, 0.1, 1), unit(0.1, 0, 1)])
    return Neighbours(crisis, calm, k=2)


def test_a_vector_among_the_crisis_examples_has_a_positive_margin(banks) -> None:
    [near_crisis, near_calm] = banks.margins(np.stack([unit(1, 0.05, 0.05), unit(0.05, 1, 0.05)]))
    assert near_crisis > 0.5
    assert near_calm < -0.5


def test_the_margin_is_the_mean_of_the_k_nearest_of_each_bank(banks) -> None:
    v = unit(1, 1, 0)
    crisis = np.sort(banks.crisis @ v)[::-1][:2].mean()
    calm = np.sort(banks.calm @ v)[::-1][:2].mean()
    assert banks.margins(v[None, :])[0] == pytest.approx(crisis - calm, abs=1e-6)
    # k larger than a bank is that whole bank
    assert banks.margins(v[None, :], k=10)[0] == pytest.approx(
        (banks.crisis @ v).mean() - (banks.calm @ v).mean(), abs=1e-6
    )


def test_a_message_counts_its_riskiest_chunk(banks) -> None:
    chunks = np.stack([unit(0, 1, 0), unit(1, 0, 0.05), unit(0, 0, 1)])
    assert banks.margin(chunks) == pytest.approx(float(banks.margins(chunks).max()))
    assert banks.margin(np.zeros((0, 3), dtype=np.float32)) == 0.0


def test_the_banks_survive_storage_within_a_thousandth(banks) -> None:
    stored = banks.arrays()
    assert stored["crisis"].dtype == np.float16
    again = Neighbours.from_arrays(stored)
    probe = np.stack([unit(1, 0.3, 0.2), unit(0.2, 0.5, 1)])
    assert again.k == banks.k
    assert np.allclose(again.margins(probe), banks.margins(probe), atol=1e-3)


class _Encoder:
    """Stands in for the sentence encoder: each text's vector is looked up, a chunk is the whole text."""

    def __init__(self, vectors: dict) -> None:
        self.vectors = vectors

    def encode(self, texts):
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 3), np.float32)

    def chunks(self, text):
        return [text]


def _examples(labelled: dict) -> list:
    from nlu_components.crisis import risk_data

    return [risk_data.Example(text, label, "self", "test") for text, label in labelled.items()]


def test_projected_banks_keep_the_margin_within_what_the_dropped_dimensions_hold() -> None:
    """With `dims`, the banks are projected on their own top singular vectors and so is the message:
    the margin is the full one where the banks span the dropped direction barely, and exactly the
    full one where they do not span it at all."""
    rng = np.random.default_rng(0)
    # every bank vector lies in the first 6 of 8 dimensions
    bank = rng.normal(size=(40, 8)).astype(np.float32)
    bank[:, 6:] = 0
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    texts = {f"t{i}": v for i, v in enumerate(bank)}
    labelled = {f"t{i}": ("suicide" if i < 15 else "calm") for i in range(40)}
    encoder = _Encoder(texts)
    full = Neighbours.from_examples(encoder, _examples(labelled), [], k=3)
    projected = Neighbours.from_examples(encoder, _examples(labelled), [], k=3, dims=6)
    assert full.basis is None and projected.basis.shape == (8, 6)
    assert projected.crisis.shape == (15, 6) and projected.calm.shape == (25, 6)
    probe = rng.normal(size=(5, 8)).astype(np.float32)
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    assert np.allclose(projected.margins(probe), full.margins(probe), atol=1e-5)
    # fewer dimensions than the banks span: an approximation, not the same numbers
    assert not np.allclose(
        Neighbours.from_examples(encoder, _examples(labelled), [], k=3, dims=2).margins(probe),
        full.margins(probe),
        atol=1e-3,
    )


def test_projected_banks_survive_storage() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = {f"t{i}": v for i, v in enumerate(vectors)}
    labelled = {f"t{i}": ("danger" if i < 8 else "calm") for i in range(20)}
    projected = Neighbours.from_examples(_Encoder(texts), _examples(labelled), [], k=2, dims=4)
    stored = projected.arrays()
    assert stored["basis"].dtype == np.float32 and stored["crisis"].shape == (8, 4)
    again = Neighbours.from_arrays(stored)
    probe = vectors[:3] + 0.1
    assert np.allclose(again.margins(probe), projected.margins(probe), atol=1e-3)


@pytest.mark.parametrize("score, has_margin", [(0.0005, False), (0.001, True), (0.4, True)])
def test_the_margin_is_computed_only_from_the_floor_score(banks, score, has_margin) -> None:
    from nlu_components.crisis.risk_model import score_text

    class Scorer:
        def judge(self, pieces, vectors):
            return {"score": score, "category": "suicide", "chunks": len(pieces)}

    encoder = _Encoder({"a message": unit(1, 0.2, 0)})
    found = score_text(Scorer(), encoder, "a message", banks, neighbours_min_score=0.001)
    assert ("neighbour_margin" in found) is has_margin
    if has_margin:
        assert found["neighbour_margin"] == pytest.approx(banks.margin(unit(1, 0.2, 0)[None, :]), abs=1e-4)
    # no floor: always computed, as before
    assert "neighbour_margin" in score_text(Scorer(), encoder, "a message", banks)


def make_detector(tmp_path_factory, **config: Any) -> CrisisDetector:
    """The tiers' test detector (model tier at 0.9 / 0.5) with the margin's check-in on at MARGIN."""
    return tiers_detector(tmp_path_factory, **{"neighbour_check_in_margin": MARGIN, **config})


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> CrisisDetector:
    return make_detector(tmp_path_factory)


def decide(detector: CrisisDetector, text: str, score: float, margin: Any, category: str = "suicide"):
    msg = Message(data={"text": text})
    risk = {"score": score, "category": category, "chunks": 1, "neighbour_margin": margin}
    msg.set(RISK_KEY, risk, add_to_output=True)
    [msg] = detector.process([msg])
    return (msg.get("intent") or {}).get("name"), msg.get("crisis") or {}


QUIET = "sorted the paperwork for my sister so she has everything she needs after this week"


@pytest.mark.parametrize(
    ("margin", "intent"),
    [(0.3, "crisis_check_in"), (MARGIN, "crisis_check_in"), (0.079, None), (-0.2, None), (None, None)],
)
def test_a_message_nothing_else_raised_gets_a_check_in_at_the_margin(detector, margin, intent) -> None:
    name, crisis = decide(detector, QUIET, 0.3, margin)
    assert name == intent
    if intent:
        assert (crisis["tier"], crisis["rule"], crisis["category"]) == ("check_in", "neighbours", "suicide")
        assert crisis["neighbour_margin"] == round(margin, 3)


def test_the_margin_never_raises_an_alarm_to_the_full_reply(detector) -> None:
    name, crisis = decide(detector, QUIET, 0.3, 0.9)
    assert (name, crisis["tier"]) == ("crisis_check_in", "check_in")


def test_the_model_tier_decides_first(detector) -> None:
    name, crisis = decide(detector, QUIET, 0.97, 0.3)
    assert (name, crisis["rule"], crisis["tier"]) == ("crisis", "model", "crisis")


@pytest.mark.parametrize(
    "text",
    [
        "i'm not suicidal, just so tired of all of it",  # negated
        # resolved history
        "i took an overdose years ago after my divorce. i'm ok now, just wanted to say it gets better",
        "ive been killing myself at work to make the mortgage since he left",  # idiom
    ],
)
def test_the_patterns_checks_apply_to_the_margin_too(detector, text) -> None:
    assert decide(detector, text, 0.3, 0.5)[0] is None


def test_a_pattern_match_both_models_dropped_stays_dropped(tmp_path_factory) -> None:
    """A match dropped as plainly calm by both models is not raised again by the margin."""
    strict = make_detector(tmp_path_factory, pattern_drop_model=0.1, pattern_drop_verifier=0.05)
    msg = Message(data={"text": "I want to kill myself"})
    msg.set(RISK_KEY, {"score": 0.01, "category": "suicide", "chunks": 1, "neighbour_margin": 0.5})
    msg.set("haven_crisis_pattern_verifier", lambda _text: 0.01)
    msg.set("haven_crisis_risk_scorer", lambda _text: 0.01)
    [msg] = strict.process([msg])
    assert (msg.get("intent") or {}).get("name") is None


def test_off_by_default(tmp_path_factory) -> None:
    plain = make_detector(tmp_path_factory, neighbour_check_in_margin=1.0)
    assert decide(plain, QUIET, 0.3, 0.99)[0] is None
    assert CrisisDetector.get_default_config()["neighbour_check_in_margin"] >= 1.0


def test_the_inbox_says_what_fired() -> None:
    assert fired({"rule": "neighbours", "neighbour_margin": 0.123}) == "neighbours:0.12"
    assert fired({"rule": "neighbours"}) == "neighbours"
