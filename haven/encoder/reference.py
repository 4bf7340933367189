"""A plain-numpy forward pass of all-MiniLM-L6-v2: the test oracle for the fast runtime.

Written to be read next to the BERT paper and Hugging Face's BertModel, not to be fast (about 15 ms for
22 tokens, 70 ms for 143, on one core). The tests check it against the similarities the
sentence-transformers documentation publishes for this model, and the shipped runtime against it, so a
mistake in the ONNX graph cannot hide behind a mistake in its test. It shares only the tokenizer and the
weights file with the runtime.

Linear layers are stored as PyTorch does, (out, in): y = x @ W.T + b.
"""

from __future__ import annotations

import math

import numpy as np

from .weights import HEAD_DIM, HEADS, LAYER_NORM_EPS, LAYERS, Weights, layer


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * gamma + beta


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x) with the normal CDF through erf (not the tanh approximation)."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def dense(x: np.ndarray, weights: Weights, prefix: str) -> np.ndarray:
    return x @ weights[f"{prefix}.weight"].T + weights[f"{prefix}.bias"]


def hidden_states(weights: Weights, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """The last layer's hidden states, (n, T, 384), for padded ids and their 0/1 mask, both (n, T)."""
    n, length = input_ids.shape
    # Embeddings: word + position + token type (always segment 0 for a single sentence), then LayerNorm.
    x = (
        weights["embeddings.word_embeddings.weight"][input_ids]
        + weights["embeddings.position_embeddings.weight"][:length][None, :, :]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
    # Padding must not be attended to: a large negative score before the softmax gives it weight 0.
    mask_bias = (1.0 - attention_mask[:, None, None, :].astype(np.float32)) * np.float32(-1e9)

    def heads(t: np.ndarray) -> np.ndarray:  # (n, T, 384) -> (n, 12, T, 32)
        return t.reshape(n, length, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q = heads(dense(x, weights, f"{p}.attention.self.query"))
        k = heads(dense(x, weights, f"{p}.attention.self.key"))
        v = heads(dense(x, weights, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(HEAD_DIM)) + mask_bias
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, HEADS * HEAD_DIM)
        attended = dense(context, weights, f"{p}.attention.output.dense")
        x = layer_norm(
            attended + x,
            layer(weights, i, "attention.output.LayerNorm.weight"),
            layer(weights, i, "attention.output.LayerNorm.bias"),
        )
        inner = gelu(dense(x, weights, f"{p}.intermediate.dense"))
        out = dense(inner, weights, f"{p}.output.dense")
        x = layer_norm(
            out + x,
            layer(weights, i, "output.LayerNorm.weight"),
            layer(weights, i, "output.LayerNorm.bias"),
        )
    return x


def embed(weights: Weights, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Sentence embeddings, (n, 384) float32, L2-normalised: mean of the hidden states over the real
    (mask 1) positions, [CLS] and [SEP] included, as sentence-transformers' Pooling + Normalize do."""
    hidden = hidden_states(weights, input_ids, attention_mask)
    mask = attention_mask[:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norms).astype(np.float32)
