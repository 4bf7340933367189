"""scripts/faq_contrastive.py's pairs (the tuning itself takes minutes and TensorFlow: docs/faq.md)."""

import random

from tests.script_modules import load

contrastive = load("faq_contrastive")

CLASSES = {
    "fees": ["how much", "what does it cost", "price?"],
    "hours": ["when are you open", "evening slots?"],
}
OTHER = ["when does the bank open", "what is a trauma bond", "book a table for two"]


def test_pairs_as_setfit_makes_them():
    pairs = contrastive.make_pairs(CLASSES, OTHER, 2, random.Random(0))
    questions = sum(map(len, CLASSES.values()))
    assert len(pairs) == questions * 2 * 2 + len(OTHER)
    entry_of = {q: entry for entry, qs in CLASSES.items() for q in qs}
    for a, b, target in pairs:
        assert target in (0.0, 1.0)
        assert a in entry_of or b in entry_of, "two 'not the FAQ' examples are never paired"
        if target == 1.0:
            assert entry_of.get(a) == entry_of.get(b) is not None
        else:
            assert entry_of.get(a) != entry_of.get(b)
    assert sum(t == 1.0 for _, _, t in pairs) == questions * 2


def test_pairs_are_seeded():
    one = contrastive.make_pairs(CLASSES, OTHER, 1, random.Random(3))
    assert one == contrastive.make_pairs(CLASSES, OTHER, 1, random.Random(3))


def test_training_classes_never_read_a_held_out_set():
    """The tuning and blind sets share no line with the tuning data. (The development set shares three
    everyday lines with data/nlu, as it does for the shipped matcher: it flatters both alike.)"""
    classes, other = contrastive.training_classes()
    texts = {t.strip().lower() for qs in classes.values() for t in qs} | {t.strip().lower() for t in other}
    from haven_devtools import faq_evaluation as fe

    for path in [fe.TUNE, *fe.blind_sets()]:
        positives, negatives, articles = fe._load(path)
        held_out = {t.strip().lower() for qs in positives.values() for t in qs} | {
            t.strip().lower() for t in negatives + articles
        }
        assert not texts & held_out, path.name


def test_a_smoke_tuning_writes_weights_the_shipped_runtime_reads(tmp_path):
    """Two steps of the real tuning (TensorFlow's graph included: its zip once broke it), then the
    tuned weights in the ONNX runtime: unit vectors, moved from the pinned encoder's."""
    import argparse

    import numpy as np

    from haven.encoder import load_encoder

    out = tmp_path / "smoke.safetensors"
    args = argparse.Namespace(seed=0, pairs=1, lr=1e-3, batch=8, out=out, max_pairs=16)
    assert contrastive.tune(args) == 0
    texts = ["how much is a session?", "when are you open"]
    tuned = contrastive.TunedEncoder(out).encode(texts)
    assert tuned.shape == (2, 384) and np.allclose(np.linalg.norm(tuned, axis=1), 1.0, atol=1e-5)
    assert np.abs(tuned - load_encoder().encode(texts)).max() > 1e-3
