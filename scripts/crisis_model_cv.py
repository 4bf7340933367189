"""Chooses the crisis risk model's thresholds by cross-validation across writers (`make crisis-cv`).

Each writer's file in data/crisis/ is held out in turn: the model is trained exactly as `rasa train`
trains it (nlu_components/crisis/risk_model.py: the other writers' examples, every non-crisis NLU
example as calm, chunks, the riskiest-chunk second pass) and scores the held-out writer's messages
as the server would (chunks, riskiest counts); the pattern verifier is trained on the same writers'
pattern-matched messages and scores each held-out message a pattern matches (whole, and the matched
sentence alone). Each message then gets the decision the crisis detector would make: a pattern match
is the full reply, a check-in or nothing by the two models' scores (CrisisDetector._pattern_tier);
otherwise the risk model's score, after the patterns' past/negation/idiom checks
(CrisisJudge.judge_model). The grids print recall (full reply or check-in) on crisis messages and the
rates of full replies and check-ins on calm ones.

Holding out whole writers is the honest split: a writer's phrasings repeat within their file, so a
random split would flatter the model. No evaluation set is read here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from haven import yaml_files
from haven.encoder import Encoder
from haven_devtools import evaluation
from nlu_components.crisis import (
    CrisisJudge,
    risk_data,
    risk_model,
)
from nlu_components.crisis.component import pattern_tier, sentence_around

ROOT = Path(__file__).resolve().parent.parent


def nlu_texts(crisis: bool) -> list:
    """The Rasa NLU examples of the `crisis` intent (crisis=True) or of every other intent."""
    texts = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml_files.read(path).get("nlu") or []:
            if block.get("intent") and (block["intent"] in risk_model.NOT_CALM_INTENTS) == crisis:
                texts += evaluation.examples(block.get("examples") or "")
    return texts


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str, min_words: int = 3) -> list:
    """The sentences of a message that has at least two of `min_words` words or more, else [].

    For the sentence check-in sweep (sentence_sweep): each sentence scored alone, the riskiest kept. Tried
    on 2026-12-07 and not shipped (docs/crisis-detection.md); kept here to measure it again on a
    fine-tuned encoder."""
    pieces = [p for p in _pieces(text) if len(p.split()) >= min_words]
    return pieces if len(pieces) >= 2 else []


def _pieces(text: str) -> list:
    """A message's sentences (split after . ! ? and at new lines), stripped, empty ones dropped."""
    return [p for p in (p.strip() for p in _SENTENCE_SPLIT.split(text or "")) if p]


_QUESTION = re.compile(r"\?\s*$")


def question_aside(text: str, min_words: int = 3) -> str | None:
    """The message with its questions set aside, when it has both: the other sentences (of
    `min_words` words or more) in order, else None.

    For the "question set aside" sweep: a question for the assistant next to a disclosure outweighs the
    disclosure for the risk model (docs/crisis-detection.md, eighth session); scored without it, the
    disclosure is read as it would be alone."""
    pieces = _pieces(text)
    questions = [p for p in pieces if _QUESTION.search(p)]
    rest = [p for p in pieces if not _QUESTION.search(p) and len(p.split()) >= min_words]
    return " ".join(rest) if questions and rest else None


