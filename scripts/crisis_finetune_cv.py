"""Would a fine-tuned sentence encoder read crisis messages better than the frozen one?

`make crisis-finetune-cv`. An experiment, not part of the product: nothing here is served. The crisis
risk model (nlu_components/crisis/risk_model.py) is a logistic regression over the *frozen*
all-MiniLM-L6-v2 embedding and TF-IDF n-grams; docs/crisis-detection.md named fine-tuning the encoder as
the next lever for the shapes it misreads (a crisis clause inside the story, a question beside a
disclosure). This script measures that lever on the writers' data before anyone builds a serving path
for it.

Four stages, because the fine-tuning needs torch and transformers, which the product's .venv does not
have (Rasa 3.6's pins; `make crisis-finetune-cv` keeps them in .venv-finetune):

  prepare   (.venv)           the training data with each writer in one of four groups, the shipped
                              scorer's scores on each held-out group (trained as `rasa train` trains it
                              on the other three), and which messages a reviewed pattern matches;
                              with --blind also the shipped scorer trained on everything, on the blind
                              sets (tests/safety/blind; counts are all that is ever printed of them)
  finetune  (.venv-finetune)  the encoder and a linear head fine-tuned on three groups, scored on the
                              fourth (mean pooling, cross-entropy over calm/suicide/self_harm/danger,
                              class-balanced, 2 epochs, AdamW 3e-5, batch 32, 128 wordpieces); with
                              --blind one more model on everything, scored on the blind sets
  hybrid    (.venv)           the shipped scorer again, trained and scored with each group's fine-tuned
                              encoder's embedding in place of the frozen one (the n-grams beside it as
                              shipped): what a tuned encoder would give if it replaced the pinned one
                              under the risk model; with --blind also on the blind sets
  report    (either)          recall on crisis messages at thresholds that give 1/3/10/20% alarms on the
                              held-out calm messages, and the held-out ordinary questions' alarm rate
                              there, for the shipped scorer, the fine-tuned one, the hybrid and blends;
                              "with patterns" counts a message as caught when a pattern matches it or
                              its score passes (the detector's two routes, its tiers left aside)

Four groups of writers rather than one writer at a time (crisis_model_cv.py): a fine-tuning takes 6-9
minutes on 2 cores, sixteen would take over two hours. Both scorers train on the same three quarters,
so the comparison is fair; both are a little weaker than with fifteen writers of sixteen.
Seeded (torch, random), on the CPU; runs on another machine may differ in the last digits.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "finetune"
GROUPS = 4
LABELS = ("calm", "suicide", "self_harm", "danger")
RATES = (0.01, 0.03, 0.10, 0.20)
BLENDS = (0.3, 0.5, 0.7)


def _write(name: str, data) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(json.dumps(data))


def _optional(name: str):
    """A stage's output when that stage has run, else None."""
    return json.loads((OUT / name).read_text()) if (OUT / name).exists() else None


def _read(name: str):
    path = OUT / name
    if not path.exists():
        sys.exit(f"{path} is missing: run the earlier stage first (see --help)")
    return json.loads(path.read_text())


# -- prepare (.venv) -------------------------------------------------------------------------------


@functools.cache
def _shipped_config() -> dict:
    """The risk model's settings as `rasa train` uses them: the component's defaults under config.yml's
    CrisisRiskModel entry (read here, not copied, like crisis_model_cv.shipped_settings)."""
    from haven import yaml_files
    from nlu_components.crisis import CrisisRiskModel

    for component in yaml_files.read(ROOT / "config.yml")["pipeline"]:
        if component["name"].endswith("CrisisRiskModel"):
            return {**CrisisRiskModel.get_default_config(), **component}
    raise SystemExit("config.yml has no CrisisRiskModel")


