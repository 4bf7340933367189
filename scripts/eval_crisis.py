"""Measures Haven's crisis detector on tests/safety/crisis_eval.yml (used by `make eval`).

Prints recall over the crisis messages (a hit needs the right category; the subject is reported
too), the false-alarm rate over the non-crisis messages, and every miss and false alarm.
Exit status 1 when recall < 100% or false alarms > 3%, so CI can use it as a gate.

    python scripts/eval_crisis.py [--eval FILE] [--patterns DIR] [--spacy-model DIR] [--model TAR]

--model runs the whole trained NLU pipeline (classifier, fallback, detector) instead of the
detector alone, and shows which rule raised each false alarm ("classifier" = the trained intent).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent

MAX_FALSE_ALARM_RATE = 0.03


def load_eval(path: Path) -> Dict[str, List[Dict[str, Any]]]:
    from haven import yaml_files

    data = yaml_files.read_12(path)
    return {"crisis": data["crisis"], "not_crisis": data["not_crisis"]}


def evaluate(detector: Any, data: Dict[str, List[Dict[str, Any]]], nlp: Any | None = None) -> Dict[str, Any]:
    """Runs the detector over the eval set; `nlp` (SpacyNLP's pipeline) supplies docs like Rasa."""

    def detect(text: str) -> Any:
        doc = nlp(text.lower()) if nlp is not None else None
        return detector.detect(text, doc)

    misses, wrong_subject, false_alarms = [], [], []
    start = time.perf_counter()
    for item in data["crisis"]:
        found = detect(item["text"])
        if found is None or found[0] != item["category"]:
            misses.append((item, found))
        elif found[1] != item["subject"]:
            wrong_subject.append((item, found))
    for item in data["not_crisis"]:
        found = detect(item["text"])
        if found is not None:
            false_alarms.append((item, found))
    elapsed = time.perf_counter() - start
    n_crisis, n_safe = len(data["crisis"]), len(data["not_crisis"])
    return {
        "recall": (n_crisis - len(misses)) / n_crisis,
        "subject_accuracy": (n_crisis - len(misses) - len(wrong_subject)) / n_crisis,
        "false_alarm_rate": len(false_alarms) / n_safe,
        "misses": misses,
        "wrong_subject": wrong_subject,
        "false_alarms": false_alarms,
        "n_crisis": n_crisis,
        "n_non_crisis": n_safe,
        "ms_per_message": 1000 * elapsed / (n_crisis + n_safe),
    }


class ModelDetector:
    """Adapts a trained Rasa model to `detect()`: the crisis verdict of the full NLU pipeline."""

    def __init__(self, model_path: str) -> None:
        import asyncio

        from haven_devtools import evaluation

        self._agent = evaluation.load_agent(Path(model_path))
        self._loop = asyncio.new_event_loop()

    def detect(self, text: str, doc: Any = None) -> Any:
        parsed = self._loop.run_until_complete(self._agent.parse_message(text))
        if parsed["intent"]["name"] != "crisis":
            return None
        found = parsed.get("crisis") or {}
        return found.get("category"), found.get("subject"), found.get("rule"), 0, len(text)


def report(result: Dict[str, Any]) -> str:
    lines = [
        f"crisis messages:     {result['n_crisis']}",
        f"recall (category):   {result['recall']:.1%}",
        f"subject correct:     {result['subject_accuracy']:.1%}",
        f"non-crisis messages: {result['n_non_crisis']}",
        f"false-alarm rate:    {result['false_alarm_rate']:.1%}",
        f"time per message:    {result['ms_per_message']:.3f} ms",
    ]
    sections = (("MISSED", "misses"), ("WRONG SUBJECT", "wrong_subject"), ("FALSE ALARM", "false_alarms"))
    for title, key in sections:
        for item, found in result[key]:
            expected = f"{item.get('category', '-')}/{item.get('subject', '-')}"
            lines.append(f"{title}: {item['text']!r} expected {expected}, got {found}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", default=str(ROOT / "tests/safety/crisis_eval.yml"))
    parser.add_argument("--patterns", default=str(ROOT / "safety/crisis_patterns"))
    parser.add_argument(
        "--spacy-model",
        default=None,
        help="also run with docs from this spaCy pipeline, as SpacyNLP would (e.g. build/spacy-en)",
    )
    parser.add_argument("--model", default=None, help="a trained model, e.g. models/haven.tar.gz")
    args = parser.parse_args()

    from nlu_components.crisis import CrisisDetector

    detector = ModelDetector(args.model) if args.model else CrisisDetector({"patterns": args.patterns})
    data = load_eval(Path(args.eval))
    result = evaluate(detector, data)
    print(report(result))
    ok = not result["misses"] and result["false_alarm_rate"] <= MAX_FALSE_ALARM_RATE
    if args.spacy_model and not args.model:
        import spacy

        print(f"\nwith docs from {args.spacy_model}:")
        spacy_result = evaluate(detector, data, spacy.load(args.spacy_model))
        print(report(spacy_result))
        ok = ok and not spacy_result["misses"] and spacy_result["false_alarm_rate"] <= MAX_FALSE_ALARM_RATE
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
