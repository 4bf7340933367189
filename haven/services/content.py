"""The vetted knowledge base: loads content/topics.yml, validates it, and checks it against the article.

Loaded once at action-server start. A malformed file raises ContentError naming the file and entry,
so a bad edit stops start-up instead of sending a visitor a half-broken answer.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import yaml

from haven import settings as settings_module
from haven import yaml_files

TOPICS_FILE = "topics.yml"
ARTICLE_FILE = "article.md"

# The word-overlap rule: a sentence of an answer is "covered" when at least this share of its content
# words (stop words removed, lightly stemmed) occurs in the entry's supporting passages.
MIN_COVERAGE = 0.8

_STOP_WORDS = frozenset(
    """
    a an the and or but nor so yet if then than that this these those there here it its it's is are
    was were be been being am do does did doing done have has had having of to in on at by for from
    with without about as into onto over under again also just very can could would should will shall
    may might must i me my mine myself you your yours yourself we us our they them their he him his she
    her what which who whom whose when where why how all any both each few more most other some such
    own same too only s t re ve ll d m one out up down off now not no
    """.split()
)


class ContentError(ValueError):
    """The content file is malformed; the message names the file and the entry."""


def normalise(text: str) -> str:
    """Fold typography (curly quotes, dashes, ellipses) so comparisons see words, not glyphs."""
    text = unicodedata.normalize("NFKC", text)
    for src, dst in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("—", " "), ("–", " "), ("…", " ")):
        text = text.replace(src, dst)
    return text.lower()


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> List[str]:
    words = re.findall(r"[a-z0-9]+", normalise(text))
    return [_stem(w) for w in words if w not in _STOP_WORDS]


def sentences(text: str) -> List[str]:
    parts = re.split(r"(?<=[.!?])[\"”]?\s+(?=[\"“A-Z])", text.strip())
    return [p.strip() for p in parts if p.strip()]


def coverage(sentence: str, passages: Sequence[str]) -> float:
    """Share of the sentence's content words that occur in the passages (1.0 for a sentence with none)."""
    words = content_words(sentence)
    if not words:
        return 1.0
    supported = set(content_words(" ".join(passages)))
    return sum(1 for w in words if w in supported) / len(words)


def paragraphs(text: str) -> List[str]:
    """The paragraphs of an answer: blocks separated by a blank line, each on one line.

    Answers are written in topics.yml as `|-` blocks with a blank line between paragraphs, so a reply
    arrives as two or three short paragraphs ("\\n\\n" between them: plain text for any client, one
    <p> each in the widget) instead of one wall of text."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def slugify(heading: str) -> str:
    text = normalise(heading)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@dataclass(frozen=True)
class Topic:
    id: str
    section: str
    anchor: str
    title: str
    short: str
    more: str
    reminder: str
    passages: Tuple[str, ...]
    related: Tuple[str, ...]

    def payload(self) -> Dict[str, str]:
        """The contract's machine-readable payload for an answer on this topic."""
        return {"topic": self.id, "section": self.section}


@dataclass(frozen=True)
class KnowledgeBase:
    topics: Mapping[str, Topic]
    framing: Tuple[str, ...]
    labels: Mapping[str, str]
    review: Mapping[str, str]
    article: str
    headings: Tuple[str, ...]

    def get(self, topic_id: Optional[str]) -> Optional[Topic]:
        return self.topics.get(topic_id or "")

    def uncovered_sentences(self, topic: Topic) -> List[Tuple[str, float]]:
        """Answer sentences that are neither approved framing nor covered by the topic's passages."""
        framing = {normalise(f).strip() for f in self.framing}
        found = []
        for field_name in ("short", "more", "reminder"):
            for sentence in sentences(getattr(topic, field_name)):
                if normalise(sentence).strip() in framing:
                    continue
                score = coverage(sentence, topic.passages)
                if score < MIN_COVERAGE:
                    found.append((sentence, score))
        return found

    def missing_passages(self, topic: Topic) -> List[str]:
        """Passages not found word for word in the article (bold markers aside)."""
        plain = self.article.replace("**", "")
        return [p for p in topic.passages if p not in plain]


REQUIRED_LABELS = (
    "tell_me_more", "book", "source_prefix", "something_else", "did_you_mean", "help_intro", "repeat_intro",
    "none_of_these", "leave_message", "what_i_can_help_with", "personal_out_of_scope", "personal_unsure",
)  # fmt: skip
_TOPIC_TEXT_FIELDS = ("section", "anchor", "title", "short", "more", "reminder")
_ANSWER_FIELDS = ("short", "more", "reminder")
# Short answers (issue 13.2): a reply is read on a phone, often by someone who is upset.
MAX_PARAGRAPHS = 3
MAX_PARAGRAPH_WORDS = 60


def _require_text(where: str, data: Mapping[str, Any], key: str, allow_empty: bool = False) -> str:
    if key not in data:
        raise ContentError(f"{where}: '{key}' is missing")
    value = data[key]
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ContentError(f"{where}: '{key}' must be {'text' if allow_empty else 'non-empty text'}")
    return value.strip()


