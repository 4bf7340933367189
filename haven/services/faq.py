"""The practice's FAQ (content/faq.yml): loaded, validated, matched by meaning, reloaded on change.

Why by meaning and not by a trained intent: the therapist adds and rewords entries herself (the staff
FAQ page), and a change must not wait for `rasa train`. The verified sentence encoder (haven/encoder,
all-MiniLM-L6-v2) turns each entry's example questions into vectors, and a logistic regression over
them, with one more class for "not the FAQ" (data/nlu's out-of-scope and article-topic examples and the
file's `not_faq` questions), is fitted when the file is loaded (about 0.1 s). The team's extra examples
(data/faq/*.yml: more ways to ask each entry, more look-alikes) join both, so the therapist's file stays
short. An entry scores its probability; below the threshold, or when "not the FAQ" is likelier, nothing
is answered; when the two best entries are within MARGIN "Did you mean" offers both. Chosen on
tests/nlu/faq_dev.yml and re-checked on faq_tune.yml (docs/faq.md).

Why a placeholder is never said: an entry with `status: to_fill` holds the therapist's to-do, not an
answer. The loader keeps its text only for the staff page; `FaqEntry.reply_text` never returns it.

Why the file is re-read on a stat check: the action server and the website are separate processes;
the website writes the file (atomically), the action server sees the new mtime on the next question
and reloads it. A file that fails validation is refused and the last good one stays in use, so a bad
edit never takes answers away from visitors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import yaml

from haven import settings as settings_module
from haven import yaml_files
from haven.services import content

log = logging.getLogger(__name__)

FAQ_FILE = "faq.yml"
STATUSES = ("approved", "to_fill")
MIN_QUESTIONS, MAX_QUESTIONS = 8, 15
MAX_ANSWER_CHARS = 2000
REQUIRED_LABELS = ("to_fill", "did_you_mean", "none_of_these", "book", "leave_message")
_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_PLACEHOLDERS = ("{conversation_days}", "{handled_days}")

# Chosen on tests/nlu/faq_dev.yml only (docs/faq.md). Scores are the classifier's probabilities
# (Matcher). Two thresholds, because the evidence differs: when the NLU classifier already says the
# message is a question about the practice (intent practice_faq), the matcher only has to pick the entry
# (and the "not the FAQ" class may still veto it), so INTENT_THRESHOLD is low; when it is consulted from
# the out-of-scope or "Did you mean" fallback, the matcher alone must say it is an FAQ question, so
# FALLBACK_THRESHOLD is higher. When the runner-up is within MARGIN of the best, "Did you mean" offers
# both. C: the regression's inverse regularisation.
C = 100.0
INTENT_THRESHOLD = 0.0
FALLBACK_THRESHOLD = 0.5
MARGIN = 0.1
THRESHOLD = INTENT_THRESHOLD


class FaqError(ValueError):
    """content/faq.yml is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class FaqEntry:
    id: str
    title: str
    status: str
    questions: Tuple[str, ...]
    answer: str
    link: str = ""
    approved_by: str = ""
    approved_on: str = ""
    changed_by: str = ""
    changed_on: str = ""

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    def payload(self) -> Dict[str, str]:
        """The contract's machine-readable payload for this entry's reply."""
        return {"faq": self.id, "status": self.status}

    def reply_text(
        self, labels: Mapping[str, str], settings: Optional[settings_module.Settings] = None
    ) -> str:
        """What Haven says: the approved answer, or the honest "I don't have that" (never a placeholder)."""
        if not self.approved:
            return " ".join(labels["to_fill"].replace("{title}", self.title).split())
        settings = settings or settings_module.load()
        text = self.answer.replace("{conversation_days}", str(settings.retain_conversation_days))
        text = text.replace("{handled_days}", str(settings.retain_handled_days))
        text = " ".join(text.split())
        return f"{text} {self.link}" if self.link else text


@dataclass(frozen=True)
class Faq:
    entries: Tuple[FaqEntry, ...]
    labels: Mapping[str, str]
    review: Mapping[str, str]
    # Questions that sound like the practice's but are about something else ("when does the bank open"):
    # the matcher's "not the FAQ" class learns from them beside data/nlu's out-of-scope examples.
    not_faq: Tuple[str, ...] = ()

    def get(self, entry_id: Optional[str]) -> Optional[FaqEntry]:
        return next((e for e in self.entries if e.id == entry_id), None)


