"""The crisis risk model: a Rasa graph component that scores every message for crisis language with a
classifier on the pretrained sentence encoder's embeddings (haven/encoder).

Why a learned model beside the patterns: the reviewed patterns (safety/crisis_patterns/) only know
the phrasings somebody wrote down, and real posts name a means without the word suicide, tell an
assault as an event, or bury one sentence in a long story. The encoder knows that "took everything
in the cabinet" is near "overdosed"; a classifier on its embeddings, trained on thousands of
hand-written examples in the way people write (data/crisis/, nlu_components/crisis/risk_data.py),
generalises past the wording. Word and character n-grams (TF-IDF) stand beside the embeddings in the
same logistic regression: the embeddings alone confuse "I cut myself again" with "I cut my hair
short", the n-grams alone know only the training words; together they caught 0.89 of crisis messages
at 10% alarms on hard negatives, against 0.70 for the embeddings alone (cross-validated by writer,
docs/crisis-detection.md). It does not decide anything: it writes a score, and the crisis
detector (nlu_components/crisis/component.py) turns a high score into the crisis reply and a middle
one into a check-in question, after the same idiom, negation, past-history and third-person checks
the patterns get.

Whole-message scoring: a message is cut into chunks the encoder reads well (at most 128 wordpieces,
cut at sentence boundaries, overlapping by one sentence; haven.encoder.SentenceEncoder.chunks) and
its score is the highest chunk's. Training matches that: calm long posts also train as their chunks
(fragments of calm posts are calm), and a long crisis post trains as its riskiest chunk as well
(the chunk the first model scores highest: the risk sentence, not the story around it).

The pattern verifier: the same classifier, trained only on the training messages one of the reviewed
patterns matches (a crisis writer's "I cut myself again" against a calm writer's "I used to cut myself,
clean nine years"). The risk model learns crisis against everything calm, most of which no pattern
matches; the verifier learns what separates a pattern's true matches from its false ones. The crisis
detector asks it only when a pattern has matched. Cross-validated by writer, a pattern match needing both
(the risk model at its floor, the verifier at 0.3) for the full reply cut the full replies to calm
messages by a quarter (271 -> 203 of 3,351) for 4 of 3,383 crisis messages moved to a check-in, and
dropping a match only where both read the message as plainly calm took back 57 of the check-ins this
added on calm messages and no crisis message (docs/crisis-detection.md).

The nearest-neighbour margin (Neighbours): beside the regression, the training examples themselves, as
two banks of unit vectors (crisis, calm). A chunk's margin is the mean cosine of its k nearest crisis
examples minus that of its k nearest calm ones; a message's is its highest chunk's. The regression draws
one boundary through the whole embedding; the margin asks which examples a message actually sits among,
and catches crisis messages the boundary leaves just on the calm side. Cross-validated by writer it caught
more within the same calm budget than lowering the regression's check-in threshold
(docs/crisis-detection.md). It only ever adds a check-in (component.py).

Output (add_to_output, numbers only): message["crisis_risk"] = {"score": P(not calm) of the riskiest
chunk, "category": its most likely category, "chunks": how many were scored, "neighbour_margin": the
nearest-neighbour margin (absent when the model has no banks or the score is under
`neighbours_min_score`)}.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.crisis import risk_data
from nlu_components.crisis.patterns import resolve_path
from nlu_components.input_guard import CRISIS_TEXT_KEY

logger = logging.getLogger(__name__)

RISK_KEY = "crisis_risk"
# In-process only (never in the parse output): a function that scores one piece of text, for the
# crisis detector to ask about the sentence a pattern matched in (component.py, the pattern floor).
SCORER_KEY = "haven_crisis_risk_scorer"
WEIGHTS_FILE = "risk_model.npz"
# The pattern verifier (below): a second opinion on messages a reviewed pattern matched, in-process only
# like SCORER_KEY, and its weights beside the risk model's.
VERIFIER_KEY = "haven_crisis_pattern_verifier"
VERIFIER_FILE = "pattern_verifier.npz"
# The nearest-neighbour banks (Neighbours), float16 on disk (a cosine moves by under 0.001).
NEIGHBOURS_FILE = "neighbours.npz"
# Rasa NLU intents whose examples are not calm (everything else the assistant is trained on is
# ordinary traffic, the best negatives there are).
NOT_CALM_INTENTS = frozenset({"crisis"})
# The code training runs: this package (the data reader, this module, and the patterns and judgement that
# categorise the NLU crisis examples and choose the verifier's texts). Its bytes enter the cache key
# (fingerprint_addon); the whole folder rather than a hand-kept list, so no module can be forgotten.
TRAINING_CODE = Path(__file__).resolve().parent


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class TextFeatures:
    """What the classifier reads: sublinear TF-IDF word 1–2-grams and character 2–4-grams, and the
    sentence embedding times `embedding_weight`. Stored as plain vocabularies and arrays, so the model
    file holds no pickle."""

    def __init__(self, embedding_weight: float) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.embedding_weight = float(embedding_weight)
        self.words = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, dtype=np.float32)
        self.chars = TfidfVectorizer(
            sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 4), min_df=2, dtype=np.float32
        )
        self._idf: Optional[tuple] = None  # the idf vectors, read once from the fitted vectorizers

    def fit(self, texts: Sequence[str]) -> "TextFeatures":
        self.words.fit(texts)
        self.chars.fit(texts)
        self._idf = None
        return self

    def transform(self, texts: Sequence[str], vectors: np.ndarray):
        from scipy.sparse import csr_matrix, hstack

        dense = csr_matrix(vectors.astype(np.float32) * self.embedding_weight)
        return hstack([self.words.transform(texts), self.chars.transform(texts), dense]).tocsr()

    def logits(self, texts: Sequence[str], vectors: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """`transform(texts, vectors) @ coef.T`, the way the server scores a message: the same
        numbers (to float32 rounding, tests/test_risk_features.py) at about a third of the cost.
        sklearn's TfidfVectorizer.transform re-derives `idf_` from a sparse diagonal and checks the
        fit on every call, and stacking the three blocks into one sparse matrix costs more than the
        product; here the n-gram counts come from sklearn's own CountVectorizer step, and the
        sublinear tf, idf and l2 norm that TfidfTransformer applies are applied to them directly."""
        from sklearn.feature_extraction.text import CountVectorizer

        if self._idf is None:
            self._idf = tuple(np.asarray(v.idf_, dtype=np.float32) for v in (self.words, self.chars))
        words, chars = len(self.words.vocabulary_), len(self.chars.vocabulary_)
        blocks = (coef[:, :words], coef[:, words : words + chars], coef[:, words + chars :])
        total = (vectors.astype(np.float32) * self.embedding_weight) @ blocks[2].T
        for vectorizer, idf, block in zip((self.words, self.chars), self._idf, blocks[:2], strict=True):
            counts = CountVectorizer.transform(vectorizer, texts).tocsr()
            values = (np.log(counts.data.astype(np.float32)) + 1.0) * idf[counts.indices]
            rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=counts.shape[0]))
            values = values / np.where(norms > 0, norms, 1.0)[rows]
            scores = block[:, counts.indices] * values  # (labels, nonzeros)
            # Summed row by row: for the one message a turn scores this is about half the cost of
            # scipy's sparse product (0.15 against 0.28 ms a message, measured 2026-12-05).
            for row in range(counts.shape[0]):
                total[row] += scores[:, counts.indptr[row] : counts.indptr[row + 1]].sum(axis=1)
        return total

    def arrays(self) -> Dict[str, np.ndarray]:
        arrays = {"embedding_weight": np.array(self.embedding_weight)}
        for name, vectorizer in (("words", self.words), ("chars", self.chars)):
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            arrays[f"{name}_terms"] = np.array(terms, dtype=str)
            arrays[f"{name}_idf"] = vectorizer.idf_.astype(np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> "TextFeatures":
        features = cls(float(arrays["embedding_weight"]))
        for name, vectorizer in (("words", features.words), ("chars", features.chars)):
            vectorizer.vocabulary_ = {str(term): i for i, term in enumerate(arrays[f"{name}_terms"])}
            vectorizer.idf_ = arrays[f"{name}_idf"].astype(np.float64)
        return features


class RiskScorer:
    """The trained classifier as plain arrays (no pickle in the model file): scores texts."""

    def __init__(
        self, features: TextFeatures, coef: np.ndarray, intercept: np.ndarray, labels: Sequence[str]
    ):
        if list(labels)[0] != risk_data.CALM or coef.shape[0] != len(labels):
            raise ValueError("risk model weights do not match their labels")
        self.features = features
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.labels = list(labels)

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        return _softmax(self.features.logits(texts, vectors, self.coef) + self.intercept)

    def risk(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """P(not calm) per text."""
        return 1.0 - self.probabilities(texts, vectors)[:, 0]

    def judge(self, texts: Sequence[str], vectors: np.ndarray) -> Dict[str, Any]:
        """The riskiest text's score and category."""
        probabilities = self.probabilities(texts, vectors)
        risks = 1.0 - probabilities[:, 0]
        worst = int(np.argmax(risks))
        category = self.labels[1 + int(np.argmax(probabilities[worst, 1:]))]
        return {"score": round(float(risks[worst]), 4), "category": category, "chunks": int(len(texts))}

    def arrays(self) -> Dict[str, np.ndarray]:
        return {
            **self.features.arrays(),
            "coef": self.coef,
            "intercept": self.intercept,
            "labels": np.array(self.labels, dtype=str),
        }

    @classmethod
    def from_arrays(cls, arrays) -> "RiskScorer":
        return cls(
            TextFeatures.from_arrays(arrays),
            arrays["coef"],
            arrays["intercept"],
            [str(x) for x in arrays["labels"]],
        )


