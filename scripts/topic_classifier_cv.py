"""Chooses the topic classifier's configuration by 5-fold cross-validation on data/nlu only.

Every training example is featurised by the pipeline's own Rasa components (config.yml: spaCy tokens
and lemmas, LexicalSyntacticFeaturizer, the two CountVectorsFeaturizers, SentenceEncoderFeaturizer),
fitted on all of data/nlu once. That is the same as fitting them per fold for a logistic regression:
a feature that only a held-out fold contains is zero in every training row, so it gets no weight, and
the TF-IDF weights are fitted per fold inside the classifier. Then, on the same stratified folds:

  sparse      today's classifier: sublinear TF-IDF on the sparse features, logistic regression (C)
  dense       logistic regression on the 384-dim sentence embedding alone (C)
  blend       (a) w * dense + (1 - w) * sparse probabilities (a separate component, measured in commit
              9ceb2cb and not kept: docs/nlu-pipeline.md)
  stacked     (b) TF-IDF on the sparse columns, the embedding times `scale` passed through, one
              logistic regression (C)

and prints accuracy over every intent, then, for the chosen configuration, what FallbackClassifier
thresholds would do on the out-of-fold predictions: topic accuracy (a fallback counts as a miss) and
out_of_scope examples given no topic. No evaluation set (tests/nlu/) is read here.

    RASA_TELEMETRY_ENABLED=false .venv/bin/python scripts/topic_classifier_cv.py
"""

from __future__ import annotations

import argparse
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse

from haven_devtools.evaluation import TOPICS

ROOT = Path(__file__).resolve().parent.parent
FOLDS, SEED = 5, 42


