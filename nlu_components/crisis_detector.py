"""Crisis-language detector for Haven: a Rasa NLU graph component.

It runs after the intent classifiers on every message. A missed crisis is the worst failure the
product can have, so the check is deterministic, reviewed data (safety/crisis_patterns.yml, read
once at load) rather than a statistical guess alone, and it cannot be outvoted by the classifier:
when a crisis pattern matches, or the classifier's own top intent is already `crisis`, the
message intent becomes `crisis` with confidence 1.0.

Output on a crisis (nothing changes otherwise):
  intent          {"name": "crisis", "confidence": 1.0}, first in intent_ranking
  entities        crisis_category = suicide | self_harm | danger, crisis_subject = self | other
  message "crisis" {"category", "subject", "rule"}, rule = the pattern id, or "classifier"

Priority when several patterns match: the visitor's own risk before someone else's (the visitor
is the person we can reach), then suicide, then danger, then self_harm. Suicide and danger come
before self-harm because they are the immediate threats to life; a stated wish to die comes
before danger because it is the risk most easily buried in a long message about the
relationship, and the crisis reply for it still names emergency services.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Set, Tuple

import rasa.shared.utils.io
import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from haven import safety
from nlu_components.input_guard import CONTACT_INTENT, CRISIS_TEXT_KEY, EMPTY_INTENT, TOO_LONG_INTENT

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis"
FALLBACK_INTENT = "nlu_fallback"
# Intents set over the classifier's by other components; the classifier's own guess comes after them.
NOT_CLASSIFIER_INTENTS = (FALLBACK_INTENT, TOO_LONG_INTENT, EMPTY_INTENT, CONTACT_INTENT)
CATEGORIES = ("suicide", "danger", "self_harm")  # priority order, see module docstring
CLASSIFIER_RULE = "classifier"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Non-ASCII punctuation people type on phones, mapped so "don’t" matches like "don't".
_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "\uff07": "'", "\u00b4": "'"}
# ASCII control characters (except tab/newline/CR) become spaces: same length, same offsets.
_ASCII_CONTROLS = {i: " " for i in list(range(32)) + [127] if chr(i) not in "\t\n\r"}
# "he hit me.he said" -> the tokenizer keeps "me.he" whole; a space fixes that.
_GLUED_SENTENCES = re.compile(r"(?<=[a-z])[.!?,;](?=[a-z])")
# Frequent words never chosen as a pattern's anchor (see CrisisDetector._anchor), for speed only.
_COMMON = set(
    "i me my we us you he she they him her them it this that the a an and or but if so to of in on"
    " at for with from by up down out off away back again now then just really very not never no"
    " do does did be is am are was were been 's 'm 're 'll 'd n't nt m s d ll have has had will"
    " would could should can ca wo might may must want wanna need go going gon na get got feel"
    " know think make take say tell keep let like see all any some more much what how when why"
    " here there one".split()
)
_ANCHOR_ATTRS = ("LOWER", "LEMMA", "NORM", "ORTH", "TEXT")


@dataclass(frozen=True)
class _Rule:
    id: str
    category: str
    subject: str = "auto"  # self | other | auto
    negatable: bool = True
    needs_agent: bool = False
    needs_self: bool = False  # dropped when the nearest subject before it is someone else
    with_any: bool = False  # counts only when one of its `with_any` phrases is in the message
    yields_to: Tuple[str, ...] = ()  # categories ranked before this rule's when they also match


@dataclass(frozen=True)
class _Hit:
    rule: _Rule
    start: int  # token indices in the doc
    end: int
    subject: str
    negated: bool


@lru_cache(maxsize=1)
def _blank_english() -> Language:
    """The component's own tokenizer: blank English plus the lookup lemmatizer when available.

    This is the same pipeline scripts/build_spacy_pipeline.py saves for SpacyNLP, so patterns
    behave identically with or without SpacyNLP in the pipeline.
    """
    nlp = spacy.blank("en")
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
    except Exception:  # spacy-lookups-data missing: LEMMA patterns fall back to the word itself
        logger.warning("CrisisDetector: no lookup lemmatizer; lemmas fall back to lower case.")
        nlp = spacy.blank("en")
    nlp.max_length = 10_000_000
    return nlp


def _normalise(text: str) -> Tuple[str, List[int] | None]:
    """Lower-cases and cleans text; returns it with a map back to original offsets.

    Zero-width and bidi control characters are dropped (they hide words: "ki\u200bll myself"),
    full-width and styled letters are folded (NFKC), curly apostrophes straightened. The map is
    None when offsets are unchanged (the fast path for plain ASCII).
    """
    if text.isascii():
        cleaned = text.translate(_ASCII_CONTROLS).lower()
        if not _GLUED_SENTENCES.search(cleaned):
            return cleaned, None
        chars = list(cleaned)
        origin = list(range(len(text)))
    else:
        chars, origin = [], []
        for i, ch in enumerate(text):
            if ch < "\x80":
                piece = ch if ch in "\t\n\r" or " " <= ch < "\x7f" else " "
            else:
                category = unicodedata.category(ch)
                if category == "Cf":
                    continue
                if category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
                    piece = " "
                else:
                    piece = _APOSTROPHES.get(ch) or unicodedata.normalize("NFKC", ch)
            for out in piece.lower():
                chars.append(out)
                origin.append(i)
    # split glued sentences ("me.he") by inserting a space after the punctuation
    out_chars, out_origin = [], []
    for j, ch in enumerate(chars):
        out_chars.append(ch)
        out_origin.append(origin[j])
        if ch in ".!?,;" and 0 < j < len(chars) - 1 and chars[j - 1].isalpha() and chars[j + 1].isalpha():
            out_chars.append(" ")
            out_origin.append(origin[j])
    return "".join(out_chars), out_origin


def _as_float(value: Any) -> float:
    """A confidence clamped to [0, 1]; NaN when it is not a number at all."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number if number != number else min(1.0, max(0.0, number))