def fit(
    texts: Sequence[str], vectors: np.ndarray, labels: Sequence[str], config: Dict[str, Any]
) -> RiskScorer:
    from sklearn.linear_model import LogisticRegression

    features = TextFeatures(config["embedding_weight"]).fit(texts)
    order = list(risk_data.LABELS)
    y = np.array([order.index(label) for label in labels])
    model = LogisticRegression(C=float(config["C"]), max_iter=3000, class_weight=config["class_weight"])
    model.fit(features.transform(texts, vectors), y)
    width = model.coef_.shape[1]
    coef = np.zeros((len(order), width), dtype=np.float32)
    intercept = np.full(len(order), -1e4, dtype=np.float32)  # a label with no examples is never predicted
    for row, cls in enumerate(model.classes_):
        coef[cls], intercept[cls] = model.coef_[row], model.intercept_[row]
    return RiskScorer(features, coef, intercept, order)


def training_set(
    examples: Sequence[risk_data.Example], encoder, nlu_calm: Sequence[str] = ()
) -> tuple[List[str], np.ndarray, List[str], List[tuple[int, List[str], np.ndarray]]]:
    """Embeddings and labels for training, and the chunk embeddings of long crisis posts.

    Every example is embedded whole (the encoder truncates at 256 wordpieces). A long calm example
    also contributes each of its chunks as calm; a long crisis example's chunks are returned apart,
    for the second pass that adds its riskiest chunk (see train)."""
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    texts += list(nlu_calm)
    labels += [risk_data.CALM] * len(nlu_calm)
    vectors = [encoder.encode(texts)]
    extra_texts: List[str] = []
    crisis_chunks: List[tuple[int, List[str], np.ndarray]] = []
    for index, example in enumerate(examples):
        pieces = encoder.chunks(example.text)
        if len(pieces) < 2:
            continue
        chunk_vectors = encoder.encode(pieces)
        if example.label == risk_data.CALM:
            vectors.append(chunk_vectors)
            extra_texts += pieces
        else:
            crisis_chunks.append((index, pieces, chunk_vectors))
    return (
        texts + extra_texts,
        np.vstack(vectors),
        labels + [risk_data.CALM] * len(extra_texts),
        crisis_chunks,
    )


