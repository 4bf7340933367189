"""The model's shape and its weights, read from the pinned `model.safetensors`.

all-MiniLM-L6-v2 is a BERT encoder (6 layers, 12 heads, hidden size 384, feed-forward 1536, erf GELU,
LayerNorm eps 1e-12) followed by mean pooling and L2 normalisation. The architecture is written here as
constants rather than read from config.json: the hashes pin the weights, and a config that disagreed
with them could only break the forward pass. `check_shapes` catches a mismatch at load time.

safetensors (Hugging Face's format: a JSON header and raw little-endian arrays, no pickle, so loading
cannot run code) is read with `safetensors.numpy`, already installed with Rasa.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np

DIM = 384
LAYERS = 6
HEADS = 12
HEAD_DIM = DIM // HEADS
FFN = 1536
VOCAB = 30522
MAX_POSITION_EMBEDDINGS = 512
LAYER_NORM_EPS = 1e-12

Weights = Dict[str, np.ndarray]


def load_weights(path: Path) -> Weights:
    """All tensors of the safetensors file, by their BERT names
    ("encoder.layer.0.attention.self.query.weight")."""
    from safetensors.numpy import load_file

    weights = load_file(str(path))
    check_shapes(weights)
    return weights


def check_shapes(weights: Weights) -> None:
    expected = {
        "embeddings.word_embeddings.weight": (VOCAB, DIM),
        "embeddings.position_embeddings.weight": (MAX_POSITION_EMBEDDINGS, DIM),
        "embeddings.token_type_embeddings.weight": (2, DIM),
        "encoder.layer.0.intermediate.dense.weight": (FFN, DIM),
        f"encoder.layer.{LAYERS - 1}.output.dense.weight": (DIM, FFN),
    }
    for name, shape in expected.items():
        if name not in weights or weights[name].shape != shape:
            found = weights[name].shape if name in weights else "missing"
            raise ValueError(f"model.safetensors: {name} should have shape {shape}, found {found}")


def layer(weights: Weights, index: int, name: str) -> np.ndarray:
    """One tensor of encoder layer `index`, e.g. layer(w, 0, "attention.self.query.weight")."""
    return weights[f"encoder.layer.{index}.{name}"]
