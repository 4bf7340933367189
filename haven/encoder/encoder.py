"""The sentence encoder others code against: texts in, L2-normalised 384-dimensional vectors out.

`load_encoder()` gives the process one `Encoder` (the weights are 90 MB and the graph takes about a
second to build; every Rasa component and action shares it). It verifies the pinned files' hashes before
reading them (pins.py), so a tampered or damaged model is refused with EncoderIntegrityError instead of
silently giving different vectors.

encode() batches by length: texts are sorted by wordpiece count and run in batches of `batch_size`, each
padded only to its own longest text, so one long message does not make 31 short ones pay for its
padding. Vectors are cached by exact text in an LRU cache (`cache_size`, HAVEN_ENCODER_CACHE_SIZE;
0 turns it off): the same message is often parsed more than once (Rasa's NLU and a form validator), and
training sees repeated examples.

Two runtimes compute the same function: "onnx" (shipped, onnx_model.py) and "reference" (the plain-numpy
oracle, reference.py), which the tests and the benchmark use.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from . import pins
from .chunking import chunk_text
from .weights import DIM, load_weights
from .wordpieces import WordPieces, pad

RUNTIMES = ("onnx", "reference")


def encode_by_length(
    wordpieces: WordPieces,
    run: Callable[[np.ndarray, np.ndarray], np.ndarray],
    texts: List[str],
    batch_size: int,
) -> np.ndarray:
    """(len(texts), 384): `run` (padded ids and mask in, vectors out) over the texts sorted by wordpiece
    count, in batches of `batch_size` each padded only to its own longest text (module docstring)."""
    ids = wordpieces.ids(texts)
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    vectors = np.empty((len(texts), DIM), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        input_ids, mask = pad([ids[i] for i in rows])
        vectors[rows] = run(input_ids, mask)
    return vectors


class Encoder:
    """all-MiniLM-L6-v2 sentence embeddings (see the module docstring)."""

    dim = DIM

    def __init__(
        self,
        model_dir: Optional[Path] = None,
        *,
        runtime: str = "onnx",
        cache_size: int = 4096,
        threads: int = 0,
        batch_size: int = 32,
        max_tokens: int = 128,
        max_chunks: int = 8,
        max_chars: int = 20_000,
    ) -> None:
        """Verifies the pinned files in `model_dir` (default: pins.model_dir()) and loads them."""
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        if cache_size < 0 or batch_size < 1:
            raise ValueError("cache_size must be >= 0 and batch_size >= 1")
        directory = pins.model_dir(model_dir)
        self.hashes = pins.verify(directory)
        self.model_dir = directory
        self.runtime = runtime
        self.cache_size = cache_size
        self.batch_size = batch_size
        self.max_tokens, self.max_chunks, self.max_chars = max_tokens, max_chunks, max_chars
        self._wordpieces = WordPieces(directory / pins.TOKENIZER_FILE)
        weights = load_weights(directory / pins.WEIGHTS_FILE)
        if runtime == "onnx":
            from .onnx_model import OnnxEncoder

            self._run = OnnxEncoder(weights, threads=threads).encode_ids
        else:
            from . import reference

            self._run = functools.partial(reference.embed, weights)
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._lock = threading.Lock()

    # -- vectors ---------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, one L2-normalised row per text, in order. An empty text is
        fine (it is encoded as [CLS] [SEP]); past 256 positions a text is cut, as the model card says."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts; wrap one text in a list")
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.empty((len(texts), DIM), dtype=np.float32)
        missing: Dict[str, List[int]] = {}
        with self._lock:
            for row, text in enumerate(texts):
                vector = self._cache.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(row)
                else:
                    self._cache.move_to_end(text)
                    out[row] = vector
        if missing:
            unique = list(missing)
            vectors = self._encode_uncached(unique)
            with self._lock:
                for text, vector in zip(unique, vectors, strict=True):
                    out[missing[text]] = vector
                    if self.cache_size:
                        self._cache[text] = vector
                        self._cache.move_to_end(text)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _encode_uncached(self, texts: List[str]) -> np.ndarray:
        return encode_by_length(self._wordpieces, self._run, texts, self.batch_size)

    # -- long messages ---------------------------------------------------------------------------
    def chunks(
        self,
        text: str,
        max_tokens: Optional[int] = None,
        max_chunks: Optional[int] = None,
        max_chars: Optional[int] = None,
    ) -> List[str]:
        """`text` cut at sentence ends into at most `max_chunks` pieces of at most `max_tokens`
        wordpieces, overlapping by one sentence, from its first `max_chars` characters (chunking.py)."""
        return chunk_text(
            text,
            self._wordpieces,
            max_tokens=self.max_tokens if max_tokens is None else max_tokens,
            max_chunks=self.max_chunks if max_chunks is None else max_chunks,
            max_chars=self.max_chars if max_chars is None else max_chars,
        )

    def encode_chunks(self, text: str, **limits: Optional[int]) -> np.ndarray:
        """(k, 384): one vector per piece of self.chunks(text, **limits), all in one batched call."""
        return self.encode(self.chunks(text, **limits))

    def token_count(self, text: str) -> int:
        """Wordpieces in `text` without [CLS]/[SEP] (of its first 20 000 characters)."""
        return self._wordpieces.count(text)

    def cache_clear(self) -> None:
        with self._lock:
            self._cache.clear()


@functools.cache  # lru_cache without a bound: one Encoder per process
def load_encoder() -> Encoder:
    """The process-wide Encoder on the shipped runtime, configured by haven/settings.py
    (HAVEN_ENCODER_DIR, HAVEN_ENCODER_CACHE_SIZE, HAVEN_ENCODER_THREADS). Raises
    EncoderIntegrityError when the model files are not the pinned ones (and is retried on the next
    call, as lru_cache does not keep exceptions)."""
    from haven import settings

    config = settings.load()
    return Encoder(config.encoder_dir, cache_size=config.encoder_cache_size, threads=config.encoder_threads)
