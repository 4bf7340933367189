"""The FAQ's numbers for `make eval` (issue 15), measured through the real model and the real matcher.

Each message goes the way a visitor's would: the trained NLU model parses it (the crisis check
included), then the route the rules take decides whether the FAQ is asked and at which threshold
(intent practice_faq: INTENT_THRESHOLD; out_of_scope or nlu_fallback: FALLBACK_THRESHOLD; any other
intent: the FAQ is never asked, but for the consultation topic, whose answer an FAQ entry can follow:
Matcher.beside_topic). Sets: tests/nlu/faq_dev.yml (development: the thresholds were chosen
on it), tests/nlu/faq_tune.yml (hard look-alikes written blind, then read to choose the thresholds and
the extra examples' kind), tests/nlu/faq_blind*.yml (twelve sets, each written
blind by another writer; only numbers are printed, never their messages), and the topic evaluation sets
(heldout*.yml, off_topic*.yml) as extra held-out checks that the FAQ takes neither article questions nor
off-topic ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from haven import yaml_files
from haven.services import faq
from haven.settings import ROOT
from haven_devtools.evaluation import heldout, load_agent, off_topic, parse_all

DEV = ROOT / "tests" / "nlu" / "faq_dev.yml"
TUNE = ROOT / "tests" / "nlu" / "faq_tune.yml"
BLIND_DIR = ROOT / "tests" / "nlu"
FALLBACK_INTENTS = ("out_of_scope", "nlu_fallback")


def blind_sets() -> List[Path]:
    """Every tests/nlu/faq_blind*.yml: a new blind set is measured (and needs floors) by being there."""
    return sorted(BLIND_DIR.glob("faq_blind*.yml"))


def route(parsed: dict, matcher: faq.Matcher) -> Tuple[str, Optional[str], Optional[str]]:
    """(kind, entry, runner-up): kind is "answer", "did_you_mean", "beside" (the article's consultation
    answer, then this entry's: actions/explain_topic.py) or "none" (no FAQ reply)."""
    name = (parsed.get("intent") or {}).get("name")
    if name == faq.NEIGHBOUR_TOPIC:
        entry = matcher.beside_topic(parsed.get("text") or "")
        return ("beside", entry.id, None) if entry is not None else ("none", None, None)
    if name == "practice_faq":
        threshold = faq.INTENT_THRESHOLD
    elif name in FALLBACK_INTENTS:
        threshold = faq.FALLBACK_THRESHOLD
    else:
        return "none", None, None
    found = matcher.match(parsed.get("text") or "", threshold)
    if found.kind == "none":
        return "none", None, None
    runner = found.runner_up.id if found.kind == "did_you_mean" and found.runner_up else None
    return found.kind, found.entry.id if found.entry else None, runner


@dataclass
class SetResult:
    name: str
    questions: int = 0
    right: int = 0  # answered with the expected entry
    offered: int = 0  # "Did you mean" with the expected entry among the two
    wrong: List[Tuple[str, str, str]] = field(default_factory=list)
    negatives: int = 0
    refused: int = 0
    articles: int = 0
    articles_kept: int = 0
    articles_with_entry: int = 0  # article questions answered by the article and then an FAQ entry too
    taken: List[Tuple[str, str]] = field(default_factory=list)
    # entry id -> [answered with it, questions expecting it]: counts only, for the approved/to_fill lines
    by_entry: Dict[str, List[int]] = field(default_factory=dict)
    approved: frozenset = frozenset()  # the ids of the entries whose answer is said (status approved)

    def by_status(self, approved: bool) -> Tuple[int, int]:
        """(right, questions) over the approved entries, or over the placeholders (to_fill)."""
        rows = [v for k, v in self.by_entry.items() if (k in self.approved) == approved]
        return sum(r for r, _ in rows), sum(n for _, n in rows)

    def lines(self, show_messages: bool) -> List[str]:
        out = [f"{self.name}:"]
        if self.questions:
            n = self.questions
            out.append(
                f"  FAQ accuracy {self.right}/{n} = {self.right / n:.3f} answered with the right entry; "
                f'with a "Did you mean" that offers it: {(self.right + self.offered) / n:.3f}; target >= 0.95'
            )
            for approved, kind in ((True, "approved entries (their answer is said)"),
                                   (False, "to_fill entries (\"I don't have that yet\")")):  # fmt: skip
                right, total = self.by_status(approved)
                if total:
                    out.append(f"    {kind}: {right}/{total} = {right / total:.3f}")
        if self.negatives:
            out.append(
                f"  off-topic refused by the FAQ {self.refused}/{self.negatives} = "
                f"{self.refused / self.negatives:.3f}; target >= 0.95"
            )
        if self.articles:
            out.append(
                f"  article-topic questions not taken by the FAQ {self.articles_kept}/{self.articles} = "
                f"{self.articles_kept / self.articles:.3f}"
                + (
                    f" ({self.articles_with_entry} of them followed by an FAQ entry's answer)"
                    if self.articles_with_entry
                    else ""
                )
            )
        if show_messages:
            out += [f"  wrong: {t!r} expected {e} got {g}" for t, e, g in self.wrong]
            out += [f"  taken by the FAQ: {t!r} -> {g}" for t, g in self.taken]
        return out


def run_set(agent, matcher: faq.Matcher, name: str, positives: Dict[str, List[str]],
            negatives: List[str], articles: List[str]) -> SetResult:  # fmt: skip
    result = SetResult(name, approved=frozenset(e.id for e in matcher.faq.entries if e.approved))
    cases = [(q, entry) for entry, qs in positives.items() for q in qs]
    for (text, expected), parsed in zip(cases, parse_all(agent, [q for q, _ in cases]), strict=True):
        kind, got, runner = route(parsed, matcher)
        result.questions += 1
        counted = result.by_entry.setdefault(expected, [0, 0])
        counted[1] += 1
        if kind in ("answer", "beside") and got == expected:
            result.right += 1
            counted[0] += 1
        elif kind == "did_you_mean" and expected in (got, runner):
            result.offered += 1
        else:
            result.wrong.append((text, expected, f"{kind}:{got}"))
    for text, parsed in zip(negatives, parse_all(agent, negatives), strict=True):
        kind, got, _ = route(parsed, matcher)
        result.negatives += 1
        if kind == "none":
            result.refused += 1
        else:
            result.taken.append((text, f"{kind}:{got}"))
    for text, parsed in zip(articles, parse_all(agent, articles), strict=True):
        kind, got, _ = route(parsed, matcher)
        result.articles += 1
        result.articles_kept += kind in ("none", "beside")
        result.articles_with_entry += kind == "beside"
        if kind != "none":  # an article question the FAQ answered, alone or after the article
            result.taken.append((text, f"{kind}:{got}"))
    return result


def _load(path: Path) -> Tuple[Dict[str, List[str]], List[str], List[str]]:
    data = yaml_files.read(path) or {}
    positives = {str(k): [str(q) for q in v] for k, v in (data.get("faq") or {}).items()}
    return (
        positives,
        [str(m) for m in data.get("off_topic") or []],
        [str(m) for m in data.get("article_topic") or []],
    )


def evaluate_faq(
    model_path: Path = ROOT / "models" / "haven.tar.gz", agent: Any = None
) -> List[Tuple[SetResult, bool]]:
    """[(result, show its messages)]: dev and the topic sets show misses; the blind set never does.
    `agent`, when given, is the model already loaded (the tests share one)."""
    agent = agent if agent is not None else load_agent(model_path)
    matcher = faq.Matcher(faq.load())
    results = [(run_set(agent, matcher, f"{DEV.name} (development)", *_load(DEV)), True)]
    results.append(
        (
            run_set(
                agent,
                matcher,
                "topic sets heldout*.yml, off_topic*.yml",
                {},
                off_topic(),
                [t for t, _ in heldout()],
            ),
            True,
        )  # fmt: skip
    )
    if TUNE.is_file():
        results.append((run_set(agent, matcher, f"{TUNE.name} (tuning)", *_load(TUNE)), True))
    for blind in blind_sets():
        name = f"{blind.name} (blind; messages not shown)"
        results.append((run_set(agent, matcher, name, *_load(blind)), False))
    return results


def format_faq(results: List[Tuple[SetResult, bool]]) -> str:
    lines = ["", "The practice's FAQ (content/faq.yml) through the model and the matcher:"]
    lines.append(
        f"  classifier C {faq.C}, intent threshold {faq.INTENT_THRESHOLD}, fallback threshold "
        f"{faq.FALLBACK_THRESHOLD}, margin {faq.MARGIN}"
    )
    for result, show in results:
        lines += result.lines(show)
    return "\n".join(lines)