@functools.cache
def _training_data():
    """(writers' examples, the NLU's crisis examples categorised, the NLU's calm texts, writer -> group,
    calm text -> group): what `rasa train` trains the risk model on, with the groups held out in turn.
    Read once per process (the stages ask for it per group)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    from crisis_model_cv import nlu_texts

    from nlu_components.crisis import risk_data, risk_model

    examples = risk_data.load(ROOT / "data" / "crisis")
    calm = nlu_texts(crisis=False)
    nlu_crisis = risk_model.categorised(nlu_texts(crisis=True), ROOT / "safety" / "crisis_patterns")
    group = {w: i % GROUPS for i, w in enumerate(sorted({e.source for e in examples}))}
    calm_group = {t: i % GROUPS for i, t in enumerate(calm)}
    return examples, nlu_crisis, calm, group, calm_group


def _scored(encoder, held_out: int | None, texts) -> dict:
    """The shipped scorer trained as `rasa train` trains it, with `encoder`'s vectors, on every writer and
    calm text but group `held_out` (None: on everything), and its score for each of `texts`."""
    from nlu_components.crisis import risk_model

    examples, nlu_crisis, calm, group, calm_group = _training_data()
    training = [e for e in examples if group[e.source] != held_out]
    training_calm = [t for t in calm if calm_group[t] != held_out]
    scorer, _ = risk_model.train_scorer(training + nlu_crisis, encoder, training_calm, _shipped_config())
    return {t: risk_model.score_text(scorer, encoder, t)["score"] for t in texts}


def _held_out(g: int) -> list:
    """Group g's writers' messages and calm NLU texts."""
    examples, _, calm, group, calm_group = _training_data()
    return [e.text for e in examples if group[e.source] == g] + [t for t in calm if calm_group[t] == g]


def prepare(blind: bool) -> None:
    from haven.encoder import Encoder, pins
    from haven_devtools import evaluation
    from nlu_components.crisis import CrisisJudge

    examples, nlu_crisis, calm, group, calm_group = _training_data()
    model_dir = pins.model_dir()
    pins.verify(model_dir)
    data = {
        "model_dir": str(model_dir),
        "examples": [(e.text, e.label, group[e.source]) for e in examples],
        "nlu_crisis": [(e.text, e.label) for e in nlu_crisis],
        "nlu_calm": [(t, calm_group[t]) for t in calm],
        "blind": [],
    }
    if blind:
        for path in evaluation.blind_crisis_files():
            crisis, not_crisis = evaluation.crisis_set(path)
            data["blind"] += [(c["text"] if isinstance(c, dict) else c, 1, path.stem) for c in crisis]
            data["blind"] += [(t, 0, path.stem) for t in not_crisis]
    _write("data.json", data)
    encoder = Encoder(cache_size=100_000)
    scores = {}
    for g in range(GROUPS):
        held = _held_out(g)
        scores.update(_scored(encoder, g, held))
        print(f"shipped scorer, group {g} held out: {len(held)} messages", flush=True)
    _write("shipped.json", scores)
    if blind:
        _write("shipped_blind.json", _scored(encoder, None, [t for t, _, _ in data["blind"]]))
        print(f"shipped scorer on everything: {len(data['blind'])} blind messages scored", flush=True)
    trained = {e[0] for e in data["examples"]} | {t for t, _ in data["nlu_crisis"]} | set(calm)
    _write("embed.json", sorted(trained | {c for t in trained for c in encoder.chunks(t)}))
    if blind:
        _write("embed_blind.json", sorted({c for b in data["blind"] for c in [b[0], *encoder.chunks(b[0])]}))
    judge = CrisisJudge.load(ROOT / "safety" / "crisis_patterns")
    matched = {e[0] for e in data["examples"]} | set(calm) | {b[0] for b in data["blind"]}
    _write("pattern_hits.json", {t: judge.detect(t) is not None for t in matched})


# -- finetune (.venv-finetune) ---------------------------------------------------------------------


def finetune(blind: bool, epochs: int) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    data = _read("data.json")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    tokenizer = AutoTokenizer.from_pretrained(data["model_dir"])

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(data["model_dir"])
            self.head = torch.nn.Linear(384, len(LABELS))

        def embed(self, batch):
            hidden = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # the encoder's own pooling
            return torch.nn.functional.normalize(pooled, dim=-1)

        def forward(self, batch):
            return self.head(self.embed(batch) * 20.0)

    def batches(items, size, rng=None):
        ordered = sorted(items, key=lambda item: len(item[0]))  # similar lengths: less padding
        out = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        if rng is not None:
            rng.shuffle(out)
        return out

    def tokens(batch):
        return tokenizer(
            [b[0] for b in batch], padding=True, truncation=True, max_length=128, return_tensors="pt"
        )

    def train(items):
        torch.manual_seed(0)
        rng = random.Random(0)
        model = Classifier()
        counts = np.bincount([y for _, y in items], minlength=len(LABELS))
        weights = torch.tensor(len(items) / (len(LABELS) * counts), dtype=torch.float32)
        optimiser = torch.optim.AdamW(
            [
                {"params": model.encoder.parameters(), "lr": 3e-5},
                {"params": model.head.parameters(), "lr": 1e-3},
            ],
            weight_decay=0.01,
        )
        steps = epochs * len(batches(items, 32))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps)
        )
        started = time.time()
        for _ in range(epochs):
            model.train()
            for batch in batches(items, 32, rng):
                labels = torch.tensor([b[1] for b in batch])
                loss = torch.nn.functional.cross_entropy(model(tokens(batch)), labels, weight=weights)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
        print(f"  fine-tuned on {len(items)} messages in {time.time() - started:.0f} s", flush=True)
        return model

    def risk(model, texts):
        model.eval()
        out = {}
        with torch.no_grad():
            for batch in batches([(t, 0) for t in set(texts)], 64):
                calm = torch.softmax(model(tokens(batch)), -1)[:, 0]
                out.update({b[0]: 1.0 - float(p) for b, p in zip(batch, calm, strict=True)})
        return out

    def embeddings(model, texts, name):
        """The tuned encoder's sentence embedding of every text, for the hybrid stage (rows in the
        order of `texts`, float32)."""
        model.eval()
        vectors = {}
        with torch.no_grad():
            for batch in batches([(t, 0) for t in texts], 64):
                vectors.update(zip([b[0] for b in batch], model.embed(tokens(batch)).numpy(), strict=True))
        OUT.mkdir(parents=True, exist_ok=True)
        np.save(OUT / name, np.stack([vectors[t] for t in texts]).astype(np.float32))

    embed = _read("embed.json")
    nlu_crisis = [(t, LABELS.index(label)) for t, label in data["nlu_crisis"]]
    scores = {}
    for g in range(GROUPS):
        items = [(t, LABELS.index(label)) for t, label, eg in data["examples"] if eg != g]
        items += nlu_crisis + [(t, 0) for t, cg in data["nlu_calm"] if cg != g]
        held = [t for t, _, eg in data["examples"] if eg == g] + [t for t, cg in data["nlu_calm"] if cg == g]
        print(f"group {g} held out: {len(held)} messages", flush=True)
        model = train(items)
        scores.update(risk(model, held))
        embeddings(model, embed, f"tuned_vectors_{g}.npy")
    _write("finetuned.json", scores)
    if blind and data["blind"]:
        items = [(t, LABELS.index(label)) for t, label, _ in data["examples"]]
        items += nlu_crisis + [(t, 0) for t, _ in data["nlu_calm"]]
        print("on everything, for the blind sets", flush=True)
        model = train(items)
        _write("finetuned_blind.json", risk(model, [b[0] for b in data["blind"]]))
        embeddings(model, embed + _read("embed_blind.json"), "tuned_vectors_all.npy")


# -- hybrid (.venv) --------------------------------------------------------------------------------


class TunedVectors:
    """The encoder interface the risk model trains and scores with (`encode`, `chunks`), answering
    `encode` from a fine-tuned encoder's saved embeddings and `chunks` from the pinned encoder's own
    tokenizer, so a message is cut exactly as the server cuts it."""

    def __init__(self, texts, vectors, chunker) -> None:
        self._rows = dict(zip(texts, vectors, strict=True))
        self._chunker = chunker

    def encode(self, texts):
        return np.stack([self._rows[t] for t in texts]) if len(texts) else np.zeros((0, 384), np.float32)

    def chunks(self, text: str):
        return self._chunker.chunks(text)


def hybrid(blind: bool) -> None:
    from haven.encoder import Encoder

    chunker = Encoder(cache_size=10)
    embed = _read("embed.json")
    scores = {}
    for g in range(GROUPS):
        encoder = TunedVectors(embed, np.load(OUT / f"tuned_vectors_{g}.npy"), chunker)
        held = _held_out(g)
        scores.update(_scored(encoder, g, held))
        print(f"hybrid scorer, group {g} held out: {len(held)} messages", flush=True)
    _write("hybrid.json", scores)
    if blind and (OUT / "tuned_vectors_all.npy").exists():
        data = _read("data.json")
        encoder = TunedVectors(
            embed + _read("embed_blind.json"), np.load(OUT / "tuned_vectors_all.npy"), chunker
        )
        _write("hybrid_blind.json", _scored(encoder, None, [t for t, _, _ in data["blind"]]))
        print(f"hybrid scorer on everything: {len(data['blind'])} blind messages scored", flush=True)


# -- report (either) -------------------------------------------------------------------------------


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def blends(shipped: dict, finetuned: dict, hybrid: dict | None = None) -> dict:
    """Each scorer's score per message, and blends of the two (weight on the fine-tuned one); with the
    hybrid's scores, also the hybrid and its 50/50 blend with the shipped scorer."""
    texts = [t for t in shipped if t in finetuned and (hybrid is None or t in hybrid)]
    out = {"shipped": {t: shipped[t] for t in texts}, "fine-tuned": {t: finetuned[t] for t in texts}}
    for w in BLENDS:
        out[f"blend {w:.1f}"] = {t: w * finetuned[t] + (1 - w) * shipped[t] for t in texts}
    out["logit sum"] = {t: logit(finetuned[t]) + logit(shipped[t]) for t in texts}
    if hybrid is not None:
        out["hybrid"] = {t: hybrid[t] for t in texts}
        out["hybrid+shipped"] = {t: 0.5 * hybrid[t] + 0.5 * shipped[t] for t in texts}
    return out


