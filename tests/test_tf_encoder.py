"""haven_devtools/tf_encoder.py, the TensorFlow forward pass the encoder benchmark and the contrastive
fine-tuning experiment use: the same vectors as the numpy reference, and gradients to every layer."""

from __future__ import annotations

import numpy as np
import pytest

from haven.encoder import Encoder
from haven.encoder.weights import load_weights
from haven.encoder.wordpieces import pad
from haven_devtools import tf_encoder

TEXTS = ["why do I still feel attached to him?", "A man is eating food.", "ok"]


@pytest.fixture(scope="module")
def reference() -> Encoder:
    return Encoder(runtime="reference", cache_size=0)


@pytest.fixture(scope="module")
def weights(reference):
    return load_weights(reference.model_dir / "model.safetensors")


def test_the_tf_forward_pass_agrees_with_the_reference(reference, weights) -> None:
    tf = pytest.importorskip("tensorflow")
    w = {name: tf.constant(value) for name, value in weights.items() if value.dtype.kind == "f"}
    ids, mask = pad(reference._wordpieces.ids(TEXTS))
    got = tf_encoder.forward(w)(ids.astype(np.int64), mask.astype(np.int64)).numpy()
    assert np.abs(got - reference.encode(TEXTS)).max() < 1e-4


def test_gradients_reach_every_layer(reference, weights) -> None:
    tf = pytest.importorskip("tensorflow")
    w = {name: tf.Variable(value) for name, value in weights.items() if value.dtype.kind == "f"}
    ids, mask = pad(reference._wordpieces.ids(TEXTS[:2]))
    with tf.GradientTape() as tape:
        u = tf_encoder.forward(w)(ids.astype(np.int64), mask.astype(np.int64))
        loss = tf.reduce_sum(u[0] * u[1])
    names = [f"encoder.layer.{i}.attention.self.query.weight" for i in range(6)] + [
        "encoder.layer.5.output.dense.weight"
    ]
    grads = tape.gradient(loss, [w[n] for n in names])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
