"""The reviewed crisis patterns: read from their folder, validated and compiled into spaCy matchers.

The folder (safety/crisis_patterns/, format in docs/crisis-patterns.md) holds YAML files that are
parts of one spec: every *.yml in it is read and merged. The data is read once, when the model
loads, and compiled here; nothing is read or compiled per message. Anything wrong fails loudly
(ValueError naming the folder): a detector without its data is unsafe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Set, Tuple

import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from haven import yaml_files
from nlu_components.crisis.text import tokenise

CATEGORIES = ("suicide", "danger", "self_harm")  # priority order, see nlu_components/crisis/judgement.py
# Categories are compiled in this order, the order of the single pattern file before it was split
# by category. Matchers are shared between categories (by anchor), and when two rules of one
# category match at the same place, which of them is reported can follow the matchers' order.
_COMPILE_ORDER = ("suicide", "self_harm", "danger")
# The top-level keys a pattern file may have; each file holds some of them.
TOP_LEVEL_KEYS = ("version", "sets", "subjects", "negation", "context", "categories", "exceptions")
# Keys whose whole value must come from one file.
_SINGLE_FILE_KEYS = ("subjects", "negation", "context")

# Frequent words never chosen as a pattern's anchor (see _anchor), for speed only.
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
class Rule:
    id: str
    category: str
    subject: str = "auto"  # self | other | auto
    negatable: bool = True
    needs_agent: bool = False
    needs_self: bool = False  # dropped when the nearest subject before it is someone else
    with_any: bool = False  # counts only when one of its `with_any` phrases is in the message
    yields_to: Tuple[str, ...] = ()  # categories ranked before this rule's when they also match


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def resolve_path(path: str) -> Path:
    """A data path from config.yml: as given when absolute or found from the working directory,
    else relative to the project root (the servers and tests do not all start there)."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return PROJECT_ROOT / candidate


def load(folder: Path, nlp: Language) -> Patterns:
    """Reads, merges and compiles the pattern folder. Fails loudly: a detector without data is unsafe."""
    spec = read_folder(folder)
    try:
        return Patterns(spec, nlp)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"Invalid crisis patterns in '{folder}': {e}") from e