def faq_path(content_dir: Optional[Path] = None) -> Path:
    return Path(content_dir or settings_module.load().content_dir) / FAQ_FILE


def _text(where: str, data: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise FaqError(f"{where}: '{key}' must be text")
    value = str(value).strip()
    if required and not value:
        raise FaqError(f"{where}: '{key}' is missing or empty")
    return value


def _entry(where: str, data: Any) -> FaqEntry:
    if not isinstance(data, Mapping):
        raise FaqError(f"{where}: an entry must be a mapping of fields")
    known = {"id", "title", "status", "questions", "answer", "link", "approved_by", "approved_on",
             "changed_by", "changed_on"}  # fmt: skip
    unknown = set(map(str, data)) - known
    if unknown:
        raise FaqError(f"{where}: unknown field(s) {sorted(unknown)}")
    entry_id = _text(where, data, "id")
    if not _ID.match(entry_id):
        raise FaqError(f"{where}: id {entry_id!r} must be lower-case letters, digits and _")
    where = f"{where} ('{entry_id}')"
    status = _text(where, data, "status")
    if status not in STATUSES:
        raise FaqError(f"{where}: status must be one of {', '.join(STATUSES)}, got {status!r}")
    questions = data.get("questions")
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise FaqError(f"{where}: 'questions' must be a list of example questions")
    cleaned = tuple(dict.fromkeys(" ".join(q.split()) for q in questions))
    if not MIN_QUESTIONS <= len(cleaned) <= MAX_QUESTIONS:
        raise FaqError(
            f"{where}: needs {MIN_QUESTIONS}-{MAX_QUESTIONS} different questions, has {len(cleaned)}"
        )
    answer = _text(where, data, "answer")
    if len(answer) > MAX_ANSWER_CHARS:
        raise FaqError(f"{where}: the answer is longer than {MAX_ANSWER_CHARS} characters")
    link = _text(where, data, "link", required=False)
    if link and not re.match(r"^https?://\S+$", link):
        raise FaqError(f"{where}: link must be an http(s) address")
    entry = FaqEntry(
        id=entry_id,
        title=_text(where, data, "title"),
        status=status,
        questions=cleaned,
        answer=answer,
        link=link,
        approved_by=_text(where, data, "approved_by", required=False),
        approved_on=_text(where, data, "approved_on", required=False),
        changed_by=_text(where, data, "changed_by", required=False),
        changed_on=_text(where, data, "changed_on", required=False),
    )
    if entry.approved and not (entry.approved_by and entry.approved_on):
        raise FaqError(f"{where}: an approved entry needs approved_by and approved_on")
    if entry.approved and answer.upper().startswith("TO FILL"):
        raise FaqError(f"{where}: an approved answer cannot be a placeholder")
    return entry


def parse(raw: Any, where: str = FAQ_FILE) -> Faq:
    """Validate the loaded YAML; FaqError names the file and the entry."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("entries"), list) or not raw["entries"]:
        raise FaqError(f"{where}: must have a non-empty 'entries' list")
    entries = tuple(_entry(f"{where}: entry {n + 1}", data) for n, data in enumerate(raw["entries"]))
    seen: Dict[str, int] = {}
    for entry in entries:
        if entry.id in seen:
            raise FaqError(f"{where}: id '{entry.id}' is used twice")
        seen[entry.id] = 1
    owners: Dict[str, str] = {}
    for entry in entries:
        for question in entry.questions:
            key = question.lower()
            if key in owners and owners[key] != entry.id:
                raise FaqError(
                    f"{where}: {question!r} is an example of both '{owners[key]}' and '{entry.id}'"
                )
            owners[key] = entry.id
    labels = raw.get("labels")
    if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
        raise FaqError(f"{where}: 'labels' must map names to text")
    missing = [name for name in REQUIRED_LABELS if not labels.get(name)]
    if missing:
        raise FaqError(f"{where}: 'labels' is missing {missing}")
    review = raw.get("review") or {}
    if not isinstance(review, Mapping):
        raise FaqError(f"{where}: 'review' must be a mapping")
    not_faq = raw.get("not_faq") or []
    if not isinstance(not_faq, list) or not all(isinstance(q, str) and q.strip() for q in not_faq):
        raise FaqError(f"{where}: 'not_faq' must be a list of questions")
    return Faq(
        entries=entries,
        labels=dict(labels),
        review={k: str(v) for k, v in review.items()},
        not_faq=tuple(dict.fromkeys(" ".join(q.split()) for q in not_faq)),
    )


def load(path: Optional[Path] = None) -> Faq:
    path = Path(path or faq_path())
    try:
        raw = yaml_files.read(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise FaqError(f"{path}: cannot be read: {error.__class__.__name__}") from error
    return parse(raw, str(path))


# --------------------------------------------------------------------------- writing (staff page)


def _entry_dict(entry: FaqEntry) -> Dict[str, Any]:
    data: Dict[str, Any] = {"id": entry.id, "title": entry.title, "status": entry.status}
    for key in ("approved_by", "approved_on", "changed_by", "changed_on"):
        if getattr(entry, key):
            data[key] = getattr(entry, key)
    data["questions"] = list(entry.questions)
    data["answer"] = entry.answer
    if entry.link:
        data["link"] = entry.link
    return data


def dump(faq: Faq) -> str:
    header = (
        "# The practice's own FAQ (see docs/faq.md). Written by the staff FAQ page; edits by hand work too.\n"
        "# `status: approved` answers are said as written; `to_fill` answers are placeholders never shown.\n"
    )
    data = {
        "review": dict(faq.review),
        "labels": dict(faq.labels),
        "entries": [_entry_dict(e) for e in faq.entries],
    }
    if faq.not_faq:
        data["not_faq"] = list(faq.not_faq)
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def save(faq: Faq, path: Optional[Path] = None) -> None:
    """Validate, then write atomically (a temporary file in the same folder, fsync, rename): a reader
    sees the old file or the new one, never half of one."""
    path = Path(path or faq_path())
    text = dump(faq)
    parse(yaml_files.loads(text), str(path))  # never write what the loader would refuse
    fd, tmp = tempfile.mkstemp(prefix=".faq-", suffix=".yml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def with_entry(faq: Faq, entry: FaqEntry) -> Faq:
    """The FAQ with `entry` replacing the entry of the same id (or added at the end)."""
    entries = [entry if e.id == entry.id else e for e in faq.entries]
    if not any(e.id == entry.id for e in faq.entries):
        entries.append(entry)
    return replace(faq, entries=tuple(entries))


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Match:
    """What a question gets: `kind` is "answer" (entry), "did_you_mean" (entry and runner_up) or
    "none" (entry is then the nearest one, for the staff page's counts)."""

    kind: str
    entry: Optional[FaqEntry]
    score: float
    runner_up: Optional[FaqEntry] = None
    runner_up_score: float = 0.0


def _fit(vectors: np.ndarray, targets: np.ndarray) -> Tuple[Any, Dict[int, int]]:
    """The matcher's logistic regression and its column map: predict_proba's columns follow the
    sorted classes, mapped here back to class numbers (entry order, then the extra classes)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=1000).fit(vectors, targets)
    return model, {int(c): n for n, c in enumerate(model.classes_)}


class Matcher:
    """A small classifier over the encoder's sentence embeddings: one class per entry (its example
    questions) and one "not the FAQ" class (data/nlu's out-of-scope and article-topic examples, and the
    file's `not_faq` questions). Logistic regression, fitted when the file is loaded (about 0.1 s; the
    other class's vectors are encoded once per process), so an edit still needs no `rasa train`.

    Why not plain cosine similarity any more: the nearest example cannot say "this is about a post
    office, not her practice"; a class built from everyday questions can, and the regression weighs
    what separates neighbouring entries (hours from session_length) instead of one lucky example."""

    def __init__(self, faq: Faq, encoder: Any = None, *, threshold: float = THRESHOLD,
                 margin: float = MARGIN) -> None:  # fmt: skip
        if encoder is None:
            from haven.encoder import load_encoder

            encoder = load_encoder()
        self.faq = faq
        self.encoder = encoder
        self.threshold, self.margin = threshold, margin
        texts = [q for entry in faq.entries for q in entry.questions]
        labels = [n for n, entry in enumerate(faq.entries) for _ in entry.questions]
        blocks = [encoder.encode(texts)]
        more = _extra_vectors(encoder)
        for n, entry in enumerate(faq.entries):  # the team's extra examples of entries the file still has
            if entry.id in more.entries:
                blocks.append(more.entries[entry.id])
                labels += [n] * len(more.entries[entry.id])
        other = np.vstack([_other_vectors(encoder), more.not_faq])
        own = encoder.encode(list(faq.not_faq)) if faq.not_faq else np.zeros((0, other.shape[1]))
        vectors = np.vstack([*blocks, other, own])
        self._other = len(faq.entries)
        targets = np.array(labels + [self._other] * (len(other) + len(own)))
        self._model, self._columns = _fit(vectors, targets)
        self._training_size = len(targets)
        # The same classifier with the article's consultation questions as one more class, for
        # `beside_topic` only (so `match` is exactly as before); fitted on first use or by `warm`.
        self._beside_training = (vectors, targets)
        self._beside: Optional[Tuple[Any, Dict[int, int]]] = None
        self._beside_lock = threading.Lock()

    def training_size(self) -> int:
        """How many example vectors the classifier was fitted on (all classes)."""
        return self._training_size

    def probabilities(self, text: str) -> Tuple[np.ndarray, float]:
        """(one probability per entry, the "not the FAQ" probability)."""
        row = self._model.predict_proba(self.encoder.encode([text or ""]))[0]
        return self._per_entry(row, self._columns), float(row[self._columns[self._other]])

    def _per_entry(self, row: np.ndarray, columns: Dict[int, int]) -> np.ndarray:
        """One probability per entry, in the file's order, from a predict_proba row (an entry
        with no examples is no class: 0)."""
        return np.array([row[columns[n]] if n in columns else 0.0 for n in range(len(self.faq.entries))])

    def scores(self, text: str) -> np.ndarray:
        """One score per entry (its probability)."""
        return self.probabilities(text)[0]

    def beside_topic(self, text: str, threshold: float = FALLBACK_THRESHOLD) -> Optional[FaqEntry]:
        """The entry that answers a question the NLU read as the article's consultation topic
        (NEIGHBOUR_TOPIC), or None: it must beat the article's consultation questions (a class of their
        own here), "not the FAQ", and `threshold`.

        Why: "what happens after the free call?" is a consultation question to the NLU, and the article's
        answer says what the call is for but not what follows it, which is the practice's FAQ
        (`after_consultation`). In `match` the consultation questions are no class at all (they are the
        FAQ's neighbours, not its negatives), so it scores every consultation question as that entry; with
        them as a class, only the questions about what the article does not say go to an entry. The caller
        gives the article's answer first either way (docs/faq.md)."""
        model, columns = self._beside_model()
        row = model.predict_proba(self.encoder.encode([text or ""]))[0]
        scores = self._per_entry(row, columns)
        best = int(np.argmax(scores))
        rivals = [row[columns[c]] for c in (self._other, self._other + 1) if c in columns]
        if scores[best] < threshold or any(r >= scores[best] for r in rivals):
            return None
        return self.faq.entries[best]

    def warm(self) -> "Matcher":
        """Fit `beside_topic`'s classifier now (about a second) rather than on a visitor's first
        consultation question; the action server calls it before its first request."""
        self._beside_model()
        return self

    def _beside_model(self) -> Tuple[Any, Dict[int, int]]:
        """`beside_topic`'s classifier and its column map, fitted once (thread-safe)."""
        if self._beside is None:
            with self._beside_lock:
                if self._beside is None:
                    vectors, targets = self._beside_training
                    topic = _consultation_vectors(self.encoder)
                    self._beside = _fit(
                        np.vstack([vectors, topic]),
                        np.concatenate([targets, np.full(len(topic), self._other + 1)]),
                    )
        return self._beside

    def match(self, text: str, threshold: Optional[float] = None) -> Match:
        threshold = self.threshold if threshold is None else threshold
        scores, other = self.probabilities(text)
        order = np.argsort(-scores)
        best = self.faq.entries[order[0]]
        best_score = float(scores[order[0]])
        second = self.faq.entries[order[1]] if len(order) > 1 else None
        second_score = float(scores[order[1]]) if len(order) > 1 else 0.0
        if best_score < threshold or other >= best_score:
            return Match("none", best, best_score, second, second_score)
        if second is not None and best_score - second_score < self.margin:
            return Match("did_you_mean", best, best_score, second, second_score)
        return Match("answer", best, best_score, second, second_score)


#: What the FAQ must not take: out-of-scope and the article's topics, all but consultation_info (whose
#: questions about the consultation are the FAQ's neighbours, not its negatives).
_OTHER_INTENTS = ("out_of_scope", *(t for t in content.topic_ids() if t != "consultation_info"))


#: The article topic whose questions neighbour the FAQ's: its answer can be followed by an FAQ entry's
#: (Matcher.beside_topic, actions/explain_topic.py).
NEIGHBOUR_TOPIC = "consultation_info"


def other_examples(nlu_dir: Optional[Path] = None) -> List[str]:
    """data/nlu's out-of-scope and article-topic examples: what the FAQ must not take. Training data
    only (never an evaluation set); read from the code's checkout, not HAVEN_CONTENT_DIR."""
    return nlu_examples(_OTHER_INTENTS, nlu_dir)


def nlu_examples(intents: Sequence[str], nlu_dir: Optional[Path] = None) -> List[str]:
    """data/nlu's examples of `intents`, entity markup removed."""
    folder = Path(nlu_dir or settings_module.ROOT / "data" / "nlu")
    out: List[str] = []
    for path in sorted(folder.glob("*.yml")):
        for block in (yaml_files.read(path) or {}).get("nlu") or []:
            if block.get("intent") in intents:
                for line in str(block.get("examples") or "").splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        out.append(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line[2:]).strip())
    return out