def demotions(judge: CrisisJudge, text: str, category: str) -> int:
    """How many tiers the patterns' checks take off a model alarm on `text` (0, 1, or 2 = all)."""
    verdict = judge.judge_model(text, 1.0, category, 0.5, 0.0)
    return 2 if verdict is None else (0 if verdict.tier == "crisis" else 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=30.0)
    parser.add_argument("--embedding-weight", type=float, default=1.0)
    parser.add_argument("--verifier-C", type=float, default=10.0)
    parser.add_argument("--rows", type=Path, help="save the scored rows here, or read them if it exists")
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        default=[],
        help="a writer's file never trained on (data/candidates/): scored by a model trained on every"
        " writer and reported apart",
    )
    parser.add_argument(
        "--chunk-tokens", type=int, help="chunks of at most this many wordpieces (default: the encoder's)"
    )
    parser.add_argument("--max-chunks", type=int, help="at most this many chunks (default: the encoder's)")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        # scores as saved; pattern decisions and the checks again, with today's pattern files
        judge = CrisisJudge.load(ROOT / "safety" / "crisis_patterns")
        rows = []
        saved = json.loads(args.rows.read_text())
        saved_extra = saved.get("extra", []) if isinstance(saved, dict) else []
        saved = saved["rows"] if isinstance(saved, dict) else saved
        # (the sentence and verifier scores are those saved: a changed pattern's new matches have none)
        for label, _rule, score, _demotions, text, category, *scores in saved + saved_extra:
            found = judge.detect(text)
            rows.append(
                (
                    label,
                    found[2] if found else "",
                    score,
                    demotions(judge, text, category),
                    text,
                    category,
                    *scores,
                )
            )
        return report(rows[: len(saved)], rows[len(saved) :])
    config = {
        "C": args.C,
        "class_weight": "balanced",
        "embedding_weight": args.embedding_weight,
        "verifier_C": args.verifier_C,
    }
    limits = {"max_tokens": args.chunk_tokens, "max_chunks": args.max_chunks}
    encoder = Encoder(cache_size=100_000, **{name: v for name, v in limits.items() if v is not None})
    judge = CrisisJudge.load(ROOT / "safety" / "crisis_patterns")
    examples = risk_data.load(ROOT / "data" / "crisis")
    calm = nlu_texts(crisis=False)
    nlu_crisis = risk_model.categorised(nlu_texts(crisis=True), ROOT / "safety" / "crisis_patterns")
    by_writer = defaultdict(list)
    for example in examples:
        by_writer[example.source].append(example)
    # (label, pattern rule or "", score, demotions, text, model category, matched sentence's score,
    #  verifier's score whole, verifier's score of the sentence)
    rows = []
    # The assistant's own NLU examples (ordinary questions) are held out a quarter at a time with
    # each writer: how often would an ordinary question get a check-in?
    quarters = {writer: calm[i :: len(by_writer)] for i, writer in enumerate(sorted(by_writer))}
    extra = [e for path in args.extra for e in risk_data.read_file(path)]
    extra_rows = []
    folds = sorted(by_writer.items()) + ([("(extra)", extra)] if extra else [])
    dims = shipped_risk_settings().get("neighbours_dims")  # the banks' projection, as `rasa train` makes it
    for writer, held_out in folds:
        training = [e for e in examples if e.source != writer]
        held_calm = set(quarters.get(writer, ()))
        training_calm = [t for t in calm if t not in held_calm]
        # the nearest-neighbour banks as `rasa train` builds them, from the fold's training data
        bank = risk_model.Neighbours.from_examples(encoder, training + nlu_crisis, training_calm, dims=dims)
        scorer, _labels = risk_model.train_scorer(training + nlu_crisis, encoder, training_calm, config)
        verifier = risk_model.train_verifier(training + nlu_crisis, encoder, training_calm, judge, config)
        held_out = held_out + [risk_data.Example(t, "topic", "self", "nlu") for t in quarters.get(writer, ())]
        out = extra_rows if writer == "(extra)" else rows
        for example in held_out:
            found = risk_model.score_text(scorer, encoder, example.text)
            hit = judge.detect(example.text)
            lowered = demotions(judge, example.text, found["category"])
            scores = [None, None, None]  # the matched sentence's risk; the verifier's, whole and sentence
            if hit is not None:
                pieces = [example.text, sentence_around(example.text, hit[3], hit[4])]
                vectors = encoder.encode(pieces)
                scores = [
                    float(scorer.risk(pieces[1:], vectors[1:])[0]),
                    *map(float, verifier.risk(pieces, vectors)),
                ]
            rule = hit[2] if hit else ""
            parts = sentences(example.text)
            sentence_max = float(max(scorer.risk(parts, encoder.encode(parts)))) if parts else None
            rest = question_aside(example.text)
            aside = [None, None]  # the remainder's risk and the patterns' demotions of it
            if rest is not None:
                rest_found = risk_model.score_text(scorer, encoder, rest)
                aside = [float(rest_found["score"]), demotions(judge, rest, rest_found["category"])]
            out.append(
                (example.label, rule, found["score"], lowered, example.text, found["category"], *scores,
                 sentence_max, *aside, knn_margins(encoder, bank, example.text))
            )  # fmt: skip
        print(f"held out {writer}: {len(held_out)} messages", flush=True)
    if args.rows:
        args.rows.write_text(json.dumps({"rows": rows, "extra": extra_rows}))
    return report(rows, extra_rows)