def _parse_topic(where: str, topic_id: str, data: Any, headings: Sequence[str]) -> Topic:
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: the entry must be a mapping of fields")
    unknown = set(data) - set(_TOPIC_TEXT_FIELDS) - {"passages", "related"}
    if unknown:
        raise ContentError(f"{where}: unknown field(s) {sorted(unknown)}")
    texts = {k: _require_text(where, data, k, allow_empty=(k == "section")) for k in _TOPIC_TEXT_FIELDS}
    texts.update({k: "\n\n".join(paragraphs(texts[k])) for k in _ANSWER_FIELDS})
    for key in _ANSWER_FIELDS:
        blocks = paragraphs(texts[key])
        if len(blocks) > MAX_PARAGRAPHS:
            raise ContentError(
                f"{where}: {key!r} must be at most {MAX_PARAGRAPHS} paragraphs, found {len(blocks)}"
            )
        long = [len(b.split()) for b in blocks if len(b.split()) > MAX_PARAGRAPH_WORDS]
        if long:
            raise ContentError(
                f"{where}: {key!r} has a paragraph of {long[0]} words (at most {MAX_PARAGRAPH_WORDS}): "
                "split it at a blank line"
            )
    if texts["section"] and texts["section"] not in headings:
        raise ContentError(f"{where}: section {texts['section']!r} is not a heading of the article")
    count = len(sentences(texts["short"]))
    if not 1 <= count <= 4:
        raise ContentError(f"{where}: 'short' must be 1 to 4 sentences, found {count}")
    passages = data.get("passages")
    if not isinstance(passages, list) or not passages or not all(isinstance(p, str) and p for p in passages):
        raise ContentError(f"{where}: 'passages' must be a non-empty list of quoted article text")
    related = data.get("related", [])
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        raise ContentError(f"{where}: 'related' must be a list of topic ids")
    return Topic(id=topic_id, passages=tuple(passages), related=tuple(related), **texts)


def article_headings(article: str) -> Tuple[str, ...]:
    return tuple(m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", article, flags=re.MULTILINE))


@functools.lru_cache(maxsize=1)
def topic_ids() -> Tuple[str, ...]:
    """The article topics' ids, in content/topics.yml's order; each is also the NLU intent that asks for
    it (data/nlu), so the actions, the FAQ and the evaluation take the list from here. Read from the
    code's own content folder, not HAVEN_CONTENT_DIR: the intents are in the model trained from it."""
    raw = yaml_files.read(settings_module.ROOT / "content" / TOPICS_FILE)
    return tuple(str(topic_id) for topic_id in raw["topics"])


def load(content_dir: Optional[Path] = None) -> KnowledgeBase:
    content_dir = Path(content_dir or settings_module.load().content_dir)
    path = content_dir / TOPICS_FILE
    try:
        article = (content_dir / ARTICLE_FILE).read_text(encoding="utf-8")
        raw = yaml_files.read(path)
    except (OSError, yaml.YAMLError) as error:
        raise ContentError(f"{path}: cannot be read: {error}") from error
    if not isinstance(raw, Mapping) or not isinstance(raw.get("topics"), Mapping) or not raw["topics"]:
        raise ContentError(f"{path}: must have a non-empty 'topics' mapping")
    review = raw.get("review")
    if not isinstance(review, Mapping) or not all(review.get(k) for k in ("reviewed_by", "date", "version")):
        raise ContentError(f"{path}: 'review' needs reviewed_by, date and version")
    headings = article_headings(article)
    topics = {
        str(topic_id): _parse_topic(f"{path}: topic '{topic_id}'", str(topic_id), data, headings)
        for topic_id, data in raw["topics"].items()
    }
    for topic in topics.values():
        unknown = [r for r in topic.related if r not in topics]
        if unknown:
            raise ContentError(f"{path}: topic '{topic.id}': related topic(s) {unknown} have no entry")
    labels = raw.get("labels", {})
    if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
        raise ContentError(f"{path}: 'labels' must map names to text")
    missing_labels = [name for name in REQUIRED_LABELS if not labels.get(name)]
    if missing_labels:
        raise ContentError(f"{path}: 'labels' is missing {missing_labels}")
    framing = raw.get("framing", [])
    if not isinstance(framing, list) or not all(isinstance(f, str) for f in framing):
        raise ContentError(f"{path}: 'framing' must be a list of sentences")
    return KnowledgeBase(
        topics=topics,
        framing=tuple(framing),
        labels=dict(labels),
        review={k: str(v) for k, v in review.items()},
        article=article,
        headings=headings,
    )


PERSONAL_WORDS_FILE = "personal_words.yml"
_WORD = re.compile(r"[a-z][a-z'’-]*")


@lru_cache(maxsize=1)
def personal_words() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """content/personal_words.yml: (first-person words, relationship words)."""
    path = Path(settings_module.load().content_dir) / PERSONAL_WORDS_FILE
    data = yaml_files.read(path)
    return frozenset(map(str, data["first_person"])), frozenset(map(str, data["relationship"]))


def is_personal(text: str) -> bool:
    """A first-person word and a relationship word: the visitor asking about their own relationship
    (actions/out_of_scope.py: such a question no topic answers gets the ways to a person)."""
    words = {w.replace("’", "'") for w in _WORD.findall((text or "").lower())}
    words |= {w[:-2] for w in words if w.endswith("'s")}  # "my partner's phone": partner
    first_person, relationship = personal_words()
    return bool(words & first_person) and bool(words & relationship)