@dataclass(frozen=True)
class ExtraExamples:
    """The team's extra example questions for the matcher (data/faq/*.yml), beside the therapist's own."""

    entries: Dict[str, List[str]]
    not_faq: List[str]


@dataclass(frozen=True)
class _ExtraVectors:
    entries: Dict[str, np.ndarray]
    not_faq: np.ndarray


def extra_examples(folder: Optional[Path] = None, *, for_nlu: bool = False) -> ExtraExamples:
    """data/faq/*.yml: more ways visitors ask each entry's question, and more everyday look-alikes that
    are not about the practice, written by the team (never an evaluation set). Training data for the
    matcher only: the therapist's file stays short enough for her to read, and her answers are unchanged.
    Read from the code's checkout, not HAVEN_CONTENT_DIR; an entry id the FAQ file no longer has is
    skipped by the matcher. `for_nlu`: only the files that also train intent `practice_faq`
    (scripts/build_faq_nlu.py); a file with `train_nlu: false` is the matcher's alone (docs/faq.md)."""
    entries: Dict[str, List[str]] = {}
    not_faq: List[str] = []
    for path in sorted(Path(folder or settings_module.ROOT / "data" / "faq").glob("*.yml")):
        raw = yaml_files.read(path) or {}
        if for_nlu and raw.get("train_nlu") is False:
            continue
        for entry_id, questions in (raw.get("entries") or {}).items():
            entries.setdefault(str(entry_id), []).extend(" ".join(str(q).split()) for q in questions or [])
        not_faq.extend(" ".join(str(q).split()) for q in raw.get("not_faq") or [])
    return ExtraExamples(
        {k: list(dict.fromkeys(v)) for k, v in entries.items()}, list(dict.fromkeys(not_faq))
    )


