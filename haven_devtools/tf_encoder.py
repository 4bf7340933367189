"""all-MiniLM-L6-v2's forward pass in TensorFlow 2.12 (the one Rasa installs), for development tools only.

Two tools need it: the encoder benchmark, which measures TensorFlow as a runtime beside ONNX
(scripts/bench_encoder.py; ONNX was chosen, docs/sentence-encoder.md), and the contrastive fine-tuning
experiment, which needs gradients through the encoder (scripts/faq_contrastive.py). Node for node the
computation of haven/encoder/reference.py (the tested oracle): embeddings, six post-LayerNorm BERT layers
with exact GELU, mean pooling over the mask, L2 normalisation. The product never imports this module.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping


def forward(w: Mapping[str, Any]) -> Callable[[Any, Any], Any]:
    """A function (input_ids, attention_mask) -> (n, 384) embeddings over the tensors `w`, by their BERT
    names (tf.constant or tf.Variable: with variables, gradients flow). Wrap it in tf.function to run it."""
    import tensorflow as tf

    from haven.encoder.weights import HEAD_DIM, HEADS, LAYER_NORM_EPS, LAYERS

    def norm(x, prefix):
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) / tf.sqrt(var + LAYER_NORM_EPS) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def dense(x, prefix):
        return tf.matmul(x, w[f"{prefix}.weight"], transpose_b=True) + w[f"{prefix}.bias"]

    def run(ids, mask):
        n, length = tf.shape(ids)[0], tf.shape(ids)[1]
        x = tf.gather(w["embeddings.word_embeddings.weight"], ids)
        x += (
            w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = norm(x, "embeddings.LayerNorm")
        maskf = tf.cast(mask, tf.float32)
        bias = (1.0 - maskf[:, None, None, :]) * -1e9

        def heads(t):
            return tf.transpose(tf.reshape(t, [n, length, HEADS, HEAD_DIM]), [0, 2, 1, 3])

        for i in range(LAYERS):
            p = f"encoder.layer.{i}"
            q, k, v = (heads(dense(x, f"{p}.attention.self.{s}")) for s in ("query", "key", "value"))
            probs = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / HEAD_DIM**0.5 + bias, axis=-1)
            ctx = tf.reshape(tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3]), [n, length, HEADS * HEAD_DIM])
            x = norm(dense(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
            inner = tf.nn.gelu(dense(x, f"{p}.intermediate.dense"), approximate=False)
            x = norm(dense(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        pooled = tf.reduce_sum(x * maskf[:, :, None], 1) / tf.maximum(
            tf.reduce_sum(maskf, 1, keepdims=True), 1e-9
        )
        return tf.math.l2_normalize(pooled, axis=1, epsilon=1e-24)

    return run
