"""The shipped runtime: the same BERT forward pass as reference.py, as an ONNX graph run by onnxruntime.

Why onnxruntime: it was the fastest of the runtimes measured here on 1 and 2 cores, for single messages
and batches (docs/sentence-encoder.md has the numbers), it needs neither torch nor a GPU, it loads in
well under a second, and it is Microsoft's maintained inference engine with CPython 3.11 wheels that work
with the pinned numpy 1.23.

Why build the graph here instead of shipping a .onnx file: the only trusted artefact is the pinned
`model.safetensors`; a converted file would be a second 90 MB blob whose provenance we would have to
vouch for, and the usual converters need torch. The graph is built at load time with the `onnx` helper
API from the verified weights (about half a second), node for node the computation in reference.py, and
onnxruntime's own graph optimiser then fuses LayerNorm, GELU and the biases. The tests hold it to the
numpy reference within 1e-4 per component.

Inputs: input_ids and attention_mask, int64 (n, T). Output: "embedding", float32 (n, 384), mean-pooled
over the mask and L2-normalised.
"""

from __future__ import annotations

import math
from typing import List

import numpy as np

from .weights import DIM, FFN, HEAD_DIM, HEADS, LAYER_NORM_EPS, LAYERS, Weights

OPSET = 17  # LayerNormalization is a standard op from opset 17 on


class _Graph:
    """A small builder: each method adds one node and returns its output's name."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: List = []
        self.initializers: List = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: List[str], hint: str = "", **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x: str, weights: Weights, prefix: str) -> str:
        """x @ W.T + b, with W stored (out, in) as PyTorch does: transposed once here, not per call."""
        w = self.const(f"{prefix}.weight_t", weights[f"{prefix}.weight"].T.astype(np.float32))
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"].astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def layer_norm(self, x: str, weights: Weights, prefix: str) -> str:
        gamma = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=LAYER_NORM_EPS)


def build_model(weights: Weights):
    """The ONNX ModelProto for the sentence embedding (weights included as initializers)."""
    from onnx import TensorProto, helper

    g = _Graph()
    ids, mask = "input_ids", "attention_mask"
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731

    # Embeddings: word (Gather) + the first T position rows (Slice by the input's length) + segment 0.
    word = g.op("Gather", [g.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), ids])
    length = g.op("Slice", [g.op("Shape", [ids]), g.const("one", i64(1)), g.const("two", i64(2))])
    positions = g.op(
        "Slice",
        [
            g.const("position_embeddings", weights["embeddings.position_embeddings.weight"]),
            g.const("zero", i64(0)),
            length,
            g.const("axis0", i64(0)),
        ],
    )
    segment = g.const("token_type_0", weights["embeddings.token_type_embeddings.weight"][0])
    x = g.op("Add", [g.op("Add", [word, positions]), segment])
    x = g.layer_norm(x, weights, "embeddings.LayerNorm")

    # Attention mask as an additive bias, (n, 1, 1, T): 0 for real positions, -1e9 for padding.
    mask_f = g.op("Cast", [mask], to=TensorProto.FLOAT)
    mask_4d = g.op("Unsqueeze", [mask_f, g.const("axes12", i64(1, 2))])
    padding = g.op("Sub", [g.const("f1", np.array(1.0, np.float32)), mask_4d])
    mask_bias = g.op("Mul", [padding, g.const("neg", np.array(-1e9, np.float32))])

    split_shape = g.const("split_heads", i64(0, -1, HEADS, HEAD_DIM))  # 0: keep the batch dimension
    merge_shape = g.const("merge_heads", i64(0, -1, DIM))
    scale = g.const("scale", np.array(1.0 / math.sqrt(HEAD_DIM), np.float32))
    inv_sqrt2 = g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    one = g.const("one_f", np.array(1.0, np.float32))

    def heads(t: str, perm) -> str:  # (n, T, 384) -> (n, 12, T, 32), or (n, 12, 32, T) for keys
        return g.op("Transpose", [g.op("Reshape", [t, split_shape])], perm=perm)

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q = heads(g.linear(x, weights, f"{p}.attention.self.query"), [0, 2, 1, 3])
        k = heads(g.linear(x, weights, f"{p}.attention.self.key"), [0, 2, 3, 1])
        v = heads(g.linear(x, weights, f"{p}.attention.self.value"), [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask_bias])
        probs = g.op("Softmax", [scores], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_shape])
        attended = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attended, x]), weights, f"{p}.attention.output.LayerNorm")
        inner = g.linear(x, weights, f"{p}.intermediate.dense")
        # erf GELU: 0.5 * x * (1 + erf(x / sqrt 2)); onnxruntime fuses this pattern into one Gelu kernel.
        erf = g.op("Erf", [g.op("Mul", [inner, inv_sqrt2])])
        inner = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [erf, one])])
        out = g.linear(inner, weights, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", [out, x]), weights, f"{p}.output.LayerNorm")

    # Mean pooling over the real positions, then L2 normalisation.
    mask_3d = g.op("Unsqueeze", [mask_f, g.const("axis2", i64(2))])
    summed = g.op("ReduceSum", [g.op("Mul", [x, mask_3d]), g.const("axis1", i64(1))], keepdims=0)
    counts = g.op("ReduceSum", [mask_3d, g.const("axis1b", i64(1))], keepdims=0)
    pooled = g.op("Div", [summed, g.op("Max", [counts, g.const("eps9", np.array(1e-9, np.float32))])])
    norm = g.op("ReduceL2", [pooled], axes=[-1], keepdims=1)  # axes is an attribute until opset 18
    norm = g.op("Max", [norm, g.const("eps12", np.array(1e-12, np.float32))])
    g.nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"]))

    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs=[helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="haven")
    # The 90 MB of weights go in last: make_model copies its graph, which took a second with them in.
    model.graph.initializer.extend(g.initializers)
    model.ir_version = 8  # what onnxruntime 1.19 reads for opset 17
    return model


class OnnxEncoder:
    """encode_ids(input_ids, attention_mask) -> (n, 384), like reference.embed, on onnxruntime."""

    def __init__(self, weights: Weights, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads  # 0: onnxruntime's default (one per physical core)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle pool threads sleep instead of spinning: spinning bought 1-2 ms on short messages on
        # 2 threads, but burns the cores the Rasa server's other work (spaCy, Sanic) needs between calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        serialized = build_model(weights).SerializeToString()
        self.session = ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
        self.threads = threads

    def encode_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (out,) = self.session.run(["embedding"], {"input_ids": input_ids, "attention_mask": attention_mask})
        return out


assert FFN == 1536  # the graph's shapes come from the weights; FFN is named here for the reader