VECTOR_CACHE = settings_module.ROOT / "build" / "faq-vectors"


def _encode_fixed(encoder: Any, texts: List[str], name: str) -> np.ndarray:
    """The vectors of a fixed set of example texts (data/nlu's, data/faq's), kept on disk across restarts.

    Why: encoding the ~2,000 examples takes about 5 s on two cores, at every action-server start and
    every restart after a crash (the supervisor's "answering again" time). Keyed by the texts and the
    verified encoder's file hashes, so a changed example or model never reads old vectors; only the real
    encoder's vectors are kept. Example questions the team wrote, never visitor text. Any problem reading
    or writing (a read-only checkout, a damaged file) just means encoding again."""
    from haven.encoder.encoder import Encoder

    if not isinstance(encoder, Encoder) or not texts:
        return np.asarray(encoder.encode(texts))
    key = hashlib.sha256(
        "\n".join(
            [*sorted(encoder.hashes.values()), encoder.runtime, str(encoder.max_tokens), *texts]
        ).encode("utf-8")
    ).hexdigest()[:24]
    path = VECTOR_CACHE / f"{name}-{key}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == len(texts) and vectors.dtype == np.float32:
            return vectors
    except (OSError, ValueError):
        pass
    vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
    try:
        VECTOR_CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=VECTOR_CACHE, suffix=".tmp", delete=False) as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(handle.name, path)
        for old in VECTOR_CACHE.glob(f"{name}-*.npy"):  # earlier versions of the same set
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as error:
        log.debug("faq: could not keep the example vectors (%s)", error.__class__.__name__)
    return vectors


