"""Contrastive (SetFit-style) fine-tuning of the sentence encoder for the FAQ matcher: measured, not shipped.

The issue of understanding names it as the lever past frozen embeddings: tune all-MiniLM-L6-v2 itself on
pairs of example questions, "same entry" against "different entry, or not the FAQ", with the TensorFlow
2.12 that Rasa installs (no torch), then fit the matcher's regression on the tuned embeddings as today.
This script does both halves, so the measurement in docs/faq.md can be re-run:

    .venv/bin/python scripts/faq_contrastive.py tune --seed 0            # about 4-8 min on 2 cores
    .venv/bin/python scripts/faq_contrastive.py evaluate build/faq-contrastive/seed0.safetensors
    .venv/bin/python scripts/faq_contrastive.py evaluate --blind build/faq-contrastive/seed0.safetensors

`tune` trains on the matcher's own training data only (content/faq.yml's example questions, data/faq's
extra examples, and the "not the FAQ" examples: data/nlu's out-of-scope and article-topic ones and the
look-alikes), never on tests/nlu. Pairs as SetFit makes them: for every entry question, `--pairs` times
one question of the same entry (target cosine 1) and one of another entry or of "not the FAQ" (target
0); for every "not the FAQ" example, one entry question (target 0); two "not the FAQ" examples are never
paired (they share no meaning). Loss: (cosine - target)², SetFit's CosineSimilarityLoss. The embedding
tables stay frozen; the six transformer layers are tuned (Adam, 2e-5, batches of 16 pairs, one pass).

`evaluate` sends each message of the development and tuning sets (and with --blind the blind sets,
counts only) through the trained Rasa model and the route the rules take
(haven_devtools/faq_evaluation.py), once with the matcher on the pinned encoder and once per tuned
weights file. The NLU is the same in both: only the matcher's embedding changes.

Serving a tuned encoder would need: this training in `make train` (minutes on CI), the tuned weights
as a second file beside the pinned ones with their own recorded hash, and the action server loading
a second encoder (about 90 MB). docs/faq.md says what the numbers were and why it was not built.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT_DIR = ROOT / "build" / "faq-contrastive"
FROZEN = ("embeddings.", "pooler.")  # the lookup tables and the unused pooler are not tuned

Pair = Tuple[str, str, float]


def training_classes() -> Tuple[Dict[str, List[str]], List[str]]:
    """The matcher's training examples (haven/services/faq.Matcher): questions by entry, and "not the FAQ"."""
    from haven.services import faq

    file = faq.load()
    extra = faq.extra_examples()
    classes = {e.id: list(e.questions) + list(extra.entries.get(e.id, [])) for e in file.entries}
    return classes, faq.other_examples() + list(extra.not_faq) + list(file.not_faq)


def make_pairs(
    classes: Dict[str, List[str]], other: Sequence[str], pairs: int, rng: random.Random
) -> List[Pair]:
    """SetFit's pairs (module docstring), shuffled."""
    ids = list(classes)
    out: List[Pair] = []
    for entry in ids:
        for text in classes[entry]:
            for _ in range(pairs):
                out.append((text, rng.choice(classes[entry]), 1.0))
                against = rng.choice([x for x in ids if x != entry] + [None])
                out.append((text, rng.choice(classes[against] if against else list(other)), 0.0))
    for text in other:
        out.append((text, rng.choice(classes[rng.choice(ids)]), 0.0))
    rng.shuffle(out)
    return out


