"""SentenceEncoderFeaturizer, Rasa-style: created through `create`, run on Messages and TrainingData."""

from __future__ import annotations

import uuid
from typing import Any, Dict, Optional

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from haven.encoder import DIM, load_encoder, pins
from nlu_components.sentence_encoder import SentenceEncoderFeaturizer

NODE = "run_SentenceEncoderFeaturizer0"


@pytest.fixture(scope="module")
def create(tmp_path_factory: pytest.TempPathFactory):
    storage = LocalModelStorage.create(tmp_path_factory.mktemp("model_storage"))
    context = ExecutionContext(GraphSchema({}), uuid.uuid4().hex, node_name=NODE)

    def inner(config: Optional[Dict[str, Any]] = None) -> SentenceEncoderFeaturizer:
        return SentenceEncoderFeaturizer.create(
            {**SentenceEncoderFeaturizer.get_default_config(), **(config or {})},
            storage,
            Resource("sentence_encoder"),
            context,
        )

    return inner


def sentence_feature(message: Message, name: str) -> np.ndarray:
    sequence, sentence = message.get_dense_features(TEXT, [name])
    assert sequence is None  # wordpieces do not line up with spaCy's tokens: no sequence feature
    assert sentence is not None and sentence.type == FEATURE_TYPE_SENTENCE
    assert sentence.origin in (name, [name])  # Rasa lists the origins of combined features
    return sentence.features


def test_it_is_registered_as_a_message_featurizer() -> None:
    registered = DefaultV1Recipe._from_registry(SentenceEncoderFeaturizer.__name__)
    assert registered.clazz is SentenceEncoderFeaturizer
    assert DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER in registered.types
    assert registered.is_trainable is False


@pytest.mark.parametrize("alias", [None, "minilm"])
def test_training_sets_a_384_dim_sentence_feature_on_every_example(create, alias) -> None:
    featurizer = create({"alias": alias})
    texts = ["why do I still feel attached to him?", "I want to book a consultation", "hi", "Quinn"]
    examples = [Message(data={TEXT: text, INTENT: "x"}) for text in texts]
    intent_only = Message(data={INTENT: "greet"})  # as in stories: no text, so no feature
    data = TrainingData(training_examples=examples + [intent_only])
    featurizer.process_training_data(data)
    expected = load_encoder().encode(texts)
    for message, vector in zip(examples, expected, strict=True):
        feature = sentence_feature(message, alias or NODE)
        assert feature.shape == (1, DIM)
        assert np.abs(feature[0] - vector).max() < 1e-6
    assert intent_only.features == []


def test_processing_a_message_adds_the_same_feature_as_training(create) -> None:
    featurizer = create()
    trained = Message(data={TEXT: "They hurt me so badly, why do I still feel attached?"})
    featurizer.process_training_data(TrainingData(training_examples=[trained]))
    parsed = Message(data={TEXT: "They hurt me so badly, why do I still feel attached?"})
    featurizer.process([parsed])
    assert np.abs(sentence_feature(parsed, NODE) - sentence_feature(trained, NODE)).max() < 1e-6
    assert not any(f.type == FEATURE_TYPE_SEQUENCE for f in parsed.features)


@pytest.mark.parametrize("text", ["a" * 100_000, "I am scared. " * 7_693, "😢" * 10_000, "😢 " * 10_000])
def test_a_very_long_message_works_and_only_its_first_1000_characters_count(create, text: str) -> None:
    featurizer = create()
    message = Message(data={TEXT: text})
    featurizer.process([message])
    feature = sentence_feature(message, NODE)
    assert feature.shape == (1, DIM) and np.isfinite(feature).all()
    assert np.abs(feature[0] - load_encoder().encode([text[:1000]])[0]).max() < 1e-6


def test_max_chars_is_what_it_reads(create) -> None:
    featurizer = create({"max_chars": 10})
    short, long = (
        Message(data={TEXT: "I feel ok."}),
        Message(data={TEXT: "I feel ok. But tonight I will end it."}),
    )
    featurizer.process([short, long])
    assert np.array_equal(sentence_feature(short, NODE), sentence_feature(long, NODE))


def test_an_empty_message_gets_no_feature_like_rasas_own_featurizers(create) -> None:
    message = Message(data={TEXT: ""})
    create().process([message])
    assert message.features == []


@pytest.mark.parametrize("bad", [0, -1, 20_001, "1000", 1.5, True])
def test_a_nonsensical_max_chars_is_refused(create, bad) -> None:
    with pytest.raises(InvalidConfigException, match="max_chars"):
        create({"max_chars": bad})


def test_the_pinned_model_is_part_of_rasas_fingerprint() -> None:
    addon = SentenceEncoderFeaturizer.fingerprint_addon({})
    assert pins.REVISION in addon
    assert all(pinned.sha256 in addon for pinned in pins.PINNED_FILES)
