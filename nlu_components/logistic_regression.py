"""Rasa's LogisticRegressionClassifier, loadable after a training-cache hit, with TF-IDF and C.

Rasa 3.6 names the saved file after the graph node ("train_LogisticRegressionClassifier5.skops").
When the training cache restores that resource under another node index, the folder is renamed but
the file is not, and loading fails with FileNotFoundError. This subclass looks for the one .skops
file in its folder instead of guessing its name.

Two options Rasa's class lacks, both chosen by cross-validation on the training data
(docs/nlu-pipeline.md): `tfidf` weighs the count features with sublinear TF-IDF before the regression
(long messages that tell a story first no longer drown the question in story words), and `C` sets
the regularisation strength. With neither set, this is Rasa's classifier unchanged.

With `tfidf`, only the sparse sentence features are read: Rasa's `_create_X` would append the dense
ones too (the sentence encoder's embedding), and sublinear TF-IDF takes the log of every value, which
breaks on the embedding's negative numbers. The embedding has its own classifier, blended in after
this one (`nlu_components/embedding_classifier.py`).

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

logger = logging.getLogger(__name__)

# skops lists scipy's sparse matrix (TF-IDF's stored idf diagonal) as untrusted only because it is not
# in its default list; it is plain data. Anything else unexpected is still refused.
SAFE_EXTRA_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CacheSafeLogisticRegressionClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0, "tfidf": False}

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

    def _create_X(self, messages: List[Message]):
        """Rasa's feature matrix; with `tfidf`, the sparse sentence features alone (see above)."""
        if not self.config["tfidf"]:
            return super()._create_X(messages)
        from scipy.sparse import csr_matrix, vstack

        rows = []
        for message in messages:
            sparse = message.get_sparse_features(attribute=TEXT)[1]
            rows.append(csr_matrix(sparse.features if sparse else []))
        return vstack(rows)

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
