"""Deciding whether a message is a crisis, from the compiled patterns (patterns.py). No Rasa here.

A message is cleaned (text.py) and tokenised, every pattern is tried, and each match is then
judged: dropped inside an idiom (exceptions), when negated, when its subject rule is not met, or
when the message tells it as resolved history or as the topic of a film or campaign. Docs of the
format and of each decision: docs/crisis-patterns.md.

Priority when several patterns match: the visitor's own risk before someone else's (the visitor
is the person we can reach), then suicide, then danger, then self_harm. Suicide and danger come
before self-harm because they are the immediate threats to life; a stated wish to die comes
before danger because it is the risk most easily buried in a long message about the
relationship, and the crisis reply for it still names emergency services.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Set, Tuple

from spacy.tokens import Doc

from nlu_components.crisis import patterns as patterns_module
from nlu_components.crisis.patterns import CATEGORIES, Patterns, Rule
from nlu_components.crisis.text import blank_english, normalise, tokenise

CLASSIFIER_RULE = "classifier"  # the rule reported when only the classifier's `crisis` intent counted
MODEL_RULE = "model"  # the rule reported when the risk model's score decided
NEIGHBOUR_RULE = "neighbours"  # the rule reported when the risk model's nearest-neighbour margin decided
TIERS = ("crisis", "check_in")  # the full crisis reply, or a direct question (a check-in)


@dataclass(frozen=True)
class ModelVerdict:
    """What the risk model's score comes to once the patterns' checks have been applied to it."""

    tier: str  # crisis | check_in
    category: str
    subject: str
    demoted_by: Tuple[str, ...]  # which checks lowered the tier: past, negated, idiom


@dataclass(frozen=True)
class _Hit:
    rule: Rule
    start: int  # token indices in the doc
    end: int
    subject: str
    negated: bool


class CrisisJudge:
    """Finds crisis language in a message: `detect()` (see module docstring)."""

    def __init__(self, patterns: Patterns) -> None:
        self._p = patterns
        self._nlp = patterns.nlp

    @classmethod
    def load(cls, folder: Path) -> CrisisJudge:
        """Reads and compiles the pattern folder (patterns.load) with the detector's own tokenizer."""
        return cls(patterns_module.load(folder, blank_english()))

    def detect(
        self, text: str, doc: Doc | None = None, classifier_crisis: bool = False
    ) -> Tuple[str, str, str, int, int] | None:
        """Returns (category, subject, rule id, start, end) for a crisis, else None.

        `doc` is the message's spaCy doc from SpacyNLP; it is reused when it was made from the
        same normalised text, otherwise the text is tokenised here. `classifier_crisis`: the
        classifier's own top intent is `crisis` (at the configured confidence); it counts only
        with a weak cue word and outside past or media context (rule "classifier").
        """
        normalised, origin = normalise(text)
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
        if classifier_crisis and not historical and not hits and self._has_weak_cue(doc):
            # The classifier alone raised false alarms on plain self-talk ("I'm judging myself");
            # it counts only where the message also carries a crisis cue word of the pattern file,
            # and not where the message's only crisis words are negated ("I've never self harmed":
            # with the sentence embedding the classifier was sure of `crisis` there).
            category, subject = self._weak_guess(doc, hits)
            return category, subject, CLASSIFIER_RULE, 0, len(text)
        return None

    def judge_model(
        self,
        text: str,
        score: float,
        category: str,
        crisis_threshold: float,
        check_in_threshold: float,
        doc: Doc | None = None,
    ) -> ModelVerdict | None:
        """The risk model's alarm, judged like a pattern's (call it when `detect` found nothing).

        A score at or above `crisis_threshold` asks for the full reply, one at or above
        `check_in_threshold` for a check-in. The checks the patterns get then apply to the alarm
        too, each lowering it by one tier (crisis → check-in → nothing), because the encoder knows
        the topic of a message better than its stance: a message told as resolved history ("years
        ago… I'm fine now") or as someone else's past, a message whose only crisis words are negated
        ("I'm not suicidal, just tired"), and one whose only crisis words sit inside an idiom ("this
        commute is killing me"). The subject (the visitor or someone else) is read from the cue words
        as for the classifier's alarms.
        """
        if not (score == score) or score < check_in_threshold:  # NaN or low: no alarm
            return None
        normalised, _origin = normalise(text)
        if not (isinstance(doc, Doc) and doc.text == normalised and doc.has_annotation("LEMMA")):
            doc = self._tokenise(normalised)
        hits = self._hits(doc)
        live = [h for h in hits if not h.negated]
        demoted: List[str] = []
        if self._historical(doc, hits)[1]:
            demoted.append("past")
        if hits and not live:
            demoted.append("negated")
        if self._exception_tokens(doc) and not live and not self._has_weak_cue(doc):
            demoted.append("idiom")
        level = (2 if score >= crisis_threshold else 1) - len(demoted)
        if level <= 0:
            return None
        subject = self._subject_for(doc, hits, category)
        return ModelVerdict(TIERS[0] if level == 2 else TIERS[1], category, subject, tuple(demoted))

    def judge_check_in(self, text: str, category: str, doc: Doc | None = None) -> ModelVerdict | None:
        """An alarm that can only ever ask (the nearest-neighbour margin's): a check-in, unless one of
        the checks `judge_model` applies (past, negated, idiom) lowers it, and then nothing."""
        return self.judge_model(text, 1.0, category, math.inf, 0.0, doc)

    def _subject_for(self, doc: Doc, hits: List[_Hit], category: str) -> str:
        """Who is at risk, from the pattern matches or cue words of `category` (self when none)."""
        for hit in hits:
            if hit.rule.category == category:
                return hit.subject
        excepted = self._exception_tokens(doc)
        for key, start, end in self._p.weak_phrases(doc):
            if self._p.weak[key] == category and not any(i in excepted for i in range(start, end)):
                other = category != "danger" and self._subject_before(doc, start) == "other"
                return "other" if other else "self"
        return "self"

    def _tokenise(self, text: str) -> Doc:
        return tokenise(self._nlp, text)

    def _hits(self, doc: Doc) -> List[_Hit]:
        p = self._p
        matches = p.lower_phrases(doc) + p.lemma_phrases(doc) + p.token_matches(doc)
        if not matches:
            return []
        excepted = self._exception_tokens(doc)
        hits = []
        with_found: Set[str] | None = None
        for key, start, end in matches:
            rule = p.rules[key]
            if excepted and any(i in excepted for i in range(start, end)):
                continue
            if rule.needs_agent and self._subject_before(doc, start) != "other":
                continue
            if rule.needs_self and self._subject_before(doc, start) == "other":
                continue
            if rule.with_any:
                if with_found is None:
                    strings = self._nlp.vocab.strings
                    with_found = {strings[k][len("with.") :] for k, _, _ in p.with_phrases(doc)}
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
        p = self._p
        inside = {i for h in hits for i in range(h.start, h.end)}

        def spans(name: str) -> List[Tuple[int, int]]:
            found = p.context[name](doc)
            return [(s, e) for _, s, e in found if not any(i in inside for i in range(s, e))]

        if spans("present"):
            return hits, False
        for token in doc:
            if token.lower_ == "now" and token.i not in inside:
                near = doc[max(0, token.i - 5) : token.i + 4]
                if not any(t.lower_ in p.resolved_words for t in near):
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
        p = self._p
        if not all(t.lower_ in p.topic_words or t.is_punct for t in doc[hit.start : hit.end]):
            return False
        if any(hit.end <= s <= hit.end + 1 for s, _ in after):
            return True
        for _, end in media:
            if end <= hit.start and hit.start - end <= p.media_window:
                between = doc[end : hit.start]
                if any(t.lower_ in p.breaks for t in between):
                    continue
                if any(end <= s and e <= hit.start for s, e in links):
                    return True
        return False

    def _exception_tokens(self, doc: Doc) -> Set[int]:
        p = self._p
        matches = p.exception_matcher(doc)
        if not matches:
            return set()
        vetoed: Set[str] = set()
        strings = self._nlp.vocab.strings
        if p.unless and any(strings[k] in p.unless for k, _, _ in matches):
            vetoed = {strings[k][len("unless.") :] for k, _, _ in p.unless_phrases(doc)}
        return {
            i for key, s, e in matches if strings[key] not in vetoed for i in range(s, e)
        }  # fmt: skip

    def _subject_before(self, doc: Doc, start: int) -> str | None:
        """The nearest subject before token `start` in its sentence: self, other, thing or None."""
        p = self._p
        for j in range(start - 1, max(-1, start - 1 - p.window), -1):
            word = doc[j].lower_
            if word in p.breaks or (doc[j].is_space and "\n" in doc[j].text):
                return None
            if word in p.self_words:
                return "self"
            if word in p.other_words:
                return "other"
            if word in p.thing_words:
                return "thing"
        return None

    def _subject(self, doc: Doc, rule: Rule, start: int, end: int) -> str:
        if rule.subject != "auto":
            return rule.subject
        for token in doc[start:end]:
            if token.lower_ in self._p.other_markers:
                return "other"
            if token.lower_ in self._p.self_markers:
                return "self"
        return "other" if self._subject_before(doc, start) == "other" else "self"

    def _negated(self, doc: Doc, start: int) -> bool:
        """True if a negation stands a few bridge words before the match ("I'm not going to").

        "can't"/"couldn't" do not count ("I can't kill myself because of my kids" is ideation), and
        neither does a negation after an effort ("trying not to", "trying so hard not to"): that is
        the urge being resisted, not denied.
        """
        p = self._p
        j = start - 1
        for _ in range(p.max_bridge + 1):
            if j < 0:
                return False
            token = doc[j]
            if token.norm_ in p.negation_cues or token.lower_ in p.negation_cues:
                if j > 0 and doc[j - 1].lower_ in p.striving:
                    return False
                return not (j > 0 and doc[j - 1].lower_ in p.ability)
            if token.lower_ in p.no_nouns and j > 0 and doc[j - 1].lower_ == "no":
                return True
            if token.lower_ not in p.bridge:
                return False
            j -= 1
        return False

    def _has_weak_cue(self, doc: Doc) -> bool:
        excepted = self._exception_tokens(doc)
        cues = self._p.weak_phrases(doc)
        return any(not any(i in excepted for i in range(start, end)) for _key, start, end in cues)

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
        for key, start, end in self._p.weak_phrases(doc):
            if any(i in excepted for i in range(start, end)):
                continue
            category = self._p.weak[key]
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