def threshold_at(calm_scores, rate: float) -> float:
    """The score above which `rate` of the calm messages lie."""
    return float(np.quantile(np.asarray(calm_scores), 1 - rate))


def recall_at(crisis_scores, calm_scores, rate: float, crisis_hits=None, calm_hits=None) -> tuple:
    """(recall, calm alarm rate, threshold) at the threshold giving `rate` alarms on calm messages; with
    pattern hits, a message is caught when a pattern matches it or it scores over the threshold, and the
    threshold is the one at which the calm messages' alarms from both routes come to `rate`."""
    crisis_scores, calm_scores = np.asarray(crisis_scores), np.asarray(calm_scores)
    if crisis_hits is None:
        th = threshold_at(calm_scores, rate)
        return float(np.mean(crisis_scores > th)), float(np.mean(calm_scores > th)), th
    crisis_hits, calm_hits = np.asarray(crisis_hits, bool), np.asarray(calm_hits, bool)
    rest = calm_scores[~calm_hits]
    budget = rate * len(calm_scores) - calm_hits.sum()
    th = (
        float(np.sort(rest)[::-1][int(budget)])
        if 0 <= budget < len(rest)
        else (math.inf if budget < 0 else -math.inf)
    )
    caught = crisis_hits | (crisis_scores > th)
    alarms = calm_hits | (calm_scores > th)
    return float(caught.mean()), float(alarms.mean()), th