# The fixed example sets' vectors, once per process and encoder: (set name, id(encoder)) -> vectors.
# They change only with a deploy; the therapist's own questions are encoded at every (re)load instead.
_fixed_cache: Dict[Tuple[str, int], Any] = {}


def _fixed_vectors(encoder: Any, name: str, build: Callable[[], Any]) -> Any:
    key = (name, id(encoder))
    if key not in _fixed_cache:
        _fixed_cache[key] = build()
    return _fixed_cache[key]


def _extra_vectors(encoder: Any) -> _ExtraVectors:
    """data/faq's examples (ExtraExamples), encoded."""

    def build() -> _ExtraVectors:
        extra = extra_examples()
        entries = {k: _encode_fixed(encoder, v, f"extra-{k}") for k, v in extra.entries.items() if v}
        return _ExtraVectors(entries, _encode_fixed(encoder, extra.not_faq, "extra-not-faq"))

    return _fixed_vectors(encoder, "extra", build)


def _consultation_vectors(encoder: Any) -> np.ndarray:
    """data/nlu's consultation questions (NEIGHBOUR_TOPIC), encoded."""
    return _fixed_vectors(
        encoder,
        "consultation",
        lambda: _encode_fixed(encoder, nlu_examples((NEIGHBOUR_TOPIC,)), "consultation"),
    )