def train_scorer(
    examples: Sequence[risk_data.Example], encoder, nlu_calm: Sequence[str], config: Dict[str, Any]
) -> tuple[RiskScorer, List[str]]:
    """The whole training, shared by `rasa train` and scripts/crisis_model_cv.py: a first model, then
    each long crisis post's riskiest chunk (by that model) added with the post's label, and the final
    model fitted on it all. Returns the model and the labels it was fitted on."""
    texts, vectors, labels, crisis_chunks = training_set(examples, encoder, nlu_calm)
    scorer = fit(texts, vectors, labels, config)
    if not crisis_chunks:
        return scorer, labels
    riskiest = []
    for index, pieces, chunk_vectors in crisis_chunks:
        worst = int(np.argmax(scorer.risk(pieces, chunk_vectors)))
        texts.append(pieces[worst])
        riskiest.append(chunk_vectors[worst : worst + 1])
        labels.append(examples[index].label)
    return fit(texts, np.vstack([vectors, *riskiest]), labels, config), labels


def pattern_matched(texts: Sequence[str], labels: Sequence[str], judge) -> tuple[List[str], List[str]]:
    """The texts (and their labels) in which a reviewed pattern finds crisis language."""
    kept = [(t, label) for t, label in zip(texts, labels, strict=True) if judge.detect(t) is not None]
    return [t for t, _ in kept], [label for _, label in kept]