def report(blind: bool) -> int:
    data = _read("data.json")
    hits = _read("pattern_hits.json")
    label = {t: lab for t, lab, _ in data["examples"]}
    ordinary = {t for t, _ in data["nlu_calm"]} - set(label)
    for name, scores in blends(
        _read("shipped.json"), _read("finetuned.json"), _optional("hybrid.json")
    ).items():
        crisis = [t for t in scores if label.get(t, "calm") != "calm"]
        calm = [t for t in scores if label.get(t) == "calm"]
        questions = [scores[t] for t in scores if t in ordinary]
        cells = []
        for rate in RATES:
            recall, _, th = recall_at([scores[t] for t in crisis], [scores[t] for t in calm], rate)
            with_patterns, _, _ = recall_at(
                [scores[t] for t in crisis], [scores[t] for t in calm], rate,
                [hits[t] for t in crisis], [hits[t] for t in calm],
            )  # fmt: skip
            cells.append(f"{recall:.3f} {with_patterns:.3f} {np.mean(np.asarray(questions) > th):.3f}")
        print(f"{name:14s} ({len(crisis)}/{len(calm)}/{len(questions)}) | " + " | ".join(cells))
    print(
        "columns: at 1%, 3%, 10%, 20% alarms on the held-out calm messages: recall by the score alone, "
        "recall with the patterns' matches too, ordinary questions over the score's threshold"
    )
    crisis = [t for t in label if label[t] != "calm"]
    calm = [t for t in label if label[t] == "calm"]
    print(
        f"the patterns alone (raw matches, before the verifier, any subject): crisis "
        f"{np.mean([hits[t] for t in crisis]):.3f}, calm {np.mean([hits[t] for t in calm]):.3f}; where the "
        "calm share is over a rate, that rate's 'with the patterns' recall is the patterns' alone"
    )
    if blind and (OUT / "finetuned_blind.json").exists():
        blind_report(data, label, hits)
    return 0


