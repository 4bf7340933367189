"""Blends a logistic regression on the sentence embedding into the sparse classifier's ranking.

`EmbeddingBlendClassifier` comes after `CacheSafeLogisticRegressionClassifier` (sublinear TF-IDF on
the count features) and before `FallbackClassifier`. It trains its own logistic regression on the
dense SENTENCE feature of TEXT (the 384-dim all-MiniLM-L6-v2 embedding from
`SentenceEncoderFeaturizer`), and at inference replaces the message's intent and ranking with

    p = (1 - weight) * p_sparse + weight * p_embedding

where p_sparse is the ranking already on the message (intents missing from it count as 0: give the
sparse classifier `ranking_length: 0` so it leaves the whole distribution). Why two models and not one
over both kinds of feature: the sparse classifier's sublinear TF-IDF takes the log of its inputs, which
breaks on the embedding's negative values, and the two feature sets want different regularisation.
`C` and `weight` were chosen by 5-fold cross-validation on data/nlu (scripts/topic_classifier_cv.py,
docs/nlu-pipeline.md); nothing here looks at an evaluation set.

A message is left as it is when it has no embedding (no text, or the featurizer failed) or no ranking
(the sparse classifier's answer to an empty message is no intent, and stays that). The trained model
is stored as plain arrays in an .npz file (coefficients, intercepts, intent names), loaded without
pickle.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

MODEL_FILE = "embedding_classifier.npz"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class EmbeddingBlendClassifier(GraphComponent, IntentClassifier):
    """Logistic regression on the sentence embedding, averaged with the sparse classifier's ranking."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,  # regularisation of the embedding's logistic regression
            "weight": 0.5,  # share of the embedding model in the blend, 0 (sparse only) to 1
            "max_iter": 1000,
            "random_state": 42,
            "ranking_length": LABEL_RANKING_LENGTH,  # 0 keeps every intent
            "featurizers": [],  # dense featurizers whose sentence features are read; [] means all
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        weight, C = config.get("weight", 0.5), config.get("C", 10.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight <= 1:
            raise InvalidConfigException(f"EmbeddingBlendClassifier: weight must be from 0 to 1, got {weight!r}")
        if not isinstance(C, (int, float)) or isinstance(C, bool) or not C > 0:
            raise InvalidConfigException(f"EmbeddingBlendClassifier: C must be positive, got {C!r}")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        classes: Optional[List[str]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.validate_config(self.config)
        self._model_storage = model_storage
        self._resource = resource
        self.coef, self.intercept = coef, intercept
        self.classes = list(classes) if classes is not None else []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmbeddingBlendClassifier:
        return cls(config, model_storage, resource)

    # -- features and probabilities ------------------------------------------------------------

    def _embedding(self, message: Message) -> Optional[np.ndarray]:
        featurizers = self.config["featurizers"] or None
        _, sentence = message.get_dense_features(TEXT, featurizers)
        if sentence is None:
            return None
        return np.asarray(sentence.features, dtype=np.float64).reshape(-1)

    def embedding_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """The embedding model's probabilities (rows: messages, columns: `self.classes`), computed as
        scikit-learn's LogisticRegression.predict_proba does from the stored arrays."""
        scores = vectors @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:  # two intents: one binary model
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    # -- training -------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        rows, labels = [], []
        for example in training_data.intent_examples:
            if not (example.get(INTENT) and example.get(TEXT)):
                continue
            vector = self._embedding(example)
            if vector is not None:
                rows.append(vector)
                labels.append(example.get(INTENT))
        if len(set(labels)) < 2:
            logger.debug("EmbeddingBlendClassifier: fewer than two intents with embeddings; not trained.")
            return self._resource
        model = LogisticRegression(
            C=float(self.config["C"]),
            class_weight="balanced",
            max_iter=int(self.config["max_iter"]),
            random_state=self.config["random_state"],
            solver="lbfgs",
        )
        model.fit(np.vstack(rows), labels)
        self.coef, self.intercept = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
        self.classes = [str(c) for c in model.classes_]
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(
                model_dir / MODEL_FILE,
                coef=self.coef,
                intercept=self.intercept,
                classes=np.array(self.classes, dtype=str),
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EmbeddingBlendClassifier:
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / MODEL_FILE, allow_pickle=False) as arrays:
                    return cls(
                        config,
                        model_storage,
                        resource,
                        coef=arrays["coef"].astype(np.float64),
                        intercept=arrays["intercept"].astype(np.float64),
                        classes=[str(c) for c in arrays["classes"]],
                    )
        except (ValueError, FileNotFoundError):
            # Not trained (no examples with embeddings): the sparse classifier's answer stands.
            logger.debug("EmbeddingBlendClassifier: no trained model in '%s'.", resource.name)
            return cls.create(config, model_storage, resource, execution_context)

    # -- inference ------------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        if self.coef is None:
            return messages
        for message in messages:
            ranking = message.get(INTENT_RANKING_KEY) or []
            vector = self._embedding(message)
            if not ranking or vector is None:
                continue
            if vector.shape[0] != self.coef.shape[1]:
                logger.error(
                    "EmbeddingBlendClassifier: embedding has %d dimensions, the model %d; not blended.",
                    vector.shape[0],
                    self.coef.shape[1],
                )
                continue
            self._blend(message, ranking, self.embedding_probabilities(vector.reshape(1, -1))[0])
        return messages

    def _blend(self, message: Message, ranking: List[Dict[str, Any]], dense: np.ndarray) -> None:
        weight = float(self.config["weight"])
        sparse = {item[INTENT_NAME_KEY]: float(item[PREDICTED_CONFIDENCE_KEY]) for item in ranking}
        names = list(self.classes) + [name for name in sparse if name not in self.classes]
        dense_of = dict(zip(self.classes, dense.tolist()))
        blended = [
            {
                INTENT_NAME_KEY: name,
                PREDICTED_CONFIDENCE_KEY: (1 - weight) * sparse.get(name, 0.0) + weight * dense_of.get(name, 0.0),
            }
            for name in names
        ]
        blended.sort(key=lambda item: -item[PREDICTED_CONFIDENCE_KEY])
        length = int(self.config["ranking_length"])
        message.set(INTENT, dict(blended[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, blended[:length] if length > 0 else blended, add_to_output=True)