def report(rows, extra_rows=()) -> int:
    crisis = [r for r in rows if r[0] not in (risk_data.CALM, "topic")]
    calm_rows = [r for r in rows if r[0] == risk_data.CALM]
    topic_rows = [r for r in rows if r[0] == "topic"]

    def tier(row, high, middle, floor=0.0, verifier_floor=0.0, drop=(0.0, 0.0), sentence_threshold=None,
             aside=False, margin=None, margin_floor=0.0):  # fmt: skip
        """2 full reply, 1 check-in, 0 nothing; a pattern match by the detector's own pattern_tier.
        `sentence_threshold`: the sentence check-in's, not in the server (a message of two or more
        sentences with no alarm, one sentence of which scores that much alone and none of the
        patterns' checks lowering it, would get a check-in). `aside`: the question set aside, not in
        the server (a message with no alarm whose other sentences, read without its questions, reach
        the check-in threshold with no check lowering them, would get a check-in). `margin`: the
        nearest-neighbour check-in's threshold, for messages the risk model scores at least
        `margin_floor` (config.yml's neighbours_min_score: the server computes no margin below it)."""
        whole = _tier(row, high, middle, floor, verifier_floor, drop, sentence_threshold)
        has_margin = len(row) > 12 and row[12] and row[2] >= margin_floor
        if not whole and margin is not None and not row[1] and row[3] == 0 and has_margin:
            # the nearest-neighbour check-in (config.yml neighbour_check_in_margin; k = 5)
            return 1 if row[12][KNN_K.index(5)] >= margin else 0
        if whole or not aside or row[1]:
            return whole
        rest, lowered = (list(row[10:12]) + [None, None])[:2]
        return 1 if rest is not None and rest >= middle and lowered == 0 else 0

    def _tier(row, high, middle, floor, verifier_floor, drop, sentence_threshold):
        if not row[1] and sentence_threshold is not None and row[2] < middle and row[3] == 0:
            best = row[9] if len(row) > 9 else None
            if best is not None and best >= sentence_threshold:
                return 1
        if row[1]:
            sentence, whole, part = (list(row[6:9]) + [None] * 3)[:3]
            model = max(row[2], sentence if sentence is not None else 0.0)
            verified = max(whole, part) if whole is not None else None
            decision = pattern_tier(model, verified, floor, verifier_floor, *drop)
            return {None: 0, "check_in": 1, "crisis": 2}[decision]
        level = (2 if row[2] >= high else 1 if row[2] >= middle else 0) - row[3]
        return max(0, level) if row[2] >= middle else 0

    patterns_only = sum(bool(r[1]) for r in crisis) / len(crisis)
    print(
        f"\npatterns alone: recall {patterns_only:.3f}, calm full replies "
        f"{sum(bool(r[1]) for r in calm_rows) / len(calm_rows):.3f} "
        f"({len(crisis)} crisis, {len(calm_rows)} calm)"
    )
    print(
        f"{'high':>6}{'middle':>8}{'recall':>8}{'full':>7}{'calm full':>11}{'calm check-in':>15}"
        f"{'NLU any':>9}"
    )
    for high in (0.8, 0.85, 0.9, 0.93, 0.95, 0.97):
        for middle in (0.3, 0.4, 0.5, 0.6, 0.7):
            if middle >= high:
                continue
            c = [tier(r, high, middle) for r in crisis]
            n = [tier(r, high, middle) for r in calm_rows]
            print(
                f"{high:>6.2f}{middle:>8.2f}{np.mean([t > 0 for t in c]):>8.3f}"
                f"{np.mean([t == 2 for t in c]):>7.3f}"
                f"{np.mean([t == 2 for t in n]):>11.3f}{np.mean([t == 1 for t in n]):>15.3f}"
                f"{np.mean([tier(r, high, middle) > 0 for r in topic_rows]):>9.3f}"
            )
    print(
        "\npattern matches (risk model 0.93 / 0.5): below the risk model's floor or the verifier's, a"
        " check-in; below both drop thresholds, nothing"
    )
    print(
        f"{'floor':>6}{'verifier':>9}{'drop':>12}{'recall':>8}{'full':>7}{'calm full':>11}"
        f"{'calm check-in':>15}"
    )
    settings = [(f, 0.0, (0.0, 0.0)) for f in (0.0, 0.1, 0.3, 0.5)]
    settings += [(0.1, v, (0.0, 0.0)) for v in (0.1, 0.2, 0.3, 0.5)]
    settings += [(0.1, 0.3, d) for d in ((0.01, 0.01), (0.05, 0.02), (0.05, 0.05), (0.1, 0.05))]
    for floor, verifier_floor, drop in settings:
        c = [tier(r, 0.93, 0.5, floor, verifier_floor, drop) for r in crisis]
        n = [tier(r, 0.93, 0.5, floor, verifier_floor, drop) for r in calm_rows]
        print(
            f"{floor:>6.2f}{verifier_floor:>9.2f}{drop[0]:>6.2f}/{drop[1]:.2f}"
            f"{np.mean([t > 0 for t in c]):>8.3f}"
            f"{np.mean([t == 2 for t in c]):>7.3f}{np.mean([t == 2 for t in n]):>11.3f}"
            f"{np.mean([t == 1 for t in n]):>15.3f}"
        )
    shipped_sweeps(crisis, calm_rows, topic_rows, tier)
    sentence_sweep(crisis, calm_rows, topic_rows, tier)
    aside_sweep(crisis, calm_rows, topic_rows, extra_rows, tier)
    knn_sweep(crisis, calm_rows, topic_rows, tier)
    return 0