def _resolve(path: str) -> Path:
    """Finds the pattern file relative to the working directory or the project root."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return PROJECT_ROOT / candidate


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CrisisDetector(GraphComponent):
    """Overrides the intent with `crisis` when crisis language is found (see module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """`patterns`: the reviewed YAML file, relative to the working dir or project root."""
        return {
            "patterns": "safety/crisis_patterns.yml",
            # The classifier's own `crisis` intent counts only at or above this confidence: below
            # it, ordinary hurt ("he hurt my feelings again") raised too many false alarms.
            "classifier_threshold": 0.0,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Lists required dependencies."""
        return ["spacy"]

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrisisDetector:
        """Creates the component; patterns are compiled here, once, not per message."""
        from haven import settings as settings_module

        return cls({"default_region": settings_module.load().region, **cls.get_default_config(), **config})

    def __init__(self, config: Dict[str, Any]) -> None:
        """Loads and compiles the patterns. Fails loudly: a detector without data is unsafe."""
        self.component_config = config
        self._nlp = _blank_english()
        self._path = _resolve(config["patterns"])
        spec = rasa.shared.utils.io.read_yaml_file(self._path)
        try:
            self._compile(spec)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"Invalid crisis patterns in '{self._path}': {e}") from e

    # ---------------------------------------------------------------- compiling the data
    def _compile(self, spec: Dict[str, Any]) -> None:
        vocab = self._nlp.vocab
        self._rules: Dict[int, _Rule] = {}
        self._weak: Dict[int, str] = {}
        self._lower_phrases = PhraseMatcher(vocab, attr="LOWER")
        self._lemma_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._weak_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._exception_matcher = Matcher(vocab, validate=True)
        # `with_any` phrases of rules and `unless_any` phrases of exceptions (LEMMA, any inflection)
        self._with_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._unless_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self._unless: Set[str] = set()
        # Token patterns are grouped by anchor (one required token, see _anchor); a group's
        # Matcher runs only when its anchor occurs in the message.
        self._groups: Dict[Any, Matcher] = {}
        self._always: List[Matcher] = []

        for category, body in spec["categories"].items():
            if category not in CATEGORIES:
                raise ValueError(f"unknown category '{category}'")
            for entry in body["patterns"]:
                rule = _Rule(
                    id=str(entry["id"]),
                    category=category,
                    subject=entry.get("subject", "auto"),
                    negatable=bool(entry.get("negatable", True)),
                    needs_agent=bool(entry.get("needs_agent", False)),
                    needs_self=bool(entry.get("needs_self", False)),
                    with_any=bool(entry.get("with_any")),
                    yields_to=tuple(entry.get("yields_to") or ()),
                )
                if any(c not in CATEGORIES for c in rule.yields_to):
                    raise ValueError(f"{rule.id}: yields_to lists an unknown category")
                if rule.subject not in ("self", "other", "auto"):
                    raise ValueError(f"{rule.id}: subject must be self, other or auto")
                rule_key = vocab.strings.add(rule.id)
                if rule_key in self._rules:
                    raise ValueError(f"duplicate pattern id '{rule.id}'")
                self._rules[rule_key] = rule
                for pattern in entry.get("tokens") or []:
                    anchor = self._anchor(pattern)
                    group = anchor if isinstance(anchor, str) else frozenset(anchor or ())
                    if group not in self._groups:
                        self._groups[group] = Matcher(vocab, validate=True)
                        if not group:
                            self._always.append(self._groups[group])
                    self._groups[group].add(rule.id, [pattern])
                if rule.with_any:
                    self._with_phrases.add(f"with.{rule.id}", self._docs(entry["with_any"]))
                if entry.get("phrases"):
                    self._lower_phrases.add(rule.id, self._docs(entry["phrases"]))
                if entry.get("lemma_phrases"):
                    self._lemma_phrases.add(rule.id, self._docs(entry["lemma_phrases"]))
                if not (entry.get("tokens") or entry.get("phrases") or entry.get("lemma_phrases")):
                    raise ValueError(f"{rule.id}: no tokens, phrases or lemma_phrases")
            weak_key = f"weak.{category}"
            self._weak[vocab.strings.add(weak_key)] = category
            self._weak_phrases.add(weak_key, self._docs(body.get("weak_cues") or []))

        for entry in spec.get("exceptions") or []:
            self._exception_matcher.add(str(entry["id"]), entry["tokens"])
            if entry.get("unless_any"):
                self._unless.add(str(entry["id"]))
                self._unless_phrases.add(f"unless.{entry['id']}", self._docs(entry["unless_any"]))

        # Past and media context (see `context` in the pattern file and _historical).
        context = spec.get("context") or {}
        self._context: Dict[str, PhraseMatcher] = {}
        for name in ("past", "long_past", "resolved", "present", "media", "media_links", "media_after"):
            matcher = PhraseMatcher(vocab, attr="LOWER")
            if context.get(name):
                matcher.add(name, self._docs(context[name]))
            self._context[name] = matcher
        self._resolved_words = self._words(context.get("resolved_words") or [])
        self._media_window = int(context.get("media_window", 6))
        self._topic_words = self._words(context.get("topic_words") or [])

        self._by_word: Dict[str, List[Matcher]] = {}
        self._by_regex: List[Tuple[Any, Matcher]] = []
        for group, matcher in self._groups.items():
            if isinstance(group, str):
                self._by_regex.append((re.compile(group), matcher))
            for word in group if isinstance(group, frozenset) else ():
                self._by_word.setdefault(word, []).append(matcher)
        subjects, negation = spec["subjects"], spec["negation"]
        self._self_words = self._words(subjects["self"])
        self._other_words = self._words(subjects["other"])
        self._thing_words = self._words(subjects["things"])
        self._self_markers = self._words(subjects["self_markers"])
        self._other_markers = self._words(subjects["other_markers"])
        self._breaks = self._words(subjects["breaks"])
        self._window = int(subjects["window"])
        self._negation_cues = self._words(negation["cues"])
        self._no_nouns = self._words(negation["no_nouns"])
        self._ability = self._words(negation["ability"])
        self._bridge = self._words(negation["bridge"])
        self._max_bridge = int(negation["max_bridge"])

    @staticmethod
    def _anchor(pattern: List[Dict[str, Any]]) -> Any | None:
        """One required token of a Matcher pattern, as a set of words or a regex.

        A pattern is only tried on messages that contain its anchor, which keeps ordinary
        messages well under a millisecond. This is sound: every match contains its anchor.
        """
        candidates = []
        for position, spec in enumerate(pattern):
            if spec.get("OP", "1") not in ("1", "+") or len(spec) != 1 + ("OP" in spec):
                continue
            attr, value = next((k, v) for k, v in spec.items() if k != "OP")
            if attr not in _ANCHOR_ATTRS:
                continue
            if isinstance(value, str):
                words = {value.lower()}
            elif isinstance(value, dict) and set(value) == {"IN"}:
                words = {str(v).lower() for v in value["IN"]}
            elif isinstance(value, dict) and set(value) == {"REGEX"}:
                candidates.append((0, 0, -position, value["REGEX"]))
                continue
            else:
                continue
            candidates.append((len(words & _COMMON), len(words), -position, words))
        return min(candidates, key=lambda c: c[:3])[3] if candidates else None

    def _token_matches(self, doc: Doc) -> List[Tuple[int, int, int]]:
        words = {t.lower_ for t in doc} | {t.lemma_ for t in doc} | {t.norm_ for t in doc}
        matchers = {id(m): m for m in self._always}
        for word in words:
            for matcher in self._by_word.get(word, ()):
                matchers[id(matcher)] = matcher
        for regex, matcher in self._by_regex:
            if any(regex.search(w) for w in words):  # spaCy REGEX uses re.search too
                matchers[id(matcher)] = matcher
        return [match for matcher in matchers.values() for match in matcher(doc)]

    @staticmethod
    def _words(values: Iterable[Any]) -> Set[str]:
        words = list(values)
        if not all(isinstance(w, str) for w in words):
            raise ValueError(f"word lists must hold strings (quote yes/no/on/off): {words}")
        return {w.lower() for w in words}

    def _docs(self, phrases: Iterable[Any]) -> List[Doc]:
        return [self._tokenise(str(p).lower()) for p in self._words(phrases)]

    def _tokenise(self, text: str) -> Doc:
        doc = self._nlp(text)
        if not doc.has_annotation("LEMMA"):
            for token in doc:
                token.lemma_ = token.lower_
        return doc

    # ---------------------------------------------------------------- Rasa entry point
    def process(self, messages: List[Message]) -> List[Message]:
        """Checks every message; never raises (an error is logged and the message kept)."""
        for message in messages:
            try:
                self._process_message(message)
            except Exception:  # pragma: no cover - defensive: input must never break parsing
                logger.exception("CrisisDetector failed on a message; left unchanged.")
        return messages

    def _process_message(self, message: Message) -> None:
        # A long message's classifiers read only its first part (nlu_components/input_guard.py);
        # crisis language is looked for in the longer cleaned text InputGuard kept for this.
        text = message.get(CRISIS_TEXT_KEY) or message.get(TEXT)
        text = text if isinstance(text, str) else ""
        confidence = self._classifier_crisis_confidence(message)
        threshold = float(self.component_config.get("classifier_threshold", 0.0))
        # `not <` rather than `>=`: an undefined (NaN) confidence errs on the side of safety.
        classifier_crisis = confidence is not None and not confidence < threshold
        found = self.detect(text, message.get(SPACY_DOCS[TEXT]), classifier_crisis)
        if found is None:
            self._demote_classifier_crisis(message)
            return
        category, subject, rule, start, end = found

        ranking = [
            r
            for r in message.get(INTENT_RANKING_KEY) or []
            if isinstance(r, dict) and r.get(INTENT_NAME_KEY) not in (CRISIS_INTENT, FALLBACK_INTENT)
        ]
        intent = {INTENT_NAME_KEY: CRISIS_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(intent)] + ranking, add_to_output=True)

        entities = [
            e
            for e in message.get(ENTITIES) or []
            if not (
                isinstance(e, dict)
                and e.get("entity") in ("crisis_category", "crisis_subject", "haven_region")
            )
        ]
        region = self.region(message.get("metadata"))
        for name, value in (
            ("crisis_category", category),
            ("crisis_subject", subject),
            ("haven_region", region),
        ):
            entities.append(
                {
                    "entity": name,
                    "value": value,
                    "start": start,
                    "end": end,
                    "confidence_entity": 1.0,
                    "extractor": self.__class__.__name__,
                }
            )
        message.set(ENTITIES, entities, add_to_output=True)
        message.set(
            "crisis",
            {
                "category": category,
                "subject": subject,
                "rule": rule,
                "region": region,
                "classifier_confidence": None if confidence is None else round(confidence, 3),
            },
            add_to_output=True,
        )

    @staticmethod
    def _demote_classifier_crisis(message: Message) -> None:
        """This component alone decides what is a crisis: a `crisis` intent it did not confirm gives
        way to the classifier's next-best intent (or nlu_fallback), so no rule fires on it."""
        intent = message.get(INTENT)
        if not (isinstance(intent, dict) and intent.get(INTENT_NAME_KEY) == CRISIS_INTENT):
            return
        ranking = [
            r for r in message.get(INTENT_RANKING_KEY) or []
            if isinstance(r, dict) and r.get(INTENT_NAME_KEY) not in (CRISIS_INTENT, FALLBACK_INTENT)
        ]  # fmt: skip
        fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, dict(ranking[0]) if ranking else fallback, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    @staticmethod
    def _classifier_crisis_confidence(message: Message) -> float | None:
        """The classifier's confidence in `crisis` when `crisis` is its top intent, else None.

        When FallbackClassifier has replaced a low-confidence guess with nlu_fallback, the
        classifier's top intent is the first other entry of the ranking.
        """
        for entry in message.get(INTENT_RANKING_KEY) or []:
            if isinstance(entry, dict) and entry.get(INTENT_NAME_KEY) not in NOT_CLASSIFIER_INTENTS:
                if entry.get(INTENT_NAME_KEY) == CRISIS_INTENT:
                    return _as_float(entry.get(PREDICTED_CONFIDENCE_KEY))
                return None
        intent = message.get(INTENT)
        if isinstance(intent, dict) and intent.get(INTENT_NAME_KEY) == CRISIS_INTENT:
            return _as_float(intent.get(PREDICTED_CONFIDENCE_KEY))
        return None

    def region(self, metadata: Any) -> str:
        """The visitor's crisis-resources region from the message metadata (`region`, else the
        locale's country), else `default_region` (HAVEN_REGION); the regions are safety/hotlines.yml's."""
        metadata = metadata if isinstance(metadata, dict) else {}
        return safety.load().visitor_region(
            metadata.get("region"), metadata.get("locale"), self.component_config.get("default_region")
        )

    # ---------------------------------------------------------------- detection
    def detect(
        self, text: str, doc: Doc | None = None, classifier_crisis: bool = False
    ) -> Tuple[str, str, str, int, int] | None:
        """Returns (category, subject, rule id, start, end) for a crisis, else None.

        `doc` is the message's spaCy doc from SpacyNLP; it is reused when it was made from the
        same normalised text, otherwise the text is tokenised here.
        """
        normalised, origin = _normalise(text)
        if not (isinstance(doc, Doc) and doc.text == normalised and doc.has_annotation("LEMMA")):
            doc = self._tokenise(normalised)
        hits = self._hits(doc)
        historical = False
        if hits or classifier_crisis:
            hits, historical = self._historical(doc, hits)
        live = [h for h in hits if not h.negated]
        if live:
            present = {h.rule.category for h in live}

            def rank(h: _Hit) -> Tuple[bool, int, int]:
                # a rule that `yields_to` a category also found ranks just after it
                index = CATEGORIES.index(h.rule.category)
                if h.rule.yields_to and any(c in present for c in h.rule.yields_to):
                    index = len(CATEGORIES)
                return h.subject != "self", index, h.start

            best = min(live, key=rank)
            start, end = self._char_span(doc, best.start, best.end, origin, len(text))
            return best.rule.category, best.subject, best.rule.id, start, end
        if classifier_crisis and not historical and self._has_weak_cue(doc):
            # The classifier alone raised false alarms on plain self-talk ("I'm judging myself");
            # it counts only where the message also carries a crisis cue word of the pattern file.
            category, subject = self._weak_guess(doc, hits)
            return category, subject, CLASSIFIER_RULE, 0, len(text)
        return None

    def _hits(self, doc: Doc) -> List[_Hit]:
        matches = self._lower_phrases(doc) + self._lemma_phrases(doc) + self._token_matches(doc)
        if not matches:
            return []
        excepted = self._exception_tokens(doc)
        hits = []
        with_found: Set[str] | None = None
        for key, start, end in matches:
            rule = self._rules[key]
            if excepted and any(i in excepted for i in range(start, end)):
                continue
            if rule.needs_agent and self._subject_before(doc, start) != "other":
                continue
            if rule.needs_self and self._subject_before(doc, start) == "other":
                continue
            if rule.with_any:
                if with_found is None:
                    strings = self._nlp.vocab.strings
                    with_found = {strings[k][len("with.") :] for k, _, _ in self._with_phrases(doc)}
                if rule.id not in with_found:
                    continue
            negated = rule.negatable and self._negated(doc, start)
            hits.append(_Hit(rule, start, end, self._subject(doc, rule, start, end), negated))
        return hits

    def _historical(self, doc: Doc, hits: List[_Hit]) -> Tuple[List[_Hit], bool]:
        """Drops matches told as resolved history or as a topic of media; says if any context applied.

        Nothing is dropped when the message has a present-tense risk marker outside the matches
        ("again", "tonight", "lately", "thinking about", "now" unless beside "ok"/"fine"/"better").
        Otherwise a match is dropped when the message places it long ago ("long ago", "decades
        ago"), in the past and resolved ("years ago ... I'm ok now"), in the past of someone else
        ("my uncle took his own life when I was little"), or makes it the subject of a film, podcast,
        article or awareness campaign ("a film about suicide", "self harm awareness week").
        """
        inside = {i for h in hits for i in range(h.start, h.end)}

        def spans(name: str) -> List[Tuple[int, int]]:
            found = self._context[name](doc)
            return [(s, e) for _, s, e in found if not any(i in inside for i in range(s, e))]

        if spans("present"):
            return hits, False
        for token in doc:
            if token.lower_ == "now" and token.i not in inside:
                near = doc[max(0, token.i - 5) : token.i + 4]
                if not any(t.lower_ in self._resolved_words for t in near):
                    return hits, False
        past, long_past = spans("past"), spans("long_past")
        settled = bool(long_past or (past and spans("resolved")))
        media, links, after = spans("media"), spans("media_links"), spans("media_after")
        keep = []
        for hit in hits:
            other_past = bool(past) and hit.subject == "other"
            if settled or other_past or self._media_topic(doc, hit, media, links, after):
                continue
            keep.append(hit)
        return keep, settled or len(keep) < len(hits)

    def _media_topic(self, doc: Doc, hit: _Hit, media, links, after) -> bool:
        """ "a film about suicide", "a podcast on self harm", "suicide prevention week"."""
        if not all(t.lower_ in self._topic_words or t.is_punct for t in doc[hit.start : hit.end]):
            return False
        if any(hit.end <= s <= hit.end + 1 for s, _ in after):
            return True
        for _, end in media:
            if end <= hit.start and hit.start - end <= self._media_window:
                between = doc[end : hit.start]
                if any(t.lower_ in self._breaks for t in between):
                    continue
                if any(end <= s and e <= hit.start for s, e in links):
                    return True
        return False

    def _exception_tokens(self, doc: Doc) -> Set[int]:
        matches = self._exception_matcher(doc)
        if not matches:
            return set()
        vetoed: Set[str] = set()
        if self._unless and any(self._nlp.vocab.strings[k] in self._unless for k, _, _ in matches):
            vetoed = {self._nlp.vocab.strings[k][len("unless.") :] for k, _, _ in self._unless_phrases(doc)}
        return {
            i for key, s, e in matches if self._nlp.vocab.strings[key] not in vetoed for i in range(s, e)
        }  # fmt: skip

    def _subject_before(self, doc: Doc, start: int) -> str | None:
        """The nearest subject before token `start` in its sentence: self, other, thing or None."""
        for j in range(start - 1, max(-1, start - 1 - self._window), -1):
            word = doc[j].lower_
            if word in self._breaks or (doc[j].is_space and "\n" in doc[j].text):
                return None
            if word in self._self_words:
                return "self"
            if word in self._other_words:
                return "other"
            if word in self._thing_words:
                return "thing"
        return None

    def _subject(self, doc: Doc, rule: _Rule, start: int, end: int) -> str:
        if rule.subject != "auto":
            return rule.subject
        for token in doc[start:end]:
            if token.lower_ in self._other_markers:
                return "other"
            if token.lower_ in self._self_markers:
                return "self"
        return "other" if self._subject_before(doc, start) == "other" else "self"

    def _negated(self, doc: Doc, start: int) -> bool:
        """True if a negation stands a few bridge words before the match ("I'm not going to").

        "can't"/"couldn't" do not count ("I can't kill myself because of my kids" is ideation).
        """
        j = start - 1
        for _ in range(self._max_bridge + 1):
            if j < 0:
                return False
            token = doc[j]
            if token.norm_ in self._negation_cues or token.lower_ in self._negation_cues:
                return not (j > 0 and doc[j - 1].lower_ in self._ability)
            if token.lower_ in self._no_nouns and j > 0 and doc[j - 1].lower_ == "no":
                return True
            if token.lower_ not in self._bridge:
                return False
            j -= 1
        return False

    def _has_weak_cue(self, doc: Doc) -> bool:
        excepted = self._exception_tokens(doc)
        return any(
            not any(i in excepted for i in range(start, end)) for _key, start, end in self._weak_phrases(doc)
        )

    def _weak_guess(self, doc: Doc, hits: List[_Hit]) -> Tuple[str, str]:
        """Category and subject when only the classifier said crisis: the strongest weak cue.

        A negated pattern match counts double a weak cue word; no cue at all means suicide.
        For danger the subject stays `self`: the visitor is the one we know is affected.
        """
        scores = {c: 0 for c in CATEGORIES}
        subjects: Dict[str, str] = {}
        for hit in hits:
            scores[hit.rule.category] += 2
            subjects.setdefault(hit.rule.category, hit.subject)
        excepted = self._exception_tokens(doc)
        for key, start, end in self._weak_phrases(doc):
            if any(i in excepted for i in range(start, end)):
                continue
            category = self._weak[key]
            scores[category] += 1
            # before a danger cue stands the aggressor ("he keeps yelling"), not the person at risk
            other = category != "danger" and self._subject_before(doc, start) == "other"
            subjects.setdefault(category, "other" if other else "self")
        best = max(CATEGORIES, key=lambda c: (scores[c], -CATEGORIES.index(c)))
        if scores[best] == 0:
            return "suicide", "self"
        return best, subjects.get(best, "self")

    @staticmethod
    def _char_span(doc: Doc, start: int, end: int, origin: List[int] | None, length: int) -> Tuple[int, int]:
        first, last = doc[start], doc[end - 1]
        char_start, char_end = first.idx, last.idx + len(last.text)
        if origin is None:
            return min(char_start, length), min(char_end, length)
        if not origin:
            return 0, 0
        return origin[min(char_start, len(origin) - 1)], origin[min(char_end - 1, len(origin) - 1)] + 1
