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

Prediction, one message at a time, is the same arithmetic with numpy on the fitted arrays (sublinear
TF, the idf weights, L2 norm over the sparse columns, then the multinomial regression's softmax):
scikit-learn's pipeline spent about 3.5 ms a message validating inputs and building sparse matrices,
the largest single cost of a turn (`make profile`). The fitted pipeline stays the model (saved and
loaded as before) and the reference: tests/test_logistic_regression.py checks both agree to 1e-9, and
any model of another shape (no TF-IDF, no embedding, one-vs-rest) uses scikit-learn as before.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, NamedTuple, Optional, Text

import numpy as np
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
from rasa.utils.tensorflow.constants import RANKING_LENGTH

logger = logging.getLogger(__name__)

# skops lists scipy's sparse matrix (TF-IDF's stored idf diagonal) as untrusted only because it is not
# in its default list; it is plain data. Anything else unexpected is still refused.
SAFE_EXTRA_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})


class LinearModel(NamedTuple):
    """The fitted TF-IDF + embedding pipeline as plain arrays (see the module docstring)."""

    width: int  # the sparse columns TF-IDF weighs; the embedding's follow
    idf: np.ndarray  # (width,)
    coef_sparse: np.ndarray  # (classes, width)
    coef_dense: np.ndarray  # (classes, embedding width)
    intercept: np.ndarray  # (classes,)
    classes: List[Text]

    @classmethod
    def from_pipeline(cls, clf: Any) -> Optional["LinearModel"]:
        """The arrays, or None when the pipeline is not the shape this arithmetic reproduces."""
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        if not isinstance(clf, Pipeline) or [name for name, _ in clf.steps] != ["columns", "logreg"]:
            return None
        columns, logreg = clf.named_steps["columns"], clf.named_steps["logreg"]
        if not isinstance(columns, ColumnTransformer) or not isinstance(logreg, LogisticRegression):
            return None
        fitted = [(name, step, cols) for name, step, cols in columns.transformers_]
        if len(fitted) != 2 or fitted[0][0] != "tfidf" or fitted[1][1] != "passthrough":
            return None
        tfidf, sparse_cols = fitted[0][1], fitted[0][2]
        ok_tfidf = (
            isinstance(tfidf, TfidfTransformer)
            and tfidf.sublinear_tf
            and tfidf.use_idf
            and tfidf.norm == "l2"
            and isinstance(sparse_cols, slice)
            and sparse_cols.start in (0, None)
            and sparse_cols.step in (1, None)
        )
        multinomial = logreg.multi_class == "multinomial" or (
            logreg.multi_class == "auto" and logreg.classes_.size > 2 and logreg.solver != "liblinear"
        )
        if not ok_tfidf or not multinomial:
            return None
        width = int(sparse_cols.stop)
        coef = np.asarray(logreg.coef_, dtype=np.float64)
        return cls(
            width=width,
            idf=np.asarray(tfidf.idf_, dtype=np.float64),
            coef_sparse=np.ascontiguousarray(coef[:, :width]),
            coef_dense=np.ascontiguousarray(coef[:, width:]),
            intercept=np.asarray(logreg.intercept_, dtype=np.float64),
            classes=[str(c) for c in logreg.classes_],
        )

    def proba(self, message: Message) -> Optional[np.ndarray]:
        """The class probabilities for one message, or None when its features do not fit (the caller
        then asks scikit-learn)."""
        sparse = message.get_sparse_features(attribute=TEXT)[1]
        if sparse is None or sparse.features.shape != (1, self.width):
            return None
        row = sparse.features.tocsr()  # sums duplicate entries, as scikit-learn's csr_matrix does
        indices, values = row.indices, np.log(row.data.astype(np.float64)) + 1.0
        values *= self.idf[indices]
        norm = np.sqrt(values @ values)
        if norm > 0:
            values /= norm
        scores = self.coef_sparse[:, indices] @ values + self.intercept
        dense = message.get_dense_features(attribute=TEXT)[1]
        if dense is not None:
            features = np.asarray(dense.features, dtype=np.float64).reshape(-1)
            if features.shape[0] != self.coef_dense.shape[1]:
                return None
            scores += self.coef_dense @ features
        scores -= scores.max()
        np.exp(scores, out=scores)
        return scores / scores.sum()


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

    def _linear(self) -> Optional[LinearModel]:
        """The arrays of the current pipeline (built once per fitted pipeline)."""
        if not (self.config["tfidf"] and self.config["embedding"]):
            return None
        cached = getattr(self, "_linear_cache", None)
        if cached is None or cached[0] is not self.clf:
            try:
                linear = LinearModel.from_pipeline(self.clf)
            except AttributeError:  # not fitted yet
                linear = None
            cached = (self.clf, linear)
            self._linear_cache = cached
        return cached[1]

    def _predict(self, messages: List[Message]) -> None:
        """Rasa's `process` for messages with text, with the numpy arithmetic where it applies."""
        linear = self._linear()
        probas = [linear.proba(m) for m in messages] if linear is not None else [None] * len(messages)
        if any(p is None for p in probas):
            super().process(messages)
            return
        for message, proba in zip(messages, probas, strict=True):
            # The same ranking as Rasa's LogisticRegressionClassifier.process (3.6).
            ranking = [{"name": k, "confidence": v} for k, v in zip(linear.classes, proba, strict=True)]
            ranking = sorted(ranking, key=lambda e: -e["confidence"])
            intent = ranking[0]
            if self.config[RANKING_LENGTH] > 0:
                ranking = ranking[: self.config[RANKING_LENGTH]]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        """Rasa's prediction for messages with text; no intent (confidence 0) for empty ones."""
        readable = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if readable:
            self._predict(readable)
        for message in messages:
            if not any(message is m for m in readable):
                nothing = {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}
                message.set(INTENT, nothing, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages
