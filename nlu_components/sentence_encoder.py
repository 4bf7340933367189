"""A sentence vector for every message: all-MiniLM-L6-v2 (haven/encoder) as a Rasa dense featurizer.

`SentenceEncoderFeaturizer` adds one SENTENCE-type dense feature of 384 dimensions (the L2-normalised
sentence embedding) for TEXT, the way Rasa's own LanguageModelFeaturizer does: through
`Featurizer.add_features_to_message`, under the component's `alias` (or its node name), so classifiers
that read dense features (DIET, and anything using `message.get_dense_features`) see it beside spaCy's
and the count vectors. It adds no SEQUENCE feature: the model's wordpieces do not line up with spaCy's
tokens, and entity extraction does not need it.

Why a pretrained encoder: paraphrases the training data never saw ("he left me broken but I miss him")
land near the examples they mean, which count features cannot do. It is only a feature: similarity is
not meaning, and the CrisisDetector's patterns stay the primary safety net (shared/notes/sentence-encoder.md).

What it reads: at most the first `max_chars` characters (default 1 000, what InputGuard leaves the
classifiers; checked here too so a 100 000-character message costs the same even without InputGuard).
Messages without text (intent-only messages from stories) get no feature, as with Rasa's own
featurizers. Training encodes every example in one batched call (sorted by length, haven/encoder);
inference encodes each message through the encoder's LRU cache.

Not trainable: the features depend only on the text, the config and the pinned model files, whose
revision and hashes enter Rasa's fingerprint (`fingerprint_addon`), so a different model can never
reuse cached features. The encoder verifies the files' hashes when it loads.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from haven.encoder import DIM, load_encoder, pins

logger = logging.getLogger(__name__)

MAX_CHARS_LIMIT = 20_000  # the channels' own limit; more is refused as a configuration error


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the all-MiniLM-L6-v2 sentence embedding (384 floats) as a dense sentence feature of TEXT."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`alias` (Rasa's featurizer name, default the node name) and `max_chars` read per message."""
        return {**DenseFeaturizer.get_default_config(), "max_chars": 1000}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["onnxruntime", "tokenizers", "safetensors"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.max_chars = int(config["max_chars"])
        self.encoder = load_encoder()  # one per process, shared with every other user

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """A pipeline with a nonsensical limit must not load."""
        max_chars = config.get("max_chars", 1000)
        whole = isinstance(max_chars, int) and not isinstance(max_chars, bool)
        if not whole or not 0 < max_chars <= MAX_CHARS_LIMIT:
            raise InvalidConfigException(
                f"SentenceEncoderFeaturizer: max_chars must be a whole number from 1 to "
                f"{MAX_CHARS_LIMIT}, got {max_chars!r}"
            )

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The pinned model (revision and file hashes) joins Rasa's cache key: features computed with
        other weights are never reused. Constants, not a re-hash: load time refuses other files."""
        return f"{pins.fingerprint()};dim={DIM}"

    def _text(self, message: Message) -> Optional[str]:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text:
            return None
        return text[: self.max_chars]

    def _featurize(self, messages: List[Message]) -> None:
        pending = [(message, text) for message in messages if (text := self._text(message)) is not None]
        if not pending:
            return
        vectors = self.encoder.encode([text for _, text in pending])
        for (message, _), vector in zip(pending, vectors, strict=True):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, DIM), attribute=TEXT, message=message
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """All training examples with text, in one batched encode call."""
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Each message (through the encoder's cache); a failure leaves the message without the
        feature and is logged without its text, never raised into the conversation."""
        for message in messages:
            try:
                self._featurize([message])
            except Exception as error:  # pragma: no cover - defensive: parsing must go on
                logger.error("SentenceEncoderFeaturizer failed on a message (%s).", type(error).__name__)
        return messages
