"""Rasa's LogisticRegressionClassifier, loadable after a training-cache hit, with TF-IDF and C.

Rasa 3.6 names the saved file after the graph node ("train_LogisticRegressionClassifier5.skops").
When the training cache restores that resource under another node index, the folder is renamed but
the file is not, and loading fails with FileNotFoundError. This subclass looks for the one .skops
file in its folder instead of guessing its name.

Two options Rasa's class lacks, both chosen by cross-validation on the training data
(docs/nlu-pipeline.md): `tfidf` weighs the count features with sublinear TF-IDF before the regression
(long messages that tell a story first no longer drown the question in story words), and `C` sets
the regularisation strength. With neither set, this is Rasa's classifier unchanged.

With `tfidf`, Rasa's `_create_X` (which appends the dense sentence features, here the sentence
encoder's embedding, to the sparse ones) must not hand the embedding to the TF-IDF step: sublinear
TF-IDF takes the log of every value, which breaks on the embedding's negative numbers. So with `tfidf`
the dense features are dropped, unless `embedding: true`: then TF-IDF weighs only the sparse columns
(a ColumnTransformer over the first columns, fitted at training when their number is known) and the
embedding's columns are passed through unchanged to the one logistic regression. Chosen over a
separate embedding model blended into the ranking by 5-fold cross-validation on the training data
(scripts/topic_classifier_cv.py, docs/nlu-pipeline.md). The model file still holds only scikit-learn
types and the one allowed scipy type; anything else is refused.

It also answers an empty message (no tokens, so no features) with no intent instead of raising
scikit-learn's "Found array with 0 feature(s)", which used to leave the visitor without any reply.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
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

# skops lists scipy's sparse matrix (TF-IDF's stored idf diagonal) as untrusted only because it is not
# in its default list; it is plain data. Anything else unexpected is still refused.
SAFE_EXTRA_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CacheSafeLogisticRegressionClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "C": 1.0,
            "tfidf": False,
            "embedding": False,
        }

    def __init__(
        self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.pipeline import Pipeline

        self.clf.set_params(C=float(self.config["C"]))
        if self.config["tfidf"]:
            # A Pipeline keeps `classes_` and `predict_proba`, which is all Rasa's code uses.
            self.clf = Pipeline([("tfidf", TfidfTransformer(sublinear_tf=True)), ("logreg", self.clf)])

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CacheSafeLogisticRegressionClassifier":
        import skops.io as sio

        with model_storage.read_from(resource) as model_dir:
            files = sorted(model_dir.glob("*.skops"))
            if len(files) != 1:
                raise ValueError(f"expected one .skops file in {model_dir}, found {len(files)}")
            untrusted = [t for t in sio.get_untrusted_types(file=files[0]) if t not in SAFE_EXTRA_TYPES]
            if untrusted:
                # Same rule as Rasa's: refuse a model file that would need untrusted types.
                raise ValueError(f"untrusted types in {files[0].name}: {untrusted}")
            component = cls(config, execution_context.node_name, model_storage, resource)
            component.clf = sio.load(files[0], trusted=list(SAFE_EXTRA_TYPES))
            return component

    def _sparse_width(self, messages: List[Message]) -> int:
        for message in messages:
            sparse = message.get_sparse_features(attribute=TEXT)[1]
            if sparse is not None:
                return sparse.features.shape[1]
        return 0

    def _create_X(self, messages: List[Message]):
        """Rasa's feature matrix; with `tfidf`, the sparse sentence features, then the dense ones only
        with `embedding` (see above). A message without an embedding gets zeros in its columns."""
        if not self.config["tfidf"]:
            return super()._create_X(messages)
        from scipy.sparse import csr_matrix, hstack, vstack

        dense_width = None
        if self.config["embedding"] and hasattr(self.clf, "n_features_in_"):
            dense_width = self.clf.n_features_in_ - self._sparse_width(messages)
        rows = []
        for message in messages:
            sparse = message.get_sparse_features(attribute=TEXT)[1]
            parts = [csr_matrix(sparse.features if sparse else [])]
            if self.config["embedding"]:
                dense = message.get_dense_features(attribute=TEXT)[1]
                if dense is not None:
                    parts.append(csr_matrix(dense.features))
                elif dense_width:
                    parts.append(csr_matrix((1, dense_width)))
            rows.append(hstack(parts))
        return vstack(rows).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        """Rasa's training; with `tfidf` and `embedding`, TF-IDF is first limited to the sparse columns."""
        if self.config["tfidf"] and self.config["embedding"]:
            from sklearn.compose import ColumnTransformer
            from sklearn.feature_extraction.text import TfidfTransformer
            from sklearn.pipeline import Pipeline

            examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
            sparse = slice(0, self._sparse_width(examples))
            columns = ColumnTransformer(
                [("tfidf", TfidfTransformer(sublinear_tf=True), sparse)], remainder="passthrough"
            )
            self.clf = Pipeline([("columns", columns), ("logreg", self.clf.named_steps["logreg"])])
        return super().train(training_data)

    def process(self, messages: List[Message]) -> List[Message]:
        """Rasa's prediction for messages with text; no intent (confidence 0) for empty ones."""
        readable = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if readable:
            super().process(readable)
        for message in messages:
            if not any(message is m for m in readable):
                nothing = {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}
                message.set(INTENT, nothing, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages
