"""Chooses the crisis risk model's thresholds by cross-validation across writers (`make crisis-cv`).

Each writer's file in data/crisis/ is held out in turn: the model is trained exactly as `rasa train`
trains it (nlu_components/crisis/risk_model.py: the other writers' examples, every non-crisis NLU
example as calm, chunks, the riskiest-chunk second pass) and scores the held-out writer's messages
as the server would (chunks, riskiest counts). Each message then gets the decision the crisis
detector would make: a pattern match is the full reply; otherwise the model's score, after the
patterns' past/negation/idiom checks (CrisisJudge.judge_model). The grid prints recall (full reply
or check-in) on crisis messages and the rates of full replies and check-ins on calm ones.

Holding out whole writers is the honest split: a writer's phrasings repeat within their file, so a
random split would flatter the model. No evaluation set is read here.
"""

from __future__ import annotations

import argparse
import json
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

ROOT = Path(__file__).resolve().parent.parent


def nlu_texts(crisis: bool) -> list:
    """The Rasa NLU examples of the `crisis` intent (crisis=True) or of every other intent."""
    texts = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml_files.read(path).get("nlu") or []:
            if block.get("intent") and (block["intent"] in risk_model.NOT_CALM_INTENTS) == crisis:
                texts += evaluation.examples(block.get("examples") or "")
    return texts


def demotions(judge: CrisisJudge, text: str, category: str) -> int:
    """How many tiers the patterns' checks take off a model alarm on `text` (0, 1, or 2 = all)."""
    verdict = judge.judge_model(text, 1.0, category, 0.5, 0.0)
    return 2 if verdict is None else (0 if verdict.tier == "crisis" else 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=30.0)
    parser.add_argument("--embedding-weight", type=float, default=1.0)
    parser.add_argument("--rows", type=Path, help="save the scored rows here, or read them if it exists")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        # scores as saved; pattern decisions and the checks again, with today's pattern files
        judge = CrisisJudge.load(ROOT / "safety" / "crisis_patterns")
        rows = []
        for label, _pattern, score, _demotions, text, category in json.loads(args.rows.read_text()):
            rows.append(
                (
                    label,
                    judge.detect(text) is not None,
                    score,
                    demotions(judge, text, category),
                    text,
                    category,
                )
            )
        return report(rows)
    config = {"C": args.C, "class_weight": "balanced", "embedding_weight": args.embedding_weight}
    encoder = Encoder(cache_size=100_000)
    judge = CrisisJudge.load(ROOT / "safety" / "crisis_patterns")
    examples = risk_data.load(ROOT / "data" / "crisis")
    calm = nlu_texts(crisis=False)
    nlu_crisis = risk_model.categorised(nlu_texts(crisis=True), ROOT / "safety" / "crisis_patterns")
    by_writer = defaultdict(list)
    for example in examples:
        by_writer[example.source].append(example)
    rows = []  # (label, pattern matched, score, demotions, text, model category)
    # The assistant's own NLU examples (ordinary questions) are held out a quarter at a time with
    # each writer: how often would an ordinary question get a check-in?
    quarters = {writer: calm[i :: len(by_writer)] for i, writer in enumerate(sorted(by_writer))}
    for writer, held_out in sorted(by_writer.items()):
        training = [e for e in examples if e.source != writer]
        held_calm = set(quarters[writer])
        scorer, _labels = risk_model.train_scorer(
            training + nlu_crisis, encoder, [t for t in calm if t not in held_calm], config
        )
        held_out = held_out + [risk_data.Example(t, "topic", "self", "nlu") for t in quarters[writer]]
        for example in held_out:
            found = risk_model.score_text(scorer, encoder, example.text)
            pattern = judge.detect(example.text) is not None
            lowered = demotions(judge, example.text, found["category"])
            rows.append((example.label, pattern, found["score"], lowered, example.text, found["category"]))
        print(f"held out {writer}: {len(held_out)} messages", flush=True)
    if args.rows:
        args.rows.write_text(json.dumps(rows))
    return report(rows)


def report(rows) -> int:
    crisis = [r for r in rows if r[0] not in (risk_data.CALM, "topic")]
    calm_rows = [r for r in rows if r[0] == risk_data.CALM]
    topic_rows = [r for r in rows if r[0] == "topic"]

    def tier(row, high, middle, floor=0.0):
        if row[1]:
            return 2 if row[2] >= floor else 1
        level = (2 if row[2] >= high else 1 if row[2] >= middle else 0) - row[3]
        return max(0, level) if row[2] >= middle else 0

    patterns_only = sum(r[1] for r in crisis) / len(crisis)
    print(
        f"\npatterns alone: recall {patterns_only:.3f}, calm full replies "
        f"{sum(r[1] for r in calm_rows) / len(calm_rows):.3f} ({len(crisis)} crisis, {len(calm_rows)} calm)"
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
    print("\npattern hits whose model score is below a floor become check-ins (high 0.9, middle 0.5):")
    for floor in (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        c = [tier(r, 0.9, 0.5, floor) for r in crisis]
        n = [tier(r, 0.9, 0.5, floor) for r in calm_rows]
        print(
            f"  floor {floor:.2f}: recall {np.mean([t > 0 for t in c]):.3f}, "
            f"full {np.mean([t == 2 for t in c]):.3f}, "
            f"calm full {np.mean([t == 2 for t in n]):.3f}, calm check-in {np.mean([t == 1 for t in n]):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