def tune(args: argparse.Namespace) -> int:
    import tensorflow as tf
    from safetensors.numpy import save_file

    from haven.encoder import load_encoder
    from haven.encoder.weights import load_weights
    from haven.encoder.wordpieces import pad
    from haven_devtools import tf_encoder

    tf.random.set_seed(args.seed)
    pinned = load_encoder()  # verifies the pinned files' hashes
    weights = load_weights(pinned.model_dir / "model.safetensors")
    w = {
        name: tf.constant(value) if name.startswith(FROZEN) else tf.Variable(value)
        for name, value in weights.items()
        if value.dtype.kind == "f"
    }
    trainable = [v for v in w.values() if isinstance(v, tf.Variable)]

    forward = tf_encoder.forward(w)

    optimizer = tf.keras.optimizers.Adam(learning_rate=args.lr)
    ids_spec = tf.TensorSpec([None, None], tf.int64)

    @tf.function(input_signature=[ids_spec] * 4 + [tf.TensorSpec([None], tf.float32)], reduce_retracing=True)
    def step(a_ids, a_mask, b_ids, b_mask, target):
        with tf.GradientTape() as tape:
            cosine = tf.reduce_sum(forward(a_ids, a_mask) * forward(b_ids, b_mask), axis=1)
            loss = tf.reduce_mean((cosine - target) ** 2)
        grads = tape.gradient(loss, trainable)
        optimizer.apply_gradients(zip(grads, trainable))  # noqa: B905 - autograph's zip takes no strict=
        return loss

    classes, other = training_classes()
    pairs = make_pairs(classes, other, args.pairs, random.Random(args.seed))[: args.max_pairs]
    print(f"{sum(map(len, classes.values()))} entry questions, {len(other)} not the FAQ: {len(pairs)} pairs")
    wordpieces, began, losses = pinned._wordpieces, time.monotonic(), []
    for start in range(0, len(pairs), args.batch):
        batch = pairs[start : start + args.batch]
        a, b = (pad(wordpieces.ids([pair[side] for pair in batch])) for side in (0, 1))
        target = np.array([pair[2] for pair in batch], np.float32)
        losses.append(float(step(*(x.astype(np.int64) for x in (*a, *b)), target)))
        if len(losses) % 100 == 0:
            print(
                f"  step {len(losses)}: loss {np.mean(losses[-100:]):.4f}, {time.monotonic() - began:.0f} s",
                flush=True,
            )
    tuned = dict(weights)
    tuned.update({name: value.numpy().astype(np.float32) for name, value in w.items()})
    out = Path(args.out or OUT_DIR / f"seed{args.seed}.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tuned, str(out))
    print(f"tuned in {time.monotonic() - began:.0f} s; saved {out}")
    return 0


class TunedEncoder:
    """Tuned weights in the shipped runtime's graph, with the pinned tokenizer. Deliberately not a
    haven.encoder.Encoder: the matcher keeps the pinned encoder's vectors on disk by its hashes, and
    must not read them for these."""

    def __init__(self, path: Path) -> None:
        from haven.encoder import load_encoder
        from haven.encoder.onnx_model import OnnxEncoder
        from haven.encoder.weights import load_weights

        self._wordpieces = load_encoder()._wordpieces
        self._run = OnnxEncoder(load_weights(path)).encode_ids
        self._cache: Dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from haven.encoder.encoder import encode_by_length

        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = encode_by_length(self._wordpieces, self._run, missing, 32)
            self._cache.update(zip(missing, vectors, strict=True))
        return np.array([self._cache[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)


def evaluate(args: argparse.Namespace) -> int:
    from haven.services import faq
    from haven_devtools import faq_evaluation as fe

    agent = fe.load_agent(ROOT / "models" / "haven.tar.gz")
    sets = [fe.DEV, fe.TUNE] + (fe.blind_sets() if args.blind else [])
    runs = [("pinned encoder", None)] + [(str(p), p) for p in args.weights]
    totals = {}
    for label, path in runs:
        matcher = faq.Matcher(faq.load(), encoder=TunedEncoder(path) if path else None)
        print(f"\n{label}")
        for set_path in sets:
            result = fe.run_set(agent, matcher, set_path.stem, *fe._load(set_path))
            print(
                f'  {set_path.stem}: right entry {result.right}/{result.questions}, with a "Did you mean"'
                f" {result.right + result.offered}, look-alikes refused {result.refused}/{result.negatives},"
                f" article questions kept {result.articles_kept}/{result.articles}"
            )
            if set_path not in (fe.DEV, fe.TUNE):
                t = totals.setdefault(label, [0, 0, 0, 0])
                t[0] += result.right
                t[1] += result.questions
                t[2] += result.refused
                t[3] += result.negatives
    for label, (right, questions, refused, negatives) in totals.items():
        print(
            f"blind sets pooled, {label}: right entry {right}/{questions},"
            f" look-alikes refused {refused}/{negatives}"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stages = parser.add_subparsers(dest="stage", required=True)
    t = stages.add_parser("tune", help="fine-tune and save the weights")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--pairs", type=int, default=4, help="positive and negative pairs per entry question")
    t.add_argument("--lr", type=float, default=2e-5)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--out", type=Path)
    t.add_argument("--max-pairs", type=int, help="only the first N pairs (a smoke run)")
    e = stages.add_parser("evaluate", help="the matcher on the pinned and the tuned encoders")
    e.add_argument("weights", type=Path, nargs="*")
    e.add_argument("--blind", action="store_true", help="the blind sets too (counts only)")
    args = parser.parse_args()
    return tune(args) if args.stage == "tune" else evaluate(args)


if __name__ == "__main__":
    raise SystemExit(main())