def train_verifier(
    examples: Sequence[risk_data.Example],
    encoder,
    nlu_calm: Sequence[str],
    judge,
    config: Dict[str, Any],
) -> Optional[RiskScorer]:
    """The pattern verifier (module docstring): fitted on the pattern-matched training messages only;
    None when they do not hold both crisis and calm ones."""
    texts, labels = pattern_matched(
        [e.text for e in examples] + list(nlu_calm),
        [e.label for e in examples] + [risk_data.CALM] * len(nlu_calm),
        judge,
    )
    if risk_data.CALM not in labels or all(label == risk_data.CALM for label in labels):
        return None
    settings = {
        "C": config.get("verifier_C", 10.0),
        "class_weight": config.get("class_weight", "balanced"),
        "embedding_weight": config.get("embedding_weight", 1.0),
    }
    return fit(texts, encoder.encode(texts), labels, settings)


class TrainingEncoder:
    """The encoder with every vector kept for the length of one training.

    Why: the process-wide encoder keeps 4,096 vectors (HAVEN_ENCODER_CACHE_SIZE), and training encodes
    about 15,000 texts, so the pattern verifier's texts (a subset, about 3,500) were encoded a second time:
    15 of the 190 seconds of a full `rasa train` (measured 2026-12-06). scripts/crisis_model_cv.py keeps
    every vector the same way (its own encoder with a large cache), so training and cross-validation read
    the same vectors."""

    def __init__(self, encoder) -> None:
        self._encoder = encoder
        self._kept: Dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._kept]
        if missing:
            self._kept.update(zip(missing, self._encoder.encode(missing), strict=True))
        if not texts:
            from haven.encoder import DIM

            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._kept[text] for text in texts])

    def chunks(self, text: str) -> List[str]:
        return self._encoder.chunks(text)


_BLAS: Any = None


