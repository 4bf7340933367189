"""The crisis risk model's fast scoring path (`TextFeatures.logits`) gives the numbers of the plain
sklearn path (`transform(...) @ coef.T`) it replaces, for every kind of text the server meets:
short, long, repeated words, emoji, empty, and words never seen in training."""

from __future__ import annotations

import numpy as np
import pytest

from nlu_components.crisis.risk_model import TextFeatures

TRAINING = [
    "i can't stop thinking about him",
    "i can't stop thinking about ending it",
    "why do i still miss him after what he did",
    "he hurt me so badly and i still miss him",
    "i want to book a consultation",
    "can i book a consultation for next week",
    "i have the pills lined up",
    "the pills are lined up on the counter",
    "thank you, this article helped",
    "thank you for the article",
]

SCORED = [
    "i can't stop thinking about him",
    "",
    "   ",
    "🙂🙂🙂",
    "pills pills pills pills pills",
    "a message with words the vectorizers never saw: zyzzyva quixotic",
    "why do i still miss him " * 200,
    "THANK YOU for the Article!!",
]


def random_coef(features: TextFeatures, labels: int, rng: np.random.Generator) -> np.ndarray:
    """Weights shaped for `features` (word and character n-grams, then the 384-dim embedding)."""
    width = len(features.words.vocabulary_) + len(features.chars.vocabulary_) + 384
    return rng.normal(size=(labels, width)).astype(np.float32)


@pytest.fixture(scope="module")
def features() -> TextFeatures:
    return TextFeatures(embedding_weight=0.7).fit(TRAINING)


def test_fast_logits_match_the_sklearn_path(features: TextFeatures) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(SCORED), 384)).astype(np.float32)
    coef = random_coef(features, 3, rng)

    expected = np.asarray(features.transform(SCORED, vectors) @ coef.T)
    found = features.logits(SCORED, vectors, coef)

    assert found.shape == (len(SCORED), 3)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-4)


def test_the_fast_path_reads_the_idf_of_a_reloaded_model(features: TextFeatures) -> None:
    reloaded = TextFeatures.from_arrays(features.arrays())
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2, 384)).astype(np.float32)
    coef = random_coef(features, 2, rng)
    texts = ["i have the pills lined up", "thank you for the article"]

    np.testing.assert_allclose(
        reloaded.logits(texts, vectors, coef), features.logits(texts, vectors, coef), rtol=0, atol=1e-5
    )


def test_refitting_forgets_the_old_idf(features: TextFeatures) -> None:
    refit = TextFeatures(embedding_weight=0.7).fit(TRAINING)
    rng = np.random.default_rng(5)
    texts = ["i miss him", "pills"]
    vectors = np.zeros((2, 384), dtype=np.float32)
    refit.logits(texts, vectors, random_coef(refit, 2, rng))  # caches the idf
    refit.fit(TRAINING[:6])
    coef = random_coef(refit, 2, rng)

    np.testing.assert_allclose(
        refit.logits(texts, vectors, coef),
        np.asarray(refit.transform(texts, vectors) @ coef.T),
        rtol=0,
        atol=1e-4,
    )