def _other_vectors(encoder: Any) -> np.ndarray:
    """The "not the FAQ" examples of data/nlu (other_examples), encoded."""
    return _fixed_vectors(encoder, "other", lambda: _encode_fixed(encoder, other_examples(), "other"))


class FaqStore:
    """The current FAQ and its matcher, re-read when the file's mtime or size changes.

    `current()` costs one stat() when nothing changed. A changed file that fails validation is logged
    (its error names the entry, never visitor text) and the last good version stays in use."""

    def __init__(self, path: Optional[Path] = None, encoder: Any = None) -> None:
        self.path = Path(path or faq_path())
        self._encoder = encoder
        self._lock = threading.Lock()
        self._stamp: Optional[Tuple[int, int]] = None
        self._matcher: Optional[Matcher] = None
        self.last_error: Optional[str] = None

    def _file_stamp(self) -> Optional[Tuple[int, int]]:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def current(self) -> Matcher:
        stamp = self._file_stamp()
        if self._matcher is not None and stamp == self._stamp:
            return self._matcher
        with self._lock:
            if self._matcher is None or stamp != self._stamp:
                self._reload(stamp)
        assert self._matcher is not None
        return self._matcher

    def reload(self) -> Matcher:
        """Re-read now (the staff page's "Reload"), whatever the stamp says."""
        with self._lock:
            self._reload(self._file_stamp())
        assert self._matcher is not None
        return self._matcher

    def _reload(self, stamp: Optional[Tuple[int, int]]) -> None:
        try:
            faq = load(self.path)
        except FaqError as error:
            if self._matcher is None:
                raise
            self.last_error = str(error)
            self._stamp = stamp  # do not retry a broken file on every question; the next edit will
            log.warning("faq: kept the previous FAQ; the changed file was refused: %s", error)
            return
        self._matcher = Matcher(faq, self._encoder)
        self._stamp = stamp
        self.last_error = None
        log.info(
            "faq: loaded %d entries (%d approved)", len(faq.entries), sum(e.approved for e in faq.entries)
        )


_store: Optional[FaqStore] = None
_store_lock = threading.Lock()


def store() -> FaqStore:
    """The process-wide store of content/faq.yml (HAVEN_CONTENT_DIR)."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                _store = FaqStore()
    return _store


def match(text: str, threshold: Optional[float] = None) -> Match:
    return store().current().match(text, threshold)


def touch(path: Optional[Path] = None) -> None:
    """Make every action server reload the file on its next question (a new mtime)."""
    os.utime(Path(path or faq_path()))


def evaluate_questions(
    matcher: Matcher, cases: Sequence[Tuple[str, Optional[str]]]
) -> List[Tuple[str, Optional[str], Match]]:
    """(text, expected entry id or None) -> (text, expected, match): shared by the evaluation and tests."""
    return [(text, expected, matcher.match(text)) for text, expected in cases]