def featurise(data_dir: Path):
    """(sparse X, dense E, labels) for every intent example of data/nlu, by the pipeline's components."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.featurizers.sparse_featurizer.lexical_syntactic_featurizer import (
        LexicalSyntacticFeaturizer,
    )
    from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
    from rasa.nlu.utils.spacy_utils import SpacyNLP
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu_components.sentence_encoder import SentenceEncoderFeaturizer

    storage = LocalModelStorage(Path(tempfile.mkdtemp()))

    def make(cls, config, node):
        context = ExecutionContext(GraphSchema({}), uuid.uuid4().hex, node_name=node)
        return cls.create({**cls.get_default_config(), **config}, storage, Resource(node), context)

    loaded = load_data(str(data_dir))
    examples = [e for e in loaded.intent_examples if e.get("intent") and e.get(TEXT)]
    data = TrainingData(examples)
    spacy = make(SpacyNLP, {"model": str(ROOT / "build" / "spacy-en"), "case_sensitive": False}, "spacy")
    spacy.process_training_data(data, spacy.provide())
    make(SpacyTokenizer, {}, "tok").process_training_data(data)
    for cls, config, node in (
        (LexicalSyntacticFeaturizer, {}, "lex"),
        (CountVectorsFeaturizer, {"use_lemma": True, "max_ngram": 2}, "cvf_words"),
        (CountVectorsFeaturizer, {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4}, "cvf_chars"),
    ):
        component = make(cls, config, node)
        component.train(data)
        component.process_training_data(data)
    make(SentenceEncoderFeaturizer, {}, "encoder").process_training_data(data)
    sparse = scipy.sparse.vstack([e.get_sparse_features(TEXT)[1].features for e in examples]).tocsr()
    dense = np.vstack([e.get_dense_features(TEXT)[1].features for e in examples])
    return sparse, dense, np.array([e.get("intent") for e in examples])


def logreg(C: float, max_iter: int = 200):
    from sklearn.linear_model import LogisticRegression

    # As Rasa's LogisticRegressionClassifier (and ours): balanced classes, lbfgs.
    return LogisticRegression(
        C=C, class_weight="balanced", max_iter=max_iter, solver="lbfgs", random_state=SEED
    )


def out_of_fold(make_model, X, y, folds):
    """Out-of-fold probabilities, columns in sorted label order."""
    labels = np.unique(y)
    proba = np.zeros((len(y), len(labels)))
    for train, test in folds:
        model = make_model().fit(X[train], y[train])
        columns = np.searchsorted(labels, model.classes_)
        proba[np.ix_(test, columns)] = model.predict_proba(X[test])
    return proba


def sparse_model(C):
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.pipeline import Pipeline

    return lambda: Pipeline([("tfidf", TfidfTransformer(sublinear_tf=True)), ("logreg", logreg(C))])


def stacked_model(C, n_sparse, scale):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    def make():
        columns = ColumnTransformer(
            [
                ("tfidf", TfidfTransformer(sublinear_tf=True), slice(0, n_sparse)),
                (
                    "dense",
                    FunctionTransformer(lambda d: d * scale, accept_sparse=True),
                    slice(n_sparse, None),
                ),
            ]
        )
        return Pipeline([("columns", columns), ("logreg", logreg(C, max_iter=500))])

    return make


def accuracy(proba, y, labels) -> float:
    return float(np.mean(labels[proba.argmax(1)] == y))


def fallback_table(proba, y, labels, thresholds, ambiguity=0.05):
    """Topic accuracy (fallback = miss) and out_of_scope refused, per FallbackClassifier threshold."""
    order = np.argsort(-proba, axis=1)
    top, second = proba[np.arange(len(y)), order[:, 0]], proba[np.arange(len(y)), order[:, 1]]
    predicted = labels[order[:, 0]]
    topic, oos = np.isin(y, TOPICS), y == "out_of_scope"
    rows = []
    for threshold in thresholds:
        fallback = (top < threshold) | (top - second < ambiguity)
        answered = np.where(fallback, "nlu_fallback", predicted)
        rows.append(
            (
                threshold,
                float(np.mean(answered[topic] == y[topic])),
                float(np.mean(~np.isin(answered[oos], TOPICS))),
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--cache", type=Path, help="save the features here (.npz), or read them if it exists")
    parser.add_argument("--stacked", default="30:1,30:2,30:4,100:1,100:2,100:4", help="C:scale pairs for (b)")
    parser.add_argument("--skip-blend", action="store_true", help="only the sparse baseline and (b)")
    parser.add_argument(
        "--threshold-for", help="C:scale of (b) whose fallback table is printed (default: the best)"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from sklearn.model_selection import StratifiedKFold

    if args.cache and args.cache.exists():
        saved = np.load(args.cache, allow_pickle=False)
        X = scipy.sparse.csr_matrix((saved["data"], saved["indices"], saved["indptr"]), shape=saved["shape"])
        E, y = saved["dense"], saved["y"]
    else:
        X, E, y = featurise(args.data)
        if args.cache:
            np.savez(args.cache, data=X.data, indices=X.indices, indptr=X.indptr, shape=X.shape, dense=E, y=y)
    labels = np.unique(y)
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y))
    print(f"{len(y)} examples, {len(labels)} intents, {X.shape[1]} sparse + {E.shape[1]} dense columns")

    sparse = {C: out_of_fold(sparse_model(C), X, y, folds) for C in (30,)}
    print(f"sparse TF-IDF C=30: {accuracy(sparse[30], y, labels):.4f}", flush=True)
    best = (0.0, None, None)
    dense = {}
    for C in () if args.skip_blend else (1, 3, 10, 30, 100):
        dense[C] = out_of_fold(lambda C=C: logreg(C, max_iter=1000), E, y, folds)
        print(f"dense  C={C:<4}: {accuracy(dense[C], y, labels):.4f}", flush=True)
    for C, p_dense in dense.items():
        for w in np.round(np.arange(0, 1.01, 0.1), 2):
            acc = accuracy((1 - w) * sparse[30] + w * p_dense, y, labels)
            print(f"blend  dense C={C:<4} w={w:.1f}: {acc:.4f}")
            best = max(best, (acc, C, w), key=lambda b: b[0])
    if dense:
        print(f"best blend: dense C={best[1]}, w={best[2]}: {best[0]:.4f}")
    XE = scipy.sparse.hstack([X, scipy.sparse.csr_matrix(E)]).tocsr()
    stacked = {}
    for pair in args.stacked.split(","):
        C, scale = (float(v) for v in pair.split(":"))
        stacked[pair] = out_of_fold(stacked_model(C, X.shape[1], scale), XE, y, folds)
        print(f"stacked C={C:<5g} scale={scale:g}: {accuracy(stacked[pair], y, labels):.4f}", flush=True)
    print("\nFallbackClassifier threshold on out-of-fold predictions (topic accuracy, out_of_scope refused)")
    thresholds = np.round(np.arange(0.2, 0.61, 0.025), 3)
    tables = [("sparse C=30", sparse[30])]
    if dense:
        tables.append(
            (f"blend C={best[1]} w={best[2]}", (1 - best[2]) * sparse[30] + best[2] * dense[best[1]])
        )
    if stacked:
        pick = args.threshold_for or max(stacked, key=lambda pair: accuracy(stacked[pair], y, labels))
        tables.append((f"stacked {pick}", stacked[pick]))
    for name, proba in tables:
        for threshold, topic, oos in fallback_table(proba, y, labels, thresholds):
            print(f"  {name:<22} {threshold:.3f}: topic {topic:.4f}  out_of_scope refused {oos:.4f}")
    print("\nThe classifier's own `crisis` intent (crisis detector's classifier path, before cue words):")
    print("top intent `crisis` at confidence >= t, on crisis examples and on all other examples")
    crisis = y == "crisis"
    column = int(np.searchsorted(labels, "crisis"))
    for name, proba in tables:
        top_is_crisis = proba.argmax(1) == column
        for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
            fires = top_is_crisis & (proba[:, column] >= t)
            print(
                f"  {name:<22} {t:.2f}: crisis {fires[crisis].sum()}/{crisis.sum()}"
                f"  others {fires[~crisis].sum()}/{(~crisis).sum()}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