KNN_K = (1, 5, 15)  # the neighbours averaged per class: row[12] holds one margin per value


def knn_margins(encoder, bank: risk_model.Neighbours, text: str) -> list:
    """The message's margin (its highest chunk's, chunks cut as the server cuts them) for each k of KNN_K."""
    vectors = encoder.encode(encoder.chunks(text))
    return [float(np.max(bank.margins(vectors, k))) for k in KNN_K]


def knn_sweep(crisis, calm_rows, topic_rows, tier) -> None:
    """The nearest-neighbour check-in swept (2026-12-08, docs/crisis-detection.md; config.yml ships one
    margin): a message the detector's other tiers leave without an alarm, with no pattern match, none of
    the patterns' checks lowering it and the risk model's score at least `lr_floor`, gets a check-in when
    its nearest-neighbour margin (k = 5) reaches m. Rows saved before the margins existed are skipped."""
    if not all(len(r) > 12 and r[12] for r in crisis + calm_rows + topic_rows):
        print("\nnearest-neighbour margin: not in these rows (run without --rows, or with a new file)")
        return
    settings = shipped_tier_settings()
    print(
        f"\nnearest-neighbour check-in (k 5) beside the shipped tiers: counts of {len(crisis)} crisis,"
        f" {len(calm_rows)} calm, {len(topic_rows)} ordinary questions"
    )
    print(f"{'lr floor':>9}{'margin':>8}{'recall':>8}{'calm full':>10}{'calm check-in':>14}{'NLU any':>9}")
    for lr_floor in (0.0, shipped_margin_floor(), 0.2):
        for margin in (None, 0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2):

            def decide(row, margin=margin, lr_floor=lr_floor):
                return tier(row, *settings, margin=margin, margin_floor=lr_floor)

            c, n, t = ([decide(r) for r in group] for group in (crisis, calm_rows, topic_rows))
            label = "shipped" if margin is None else f"{margin:.2f}"
            print(
                f"{lr_floor:>9.3f}{label:>8}{sum(x > 0 for x in c):>8}{sum(x == 2 for x in n):>10}"
                f"{sum(x == 1 for x in n):>14}{sum(x > 0 for x in t):>9}"
            )


def aside_sweep(crisis, calm_rows, topic_rows, extra_rows, tier) -> None:
    """The question set aside (not in the server), off and on, at check-in thresholds around the
    shipped one; the extra writers' messages (never trained on) counted apart."""
    high, middle, floor, verifier_floor, drop = shipped_tier_settings()
    extra_crisis = [r for r in extra_rows if r[0] != risk_data.CALM]
    extra_calm = [r for r in extra_rows if r[0] == risk_data.CALM]
    asked = sum(r[10] is not None for r in crisis + calm_rows if len(r) > 10)
    print(
        f"\nthe question set aside (not in the server): {asked} of {len(crisis) + len(calm_rows)} writers'"
        f" messages have a question beside other sentences; extra: {len(extra_crisis)} crisis,"
        f" {len(extra_calm)} calm"
    )
    print(
        f"{'check-in':>9}{'aside':>6}{'recall':>8}{'full':>7}{'calm full':>11}{'calm check-in':>21}"
        f"{'NLU any':>9}{'extra recall':>14}{'extra calm full':>17}{'extra calm check-in':>21}"
    )
    for check_in in (0.35, 0.4, 0.45, 0.5, 0.55):
        for aside in (False, True):
            c, n, t, ec, en = (
                [tier(r, high, check_in, floor, verifier_floor, drop, aside=aside) for r in group]
                for group in (crisis, calm_rows, topic_rows, extra_crisis, extra_calm)
            )
            print(
                f"{check_in:>9.2f}{str(aside):>6}{sum(x > 0 for x in c):>8}{sum(x == 2 for x in c):>7}"
                f"{sum(x == 2 for x in n):>11}{sum(x == 1 for x in n):>14} {np.mean([x == 1 for x in n]):.4f}"
                f"{sum(x > 0 for x in t):>9}{sum(x > 0 for x in ec):>14}{sum(x == 2 for x in en):>17}"
                f"{sum(x == 1 for x in en):>21}"
            )


