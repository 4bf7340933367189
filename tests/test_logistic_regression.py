"""The intent classifier component: TF-IDF and C reach scikit-learn, the model survives a save and a
load under a renamed resource (Rasa 3.6's cache bug), and a model file with unexpected types is refused."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.pipeline import Pipeline

from nlu_components.logistic_regression import CacheSafeLogisticRegressionClassifier

VOCAB = ["miss", "him", "book", "call", "trauma", "bond"]


def message(words: str, intent: str | None = None) -> Message:
    counts = np.array([[words.split().count(w) for w in VOCAB]], dtype=float)
    msg = Message(data={"text": words, **({"intent": intent} if intent else {})})
    msg.add_features(Features(scipy.sparse.coo_matrix(counts), "sentence", "text", "counts"))
    return msg


TRAINING = TrainingData(
    [
        message("miss him miss him", "why_still_attached"),
        message("miss him", "why_still_attached"),
        message("book call", "book_consultation"),
        message("book book call", "book_consultation"),
        message("trauma bond", "what_is_trauma_bond"),
        message("bond trauma bond", "what_is_trauma_bond"),
    ]
)


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context(node: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=node)


def create(storage, config: dict, node: str = "train_classifier5") -> CacheSafeLogisticRegressionClassifier:
    return CacheSafeLogisticRegressionClassifier.create(
        {**CacheSafeLogisticRegressionClassifier.get_default_config(), **config},
        storage,
        Resource(node),
        context(node),
    )


def test_without_the_options_it_is_rasas_classifier_unchanged(storage) -> None:
    component = create(storage, {})
    assert not isinstance(component.clf, Pipeline)
    assert component.clf.C == 1.0


def test_tfidf_and_c_reach_scikit_learn(storage) -> None:
    component = create(storage, {"tfidf": True, "C": 30})
    assert isinstance(component.clf, Pipeline)
    assert component.clf.named_steps["tfidf"].sublinear_tf is True
    assert component.clf.named_steps["logreg"].C == 30.0


@pytest.mark.parametrize("options", [{}, {"tfidf": True, "C": 30}])
def test_trained_model_loads_under_a_renamed_resource_and_predicts_the_same(
    storage, tmp_path, options
) -> None:
    component = create(storage, options)
    component.train(TRAINING)
    before = component.process([message("miss him")])[0].get("intent")
    # Rasa's training cache can restore the resource under another node name; the file keeps the old one.
    (tmp_path / "train_classifier5").rename(tmp_path / "train_classifier9")
    config = {**CacheSafeLogisticRegressionClassifier.get_default_config(), **options}
    loaded = CacheSafeLogisticRegressionClassifier.load(
        config, storage, Resource("train_classifier9"), context("train_classifier9")
    )
    after = loaded.process([message("miss him")])[0].get("intent")
    assert after["name"] == before["name"] == "why_still_attached"
    assert after["confidence"] == pytest.approx(before["confidence"])


def test_a_model_file_with_unexpected_types_is_refused(storage, tmp_path) -> None:
    import skops.io as sio

    component = create(storage, {})
    component.train(TRAINING)
    (model_file,) = (tmp_path / "train_classifier5").glob("*.skops")
    # Anything outside scikit-learn and the one allowed scipy type: here a collections.Counter.
    from collections import Counter

    sio.dump({"clf": component.clf, "extra": Counter("ab")}, model_file)
    with pytest.raises(ValueError, match="untrusted types"):
        CacheSafeLogisticRegressionClassifier.load(
            CacheSafeLogisticRegressionClassifier.get_default_config(),
            storage,
            Resource("train_classifier5"),
            context("train_classifier5"),
        )


# The sentence encoder's embedding: negative values, which sublinear TF-IDF cannot take (log).
EMBEDDING = {
    "why_still_attached": [0.6, -0.7, 0.1],
    "book_consultation": [-0.5, 0.4, -0.8],
    "what_is_trauma_bond": [0.1, 0.3, 0.9],
}


def with_embedding(msg: Message, vector) -> Message:
    msg.add_features(Features(np.array([vector], dtype=np.float32), "sentence", "text", "encoder"))
    return msg


def embedded_training() -> TrainingData:
    return TrainingData(
        [
            with_embedding(message(e.get("text"), e.get("intent")), EMBEDDING[e.get("intent")])
            for e in TRAINING.training_examples
        ]
    )


def test_with_tfidf_the_embedding_is_left_out_unless_asked_for(storage) -> None:
    plain, embedded = (
        create(storage, {"tfidf": True, "C": 30}),
        create(storage, {"tfidf": True, "C": 30}, "other3"),
    )
    plain.train(TRAINING)
    embedded.train(embedded_training())  # negative dense values: would break sublinear TF-IDF
    probe = [message("miss him"), with_embedding(message("miss him"), EMBEDDING["book_consultation"])]
    first, second = plain.process([probe[0]])[0].get("intent"), embedded.process([probe[1]])[0].get("intent")
    assert first["name"] == second["name"] == "why_still_attached"
    assert first["confidence"] == pytest.approx(second["confidence"])


@pytest.mark.parametrize("C", [1, 30])
def test_with_embedding_tfidf_weighs_only_the_sparse_columns(storage, tmp_path, C) -> None:
    options = {"tfidf": True, "C": C, "embedding": True}
    component = create(storage, options)
    component.train(embedded_training())
    columns = component.clf.named_steps["columns"]
    assert columns.transformers_[0][2] == slice(0, len(VOCAB))
    assert columns.transformers_[1][1] == "passthrough"
    assert component.clf.n_features_in_ == len(VOCAB) + 3
    # The embedding alone, with no word the model knows, decides.
    for intent, vector in EMBEDDING.items():
        probe = with_embedding(message("nothing known"), vector)
        assert component.process([probe])[0].get("intent")["name"] == intent
    # Saved and loaded under a renamed resource (the cache bug), it predicts the same; the file holds
    # no type outside the allowed ones.
    probes = lambda: [with_embedding(message("miss him"), [0.0, 0.5, -0.5]), message("book call")]  # noqa: E731
    before = [m.get("intent_ranking") for m in component.process(probes())]
    (tmp_path / "train_classifier5").rename(tmp_path / "train_classifier9")
    config = {**CacheSafeLogisticRegressionClassifier.get_default_config(), **options}
    loaded = CacheSafeLogisticRegressionClassifier.load(
        config, storage, Resource("train_classifier9"), context("train_classifier9")
    )
    after = [m.get("intent_ranking") for m in loaded.process(probes())]
    for b, a in zip(before, after, strict=True):
        assert [i["name"] for i in a] == [i["name"] for i in b]
        assert [i["confidence"] for i in a] == pytest.approx([i["confidence"] for i in b])
    # The message without an embedding was read with zeros in the embedding's columns.
    assert after[1][0]["name"] == "book_consultation"


def test_with_embedding_an_empty_message_still_gets_no_intent(storage) -> None:
    component = create(storage, {"tfidf": True, "C": 30, "embedding": True})
    component.train(embedded_training())
    empty = component.process([Message(data={"text": ""})])[0]
    assert empty.get("intent") == {"name": None, "confidence": 0.0}
    assert empty.get("intent_ranking") == []


def _sklearn_ranking(component, msg: Message):
    """What Rasa's own process gives (scikit-learn's pipeline), for the same message."""
    proba = component.clf.predict_proba(component._create_X([msg]))[0]
    return sorted(zip(component.clf.classes_, proba, strict=True), key=lambda e: -e[1])


@pytest.mark.parametrize("C", [1.0, 100.0])
def test_the_numpy_prediction_equals_scikit_learns(storage, C) -> None:
    component = create(storage, {"tfidf": True, "C": C, "embedding": True})
    component.train(embedded_training())
    assert component._linear() is not None, "the trained pipeline has the shape the arithmetic reproduces"
    rng = np.random.default_rng(7)
    probes = []
    for _ in range(200):
        words = " ".join(rng.choice(VOCAB + ["other"], size=int(rng.integers(1, 9))))
        probes.append(with_embedding(message(words), rng.normal(size=3).tolist()))
    probes.append(message("miss him book"))  # no embedding: zeros in its columns, as scikit-learn reads it
    probes.append(with_embedding(message("nothing known"), [0.2, -0.1, 0.4]))  # no word the model knows
    for probe in probes:
        expected = _sklearn_ranking(component, probe)
        got = component.process([probe])[0].get("intent_ranking")
        assert [r["name"] for r in got] == [name for name, _ in expected]
        assert np.allclose([r["confidence"] for r in got], [p for _, p in expected], rtol=0, atol=1e-9)


def test_a_model_of_another_shape_is_predicted_by_scikit_learn(storage) -> None:
    component = create(storage, {"tfidf": True, "C": 30})  # TF-IDF without the embedding
    component.train(TRAINING)
    assert component._linear() is None
    assert component.process([message("book call")])[0].get("intent")["name"] == "book_consultation"


def test_features_of_an_unexpected_width_fall_back_to_scikit_learn(storage) -> None:
    component = create(storage, {"tfidf": True, "C": 30, "embedding": True})
    component.train(embedded_training())
    odd = with_embedding(message("miss him"), [0.1, 0.2, 0.3, 0.4])  # four numbers, not three
    linear = component._linear()
    assert linear is not None and linear.proba(odd) is None