def _one_blas_thread():
    """A context that runs BLAS on one thread (threadpoolctl, which scikit-learn installs)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController().select(user_api="blas")
    return _BLAS.limit(limits=1)


class Neighbours:
    """The nearest-neighbour margin's two banks of training examples (see the module docstring).

    With a `basis` (384 x d, orthonormal columns: the banks' own top right singular vectors, uncentred,
    fit at training), the banks are kept projected on it and each message vector is projected before the
    product: a cosine becomes the dot product of the projections, which keeps most of each vector (the
    part the banks share) for a third of the memory read per message. Cross-validated by writer on
    2026-12-08, 128 dimensions kept the margin's catches (recall 4,381 -> 4,379 of 4,532, calm
    check-ins within budget at a margin of 0.06) for a third of its CPU (docs/crisis-detection.md)."""

    def __init__(
        self, crisis: np.ndarray, calm: np.ndarray, k: int = 5, basis: Optional[np.ndarray] = None
    ) -> None:
        self.crisis = np.ascontiguousarray(crisis, dtype=np.float32)
        self.calm = np.ascontiguousarray(calm, dtype=np.float32)
        self.k = int(k)
        self.basis = None if basis is None else np.ascontiguousarray(basis, dtype=np.float32)

    @classmethod
    def from_examples(
        cls,
        encoder,
        examples: Sequence[risk_data.Example],
        calm_texts: Sequence[str],
        k: int = 5,
        dims: Optional[int] = None,
    ) -> "Neighbours":
        """Every crisis example, and every calm one with the NLU's ordinary questions, whole texts;
        with `dims`, both banks projected on their top `dims` right singular vectors."""
        crisis = encoder.encode([e.text for e in examples if e.label != risk_data.CALM])
        calm = encoder.encode([e.text for e in examples if e.label == risk_data.CALM] + list(calm_texts))
        if not dims or dims >= crisis.shape[1]:
            return cls(crisis, calm, k)
        _, _, rows = np.linalg.svd(np.vstack([crisis, calm]).astype(np.float32), full_matrices=False)
        basis = rows[: int(dims)].T
        return cls(crisis @ basis, calm @ basis, k, basis)

    def _nearest(self, vectors: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
        similarities = vectors @ bank.T
        k = max(1, min(k, bank.shape[0]))
        top = np.partition(similarities, similarities.shape[1] - k, axis=1)[:, -k:]
        return top.mean(axis=1)

    def margins(self, vectors: np.ndarray, k: Optional[int] = None) -> np.ndarray:
        """One margin per vector (chunk): mean cosine of the k nearest crisis examples minus calm.

        One BLAS thread: a message's product with the banks is memory-bound, and OpenBLAS's second
        thread spins after it; measured 2026-12-08 on the full banks (about 14,000 x 384), 4.2 ms of CPU
        per message with two threads, 2.0 ms with one, for 0.6 ms more wall time
        (docs/crisis-detection.md)."""
        width = self.crisis.shape[1] if self.basis is None else self.basis.shape[0]
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, width)
        k = self.k if k is None else k
        with _one_blas_thread():
            if self.basis is not None:
                vectors = vectors @ self.basis
            return self._nearest(vectors, self.crisis, k) - self._nearest(vectors, self.calm, k)

    def margin(self, vectors: np.ndarray) -> float:
        """A message's margin: its highest chunk's."""
        return float(np.max(self.margins(vectors))) if len(vectors) else 0.0

    def arrays(self) -> Dict[str, np.ndarray]:
        stored = {
            "crisis": self.crisis.astype(np.float16),
            "calm": self.calm.astype(np.float16),
            "k": np.array(self.k),
        }
        if self.basis is not None:
            stored["basis"] = self.basis  # float32: 384 x d, small, and every message passes through it
        return stored

    @classmethod
    def from_arrays(cls, arrays) -> "Neighbours":
        basis = arrays["basis"] if "basis" in arrays else None
        return cls(arrays["crisis"], arrays["calm"], int(arrays["k"]), basis)


def score_text(
    scorer: RiskScorer,
    encoder,
    text: str,
    neighbours: Optional[Neighbours] = None,
    neighbours_min_score: float = 0.0,
) -> Dict[str, Any]:
    """A message as the server reads it: its chunks scored, the riskiest counts; with `neighbours`, the
    nearest-neighbour margin of the same chunks too, when the score reaches `neighbours_min_score`
    (below it the margin is not computed: cross-validated by writer, no message the regression scored
    under 0.001 had a margin that gave it a check-in, and half the assistant's ordinary questions score
    under it; docs/crisis-detection.md, 2026-12-08)."""
    pieces = encoder.chunks(text)
    vectors = encoder.encode(pieces)
    found = scorer.judge(pieces, vectors)
    if neighbours is not None and found["score"] >= neighbours_min_score:
        found["neighbour_margin"] = round(neighbours.margin(vectors), 4)
    return found


def nlu_examples(
    training_data: TrainingData, known: Sequence[risk_data.Example]
) -> tuple[List[str], List[str]]:
    """The Rasa NLU examples: (calm ones, crisis ones), those already in data/crisis left out."""
    seen = {risk_data.key(e.text) for e in known}
    calm, crisis = [], []
    for message in training_data.intent_examples:
        text = message.get(TEXT)
        if isinstance(text, str) and text.strip() and risk_data.key(text) not in seen:
            seen.add(risk_data.key(text))
            (crisis if message.get(INTENT) in NOT_CALM_INTENTS else calm).append(text)
    return calm, crisis


def categorised(texts: Sequence[str], patterns: Path) -> List[risk_data.Example]:
    """Crisis examples without a category get the reviewed patterns' (suicide when none matches)."""
    from nlu_components.crisis.judgement import CrisisJudge

    judge = CrisisJudge.load(patterns)
    out = []
    for text in texts:
        found = judge.detect(text)
        category, subject = (found[0], found[1]) if found else ("suicide", "self")
        out.append(risk_data.Example(text, category, subject, "data/nlu"))
    return out


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CrisisRiskModel(GraphComponent):
    """Scores each message's crisis risk on sentence embeddings (see the module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # folder of hand-written training files (nlu_components/crisis/risk_data.py)
            "data": "data/crisis",
            # regularisation and class weights of the logistic regression (chosen by cross-validation,
            # docs/crisis-detection.md)
            "C": 10.0,
            "class_weight": "balanced",
            # the sentence embedding's weight beside the n-grams' (each part has unit length)
            "embedding_weight": 1.0,
            # Rasa NLU examples of every intent but `crisis` train as calm: the assistant's own traffic
            "nlu_examples_as_calm": True,
            # ... and those of `crisis` as crisis, categorised by the reviewed patterns (suicide when
            # none matches): the hand-written data says it the indirect way, these the plain way
            # ("I'm going to commit suicide"), and a model that never saw the plain way scored it calm
            "nlu_crisis_examples": True,
            "patterns": "safety/crisis_patterns",
            # the pattern verifier's regularisation (cross-validated by writer); False: no verifier
            "verifier": True,
            "verifier_C": 10.0,
            # the nearest-neighbour banks (Neighbours) and their k; False: none, no margin
            "neighbours": True,
            "neighbours_k": 5,
            # the banks projected on this many dimensions (None: the encoder's 384)
            "neighbours_dims": None,
            # the margin computed only for messages the regression scores at least this
            "neighbours_min_score": 0.0,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The training files are read by this component, not given by the graph: their contents, the
        encoder's pinned weights and the training code itself (Rasa's cache key knows only the config
        and the NLU data) enter Rasa's cache key, so editing any of them retrains."""
        from haven.encoder import pins

        digest = hashlib.sha256()
        folder = resolve_path(str(config.get("data", "data/crisis")))
        for path in risk_data.files(folder) if folder.is_dir() else []:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        patterns = resolve_path(str(config.get("patterns", "safety/crisis_patterns")))
        for path in sorted(patterns.glob("*.yml")) if patterns.is_dir() else []:
            digest.update(path.read_bytes())  # they categorise the NLU crisis examples
        digest.update(pins.fingerprint().encode())
        for module in sorted(TRAINING_CODE.glob("*.py")):  # how the examples become a model
            digest.update(module.name.encode())
            digest.update(module.read_bytes())
        return digest.hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        scorer: Optional[RiskScorer] = None,
        verifier: Optional[RiskScorer] = None,
        neighbours: Optional[Neighbours] = None,
    ) -> None:
        self.config = config
        self._storage = model_storage
        self._resource = resource
        self.scorer = scorer
        self.verifier = verifier
        self.neighbours = neighbours

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisRiskModel":
        return cls(config, model_storage, resource)

    @staticmethod
    def _encoder():
        from haven.encoder import load_encoder

        return load_encoder()

    def train(self, training_data: TrainingData) -> Resource:
        encoder = TrainingEncoder(self._encoder())
        examples = risk_data.load(resolve_path(str(self.config["data"])))
        nlu_calm, nlu_crisis = nlu_examples(training_data, examples)
        if not self.config["nlu_examples_as_calm"]:
            nlu_calm = []
        if self.config["nlu_crisis_examples"] and nlu_crisis:
            examples = examples + categorised(nlu_crisis, resolve_path(str(self.config["patterns"])))
        self.scorer, labels = train_scorer(examples, encoder, nlu_calm, self.config)
        if self.config.get("verifier", True):
            from nlu_components.crisis.judgement import CrisisJudge

            judge = CrisisJudge.load(resolve_path(str(self.config["patterns"])))
            self.verifier = train_verifier(examples, encoder, nlu_calm, judge, self.config)
        if self.config.get("neighbours", True):
            self.neighbours = Neighbours.from_examples(
                encoder,
                examples,
                nlu_calm,
                int(self.config.get("neighbours_k", 5)),
                self.config.get("neighbours_dims"),
            )
        logger.info(
            "Crisis risk model trained on %d examples (%d crisis, %d calm incl. %d NLU examples and chunks).",
            len(labels),
            sum(label != risk_data.CALM for label in labels),
            sum(label == risk_data.CALM for label in labels),
            len(nlu_calm),
        )
        self.persist()
        return self._resource

    def persist(self) -> None:
        if self.scorer is None:
            return
        with self._storage.write_to(self._resource) as directory:
            np.savez_compressed(directory / WEIGHTS_FILE, **self.scorer.arrays())
            if self.verifier is not None:
                np.savez_compressed(directory / VERIFIER_FILE, **self.verifier.arrays())
            if self.neighbours is not None:
                np.savez_compressed(directory / NEIGHBOURS_FILE, **self.neighbours.arrays())

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CrisisRiskModel":
        with model_storage.read_from(resource) as directory:
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as stored:
                scorer = RiskScorer.from_arrays(stored)
            verifier = None
            if (directory / VERIFIER_FILE).exists():
                with np.load(directory / VERIFIER_FILE, allow_pickle=False) as stored:
                    verifier = RiskScorer.from_arrays(stored)
            neighbours = None
            if (directory / NEIGHBOURS_FILE).exists():
                with np.load(directory / NEIGHBOURS_FILE, allow_pickle=False) as stored:
                    neighbours = Neighbours.from_arrays(stored)
        component = cls(config, model_storage, resource, scorer, verifier, neighbours)
        component._encoder()  # load and verify the encoder at start-up, not on the first visitor's message
        return component

    def score(self, text: str) -> Optional[Dict[str, Any]]:
        if self.scorer is None or not isinstance(text, str) or not text.strip():
            return None
        return score_text(
            self.scorer,
            self._encoder(),
            text,
            self.neighbours,
            float(self.config.get("neighbours_min_score", 0.0)),
        )

    def _piece_risk(self, scorer: Optional[RiskScorer], text: str) -> float:
        if scorer is None or not text.strip():
            return 0.0
        return float(scorer.risk([text], self._encoder().encode([text]))[0])

    def score_piece(self, text: str) -> float:
        """P(not calm) of one short piece of text (a sentence), read whole."""
        return self._piece_risk(self.scorer, text)

    def verify_piece(self, text: str) -> float:
        """The pattern verifier's P(not calm) of a text read whole (the encoder reads its first 256
        wordpieces, the n-grams all of it; the detector passes at most the guarded crisis text)."""
        return self._piece_risk(self.verifier, text)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(CRISIS_TEXT_KEY) or message.get(TEXT)
            found = self.score(text if isinstance(text, str) else "")
            if found is not None:
                message.set(RISK_KEY, found, add_to_output=True)
                message.set(SCORER_KEY, self.score_piece)
                if self.verifier is not None:
                    message.set(VERIFIER_KEY, self.verify_piece)
        return messages