def sentence_sweep(crisis, calm_rows, topic_rows, tier) -> None:
    """The sentence check-in's threshold swept with everything else as config.yml ships it."""
    fixed = shipped_tier_settings()
    print("\nthe sentence check-in (not in the server; None: as shipped), swept")
    print(f"{'sentence':>9}{'recall':>8}{'full':>7}{'calm full':>11}{'calm check-in':>15}{'NLU any':>9}")
    for sentence in (None, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
        c, n, t = (
            [tier(r, *fixed, sentence_threshold=sentence) for r in group]
            for group in (crisis, calm_rows, topic_rows)
        )
        print(
            f"{str(sentence):>9}{sum(x > 0 for x in c):>8}{sum(x == 2 for x in c):>7}"
            f"{sum(x == 2 for x in n):>11}{sum(x == 1 for x in n):>15}{sum(x > 0 for x in t):>9}"
        )


def shipped_component(name: str) -> dict:
    """A pipeline component's settings as config.yml ships them (read here, not copied)."""
    for component in yaml_files.read(ROOT / "config.yml")["pipeline"]:
        if component["name"].endswith(name):
            return component
    raise SystemExit(f"config.yml has no {name}")


def shipped_settings() -> dict:
    """The crisis detector's thresholds as config.yml ships them."""
    return shipped_component("CrisisDetector")


def shipped_tier_settings() -> tuple:
    """The arguments of report()'s tier() after the row, as config.yml ships them: (full reply,
    check-in, pattern floor, verifier floor, (drop model, drop verifier))."""
    shipped = shipped_settings()
    return (
        shipped["risk_crisis_threshold"],
        shipped["risk_check_in_threshold"],
        shipped["risk_pattern_floor"],
        shipped["pattern_verifier_floor"],
        (shipped["pattern_drop_model"], shipped["pattern_drop_verifier"]),
    )


def shipped_margin() -> float | None:
    """The nearest-neighbour check-in's margin as config.yml ships it (None: off)."""
    margin = float(shipped_settings().get("neighbour_check_in_margin", 1.0))
    return margin if margin < 1.0 else None


def shipped_risk_settings() -> dict:
    """The crisis risk model's settings as config.yml ships them."""
    return shipped_component("CrisisRiskModel")


def shipped_margin_floor() -> float:
    """The risk model's score under which the server computes no margin (config.yml)."""
    return float(shipped_risk_settings().get("neighbours_min_score", 0.0))


def shipped_sweeps(crisis, calm_rows, topic_rows, tier) -> None:
    """Counts for the two thresholds the rules choose (docs/crisis-detection.md), each swept with
    everything else as config.yml ships it: the check-in threshold, then the pattern verifier's floor."""
    high, middle, floor, verifier_floor, drop = shipped_tier_settings()
    print(
        f"\nas shipped (full {high}, check-in {middle}, pattern floor {floor}, verifier {verifier_floor},"
        f" drop {drop[0]}/{drop[1]}), one threshold swept at a time: counts of {len(crisis)} crisis,"
        f" {len(calm_rows)} calm, {len(topic_rows)} ordinary questions"
    )
    print(
        f"{'check-in':>9}{'verifier':>9}{'recall':>8}{'full':>7}{'calm full':>11}"
        f"{'calm check-in':>15}{'NLU any':>9}"
    )
    sweeps = [(m, verifier_floor) for m in (0.35, 0.4, 0.45, 0.5, 0.55)]
    sweeps += [(middle, v) for v in (0.3, 0.4, 0.5, 0.6, 0.7)]
    margin, gate = shipped_margin(), shipped_margin_floor()
    print(
        f"(with the nearest-neighbour check-in at margin {margin}, risk score {gate} or more)"
        if margin is not None
        else ""
    )
    for check_in, verifier in sweeps:
        c, n, t = (
            [tier(r, high, check_in, floor, verifier, drop, margin=margin, margin_floor=gate) for r in group]
            for group in (crisis, calm_rows, topic_rows)
        )
        print(
            f"{check_in:>9.2f}{verifier:>9.2f}{sum(x > 0 for x in c):>8}{sum(x == 2 for x in c):>7}"
            f"{sum(x == 2 for x in n):>6} {np.mean([x == 2 for x in n]):.4f}"
            f"{sum(x == 1 for x in n):>6} {np.mean([x == 1 for x in n]):.4f}"
            f"{sum(x > 0 for x in t):>9}"
        )


if __name__ == "__main__":
    sys.exit(main())