def read_folder(folder: Path) -> Dict[str, Any]:
    """Every *.yml of the folder merged into one spec (the format of docs/crisis-patterns.md).

    Each file holds some of the top-level keys. A category, and each of `subjects`, `negation` and
    `context`, comes from one file; `exceptions` lists are joined; `version` must agree. `sets` only
    hold YAML anchors, and anchors do not reach across files, so a file that needs a shared list
    defines it again: a set defined in several files must be the same in all of them, so copies
    cannot drift apart. An unknown top-level key, or a pattern or exception id used twice, is an
    error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Crisis patterns folder '{folder}' not found")
    files = sorted(folder.glob("*.yml"))
    if not files:
        raise ValueError(f"Invalid crisis patterns in '{folder}': no *.yml files")
    try:
        return _merge([(path.name, _read_file(path)) for path in files])
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # AttributeError: a list for a mapping
        raise ValueError(f"Invalid crisis patterns in '{folder}': {e}") from e


def _read_file(path: Path) -> Any:
    """One pattern file, read as YAML 1.2 like Rasa's own reader (`on` and `off` stay words), with
    libyaml's parser: 0.06 s for the folder against Rasa's 0.8 s (haven/yaml_files.py)."""
    try:
        return yaml_files.read_12(path)
    except yaml.YAMLError as e:
        raise ValueError(f"{path.name} is not valid YAML: {e}") from e


def _merge(parts: List[Tuple[str, Any]]) -> Dict[str, Any]:
    spec: Dict[str, Any] = {}
    owner: Dict[str, str] = {}  # "subjects", "set:pills", "pattern:suicide.word", ... -> its file

    def claim(key: str, what: str, file_name: str) -> None:
        if key in owner:
            if owner[key] == file_name:
                raise ValueError(f"{what} twice in {file_name}")
            raise ValueError(f"{what} in both {owner[key]} and {file_name}")
        owner[key] = file_name

    for file_name, part in parts:
        if part is None:  # an empty file
            continue
        if not isinstance(part, dict):
            raise ValueError(f"{file_name}: not a mapping of top-level keys")
        for key, value in part.items():
            if key not in TOP_LEVEL_KEYS:
                known = ", ".join(TOP_LEVEL_KEYS)
                raise ValueError(f"{file_name}: unknown top-level key '{key}' (known: {known})")
            if key == "version":
                if spec.setdefault("version", value) != value:
                    raise ValueError(f"{file_name}: version {value!r}, other files {spec['version']!r}")
            elif key == "sets":
                sets = spec.setdefault("sets", {})
                for name, words in (value or {}).items():
                    if name in sets and sets[name] != words:
                        first = owner["set:" + name]
                        raise ValueError(f"set '{name}' differs between {first} and {file_name}")
                    sets[name] = words
                    owner.setdefault("set:" + name, file_name)
            elif key in _SINGLE_FILE_KEYS:
                claim(key, f"'{key}'", file_name)
                spec[key] = value
            elif key == "categories":
                categories = spec.setdefault("categories", {})
                for category, body in (value or {}).items():
                    claim("category:" + category, f"category '{category}'", file_name)
                    for entry in (body or {}).get("patterns") or []:
                        claim("pattern:" + str(entry["id"]), f"pattern id '{entry['id']}'", file_name)
                    categories[category] = body
            else:  # exceptions
                for entry in value or []:
                    claim("exception:" + str(entry["id"]), f"exception id '{entry['id']}'", file_name)
                spec.setdefault("exceptions", []).extend(value or [])
    if "categories" in spec:
        rank = {c: i for i, c in enumerate(_COMPILE_ORDER)}  # an unknown category last: Patterns rejects it
        ordered = sorted(spec["categories"].items(), key=lambda item: rank.get(item[0], len(rank)))
        spec["categories"] = dict(ordered)
    return spec


class Patterns:
    """The compiled patterns: spaCy matchers and word lists, read by CrisisJudge (judgement.py)."""

    def __init__(self, spec: Dict[str, Any], nlp: Language) -> None:
        """Compiles a merged spec (read_folder); raises KeyError, TypeError or ValueError on bad data."""
        self.nlp = nlp
        self._compile(spec)

    def _compile(self, spec: Dict[str, Any]) -> None:
        vocab = self.nlp.vocab
        self.rules: Dict[int, Rule] = {}
        self.weak: Dict[int, str] = {}
        self.lower_phrases = PhraseMatcher(vocab, attr="LOWER")
        self.lemma_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self.weak_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self.exception_matcher = Matcher(vocab, validate=True)
        # `with_any` phrases of rules and `unless_any` phrases of exceptions (LEMMA, any inflection)
        self.with_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self.unless_phrases = PhraseMatcher(vocab, attr="LEMMA")
        self.unless: Set[str] = set()
        # Token patterns are grouped by anchor (one required token, see _anchor); a group's
        # Matcher runs only when its anchor occurs in the message.
        self._groups: Dict[Any, Matcher] = {}
        self._always: List[Matcher] = []

        for category, body in spec["categories"].items():
            if category not in CATEGORIES:
                raise ValueError(f"unknown category '{category}'")
            for entry in body["patterns"]:
                rule = Rule(
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
                if rule_key in self.rules:
                    raise ValueError(f"duplicate pattern id '{rule.id}'")
                self.rules[rule_key] = rule
                for pattern in entry.get("tokens") or []:
                    anchor = self._anchor(pattern)
                    group = anchor if isinstance(anchor, str) else frozenset(anchor or ())
                    if group not in self._groups:
                        self._groups[group] = Matcher(vocab, validate=True)
                        if not group:
                            self._always.append(self._groups[group])
                    self._groups[group].add(rule.id, [pattern])
                if rule.with_any:
                    self.with_phrases.add(f"with.{rule.id}", self._docs(entry["with_any"]))
                if entry.get("phrases"):
                    self.lower_phrases.add(rule.id, self._docs(entry["phrases"]))
                if entry.get("lemma_phrases"):
                    self.lemma_phrases.add(rule.id, self._docs(entry["lemma_phrases"]))
                if not (entry.get("tokens") or entry.get("phrases") or entry.get("lemma_phrases")):
                    raise ValueError(f"{rule.id}: no tokens, phrases or lemma_phrases")
            weak_key = f"weak.{category}"
            self.weak[vocab.strings.add(weak_key)] = category
            self.weak_phrases.add(weak_key, self._docs(body.get("weak_cues") or []))

        for entry in spec.get("exceptions") or []:
            self.exception_matcher.add(str(entry["id"]), entry["tokens"])
            if entry.get("unless_any"):
                self.unless.add(str(entry["id"]))
                self.unless_phrases.add(f"unless.{entry['id']}", self._docs(entry["unless_any"]))

        # Past and media context (see `context` in docs/crisis-patterns.md and CrisisJudge._historical).
        context = spec.get("context") or {}
        self.context: Dict[str, PhraseMatcher] = {}
        for name in ("past", "long_past", "resolved", "present", "media", "media_links", "media_after"):
            matcher = PhraseMatcher(vocab, attr="LOWER")
            if context.get(name):
                matcher.add(name, self._docs(context[name]))
            self.context[name] = matcher
        self.resolved_words = self._words(context.get("resolved_words") or [])
        self.media_window = int(context.get("media_window", 6))
        self.topic_words = self._words(context.get("topic_words") or [])

        self._by_word: Dict[str, List[Matcher]] = {}
        self._by_regex: List[Tuple[Any, Matcher]] = []
        for group, matcher in self._groups.items():
            if isinstance(group, str):
                self._by_regex.append((re.compile(group), matcher))
            for word in group if isinstance(group, frozenset) else ():
                self._by_word.setdefault(word, []).append(matcher)
        subjects, negation = spec["subjects"], spec["negation"]
        self.self_words = self._words(subjects["self"])
        self.other_words = self._words(subjects["other"])
        self.thing_words = self._words(subjects["things"])
        self.self_markers = self._words(subjects["self_markers"])
        self.other_markers = self._words(subjects["other_markers"])
        self.breaks = self._words(subjects["breaks"])
        self.window = int(subjects["window"])
        self.negation_cues = self._words(negation["cues"])
        self.no_nouns = self._words(negation["no_nouns"])
        self.ability = self._words(negation["ability"])
        self.striving = self._words(negation.get("striving") or [])
        self.bridge = self._words(negation["bridge"])
        self.max_bridge = int(negation["max_bridge"])

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

    def token_matches(self, doc: Doc) -> List[Tuple[int, int, int]]:
        """The `tokens` patterns' matches: only the Matchers whose anchor occurs in the doc run."""
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
        return [tokenise(self.nlp, str(p).lower()) for p in self._words(phrases)]