def blind_report(data, label: dict, hits: dict) -> None:
    """Counts per blind set at the thresholds the held-out groups gave (10% calm alarms): nothing else.

    Each cell: crisis messages caught by the score alone and with the patterns' matches too, of the
    set's crisis messages; calm messages alarmed the same two ways, of its calm ones. The last cell
    pools the sets."""
    held = blends(_read("shipped.json"), _read("finetuned.json"), _optional("hybrid.json"))
    on_blind = blends(
        _read("shipped_blind.json"), _read("finetuned_blind.json"), _optional("hybrid_blind.json")
    )
    sets = sorted({s for _, _, s in data["blind"]})
    print("\nblind sets at the threshold the held-out groups gave for 10% calm alarms (score alone): "
          "set crisis caught score/with patterns of n, calm alarmed score/with patterns of n")  # fmt: skip
    for name in ("shipped", "fine-tuned", "blend 0.5", "hybrid", "hybrid+shipped"):
        if name not in held or name not in on_blind:
            continue
        th = threshold_at([v for t, v in held[name].items() if label.get(t) == "calm"], 0.10)
        cells, pooled = [], np.zeros(6, int)
        for s in sets:
            row = np.zeros(6, int)
            for t, y, ss in data["blind"]:
                if ss != s:
                    continue
                over = on_blind[name][t] > th
                row += [
                    y and over,
                    y and (over or hits[t]),
                    y,
                    (not y) and over,
                    (not y) and (over or hits[t]),
                    not y,
                ]
            pooled += row
            cells.append(f"{s[-1].upper()} {row[0]}/{row[1]}/{row[2]} {row[3]}/{row[4]}/{row[5]}")
        cells.append(f"all {pooled[0]}/{pooled[1]}/{pooled[2]} {pooled[3]}/{pooled[4]}/{pooled[5]}")
        print(f"{name:14s} th {th:.3f}: " + ", ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("prepare", "finetune", "hybrid", "report"))
    parser.add_argument("--blind", action="store_true", help="also the blind crisis sets (counts only)")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if args.stage == "prepare":
        prepare(args.blind)
    elif args.stage == "finetune":
        finetune(args.blind, args.epochs)
    elif args.stage == "hybrid":
        hybrid(args.blind)
    else:
        return report(args.blind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
