"""EmbeddingBlendClassifier, Rasa-style: trained on a few messages with a dense sentence feature, it
blends its probabilities into the ranking already on the message, survives a save and a load (plain
arrays, same probabilities), and leaves empty or unranked messages alone."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from nlu_components.embedding_classifier import MODEL_FILE, EmbeddingBlendClassifier

NODE = "train_EmbeddingBlendClassifier6"
# Three "topics" in a 4-dim space, with negative values as real embeddings have.
CENTRES = {
    "why_still_attached": np.array([1.0, -0.5, 0.0, 0.2]),
    "book_consultation": np.array([-0.8, 1.0, 0.1, 0.0]),
    "what_is_trauma_bond": np.array([0.0, -0.2, -1.0, 0.9]),
}


def message(vector=None, intent: str | None = None, text: str = "some words") -> Message:
    msg = Message(data={"text": text, **({"intent": intent} if intent else {})})
    if vector is not None:
        features = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        msg.add_features(Features(features, "sentence", "text", "encoder"))
    return msg


def training_data(intents=tuple(CENTRES)) -> TrainingData:
    rng = np.random.default_rng(0)
    examples = [
        message(CENTRES[intent] + rng.normal(0, 0.2, 4), intent, f"example {intent} {i}")
        for intent in intents
        for i in range(4)
    ]
    # Without an embedding (no featurizer output) or without text: not trained on.
    examples += [message(None, "why_still_attached"), message(CENTRES["book_consultation"], "why_still_attached", "")]
    return TrainingData(examples)


def sparse_ranking(msg: Message, ranking: dict) -> Message:
    """What CacheSafeLogisticRegressionClassifier leaves on the message before the blend."""
    items = sorted(({"name": k, "confidence": v} for k, v in ranking.items()), key=lambda i: -i["confidence"])
    msg.set("intent", items[0] if items else {"name": None, "confidence": 0.0}, add_to_output=True)
    msg.set("intent_ranking", items, add_to_output=True)
    return msg


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context(node: str = NODE) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), uuid.uuid4().hex, node_name=node)


def create(storage, config: dict | None = None) -> EmbeddingBlendClassifier:
    config = {**EmbeddingBlendClassifier.get_default_config(), **(config or {})}
    return EmbeddingBlendClassifier.create(config, storage, Resource(NODE), context())


def load(storage, config: dict | None = None) -> EmbeddingBlendClassifier:
    config = {**EmbeddingBlendClassifier.get_default_config(), **(config or {})}
    return EmbeddingBlendClassifier.load(config, storage, Resource(NODE), context())


SPARSE = {"why_still_attached": 0.2, "book_consultation": 0.5, "what_is_trauma_bond": 0.3}


def test_it_is_registered_as_a_trainable_intent_classifier() -> None:
    registered = DefaultV1Recipe._from_registry(EmbeddingBlendClassifier.__name__)
    assert registered.clazz is EmbeddingBlendClassifier
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert registered.is_trainable is True


@pytest.mark.parametrize("C", [0.5, 10.0])
def test_its_probabilities_are_scikit_learns(storage, C) -> None:
    component = create(storage, {"C": C})
    component.train(training_data())
    rows = [e for e in training_data().training_examples if e.get("text") and e.features]
    X = np.vstack([e.features[0].features for e in rows]).astype(np.float64)
    reference = LogisticRegression(C=C, class_weight="balanced", max_iter=1000, random_state=42).fit(
        X, [e.get("intent") for e in rows]
    )
    assert component.classes == list(reference.classes_)
    np.testing.assert_allclose(component.embedding_probabilities(X), reference.predict_proba(X), atol=1e-9)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("intent", list(CENTRES))
def test_process_sets_the_blended_ranking(storage, weight, intent) -> None:
    component = create(storage, {"weight": weight})
    component.train(training_data())
    msg = sparse_ranking(message(CENTRES[intent]), SPARSE)
    dense = dict(zip(component.classes, component.embedding_probabilities(CENTRES[intent].reshape(1, -1))[0]))
    component.process([msg])
    ranking = msg.get("intent_ranking")
    expected = {name: (1 - weight) * SPARSE[name] + weight * dense[name] for name in CENTRES}
    assert {item["name"]: item["confidence"] for item in ranking} == pytest.approx(expected)
    assert [item["confidence"] for item in ranking] == pytest.approx(sorted(expected.values(), reverse=True))
    assert msg.get("intent") == ranking[0]
    assert sum(expected.values()) == pytest.approx(1.0)
    if weight == 1.0:
        assert msg.get("intent")["name"] == intent  # the embedding model alone finds the centre's topic
    if weight == 0.0:
        assert msg.get("intent")["name"] == "book_consultation"


def test_intents_missing_from_either_side_count_as_zero(storage) -> None:
    component = create(storage, {"weight": 0.5, "ranking_length": 0})
    component.train(training_data())
    # The sparse ranking was cut to two intents and names one the embedding model never saw.
    msg = sparse_ranking(message(CENTRES["why_still_attached"]), {"why_still_attached": 0.7, "greet": 0.3})
    component.process([msg])
    names = {item["name"]: item["confidence"] for item in msg.get("intent_ranking")}
    assert set(names) == set(CENTRES) | {"greet"}
    assert names["greet"] == pytest.approx(0.15)
    assert sum(names.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("length, expected", [(1, 1), (2, 2), (0, 3)])
def test_ranking_length(storage, length, expected) -> None:
    component = create(storage, {"ranking_length": length})
    component.train(training_data())
    msg = component.process([sparse_ranking(message(CENTRES["book_consultation"]), SPARSE)])[0]
    assert len(msg.get("intent_ranking")) == expected


@pytest.mark.parametrize("intents", [tuple(CENTRES), ("why_still_attached", "book_consultation")])
@pytest.mark.parametrize("weight", [0.4, 1.0])
def test_persisted_and_loaded_it_gives_the_same_probabilities(storage, tmp_path, intents, weight) -> None:
    trained = create(storage, {"weight": weight})
    trained.train(training_data(intents))
    (model_file,) = (tmp_path / NODE).glob("*.npz")
    assert model_file.name == MODEL_FILE
    with np.load(model_file, allow_pickle=False) as arrays:  # plain arrays: no pickle needed
        assert set(arrays.files) == {"coef", "intercept", "classes"}
    loaded = load(storage, {"weight": weight})
    probe = np.array([[0.3, 0.2, -0.4, 0.5], [-1.0, 0.8, 0.0, 0.1]])
    np.testing.assert_array_equal(loaded.embedding_probabilities(probe), trained.embedding_probabilities(probe))
    ranking = {name: 1 / len(intents) for name in intents}
    before = trained.process([sparse_ranking(message(probe[0]), ranking)])[0]
    after = loaded.process([sparse_ranking(message(probe[0]), ranking)])[0]
    assert after.get("intent_ranking") == before.get("intent_ranking")


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_message_keeps_no_intent(storage, text) -> None:
    component = create(storage)
    component.train(training_data())
    # The sparse classifier answers an empty message with no intent and an empty ranking; a
    # whitespace message may still carry an embedding, and must not get a topic from it.
    vector = None if not text else CENTRES["why_still_attached"]
    msg = sparse_ranking(message(vector, text=text), {})
    component.process([msg])
    assert msg.get("intent") == {"name": None, "confidence": 0.0}
    assert msg.get("intent_ranking") == []


def test_a_message_without_an_embedding_keeps_the_sparse_answer(storage) -> None:
    component = create(storage)
    component.train(training_data())
    msg = sparse_ranking(message(None), SPARSE)
    before = list(msg.get("intent_ranking"))
    component.process([msg])
    assert msg.get("intent_ranking") == before
    assert msg.get("intent")["name"] == "book_consultation"


def test_an_embedding_of_the_wrong_size_is_not_blended(storage) -> None:
    component = create(storage)
    component.train(training_data())
    msg = sparse_ranking(message(np.ones(7)), SPARSE)
    component.process([msg])
    assert msg.get("intent")["name"] == "book_consultation"


def test_untrained_it_changes_nothing(storage) -> None:
    component = load(storage)  # nothing was persisted under this resource
    assert component.coef is None
    msg = sparse_ranking(message(CENTRES["why_still_attached"]), SPARSE)
    component.process([msg])
    assert msg.get("intent")["name"] == "book_consultation"


@pytest.mark.parametrize("config", [{"weight": -0.1}, {"weight": 1.5}, {"weight": "half"}, {"C": 0}, {"C": True}])
def test_nonsensical_config_is_refused(config) -> None:
    with pytest.raises(InvalidConfigException):
        EmbeddingBlendClassifier.validate_config({**EmbeddingBlendClassifier.get_default_config(), **config})
