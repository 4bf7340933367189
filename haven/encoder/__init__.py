"""Haven's sentence encoder: sentence-transformers/all-MiniLM-L6-v2, pinned, verified, without torch.

    from haven.encoder import load_encoder, EncoderIntegrityError, DIM   # DIM == 384
    enc = load_encoder()        # process-wide, hashes verified on load
    enc.encode(["some text"])   # (1, 384) float32, L2-normalised rows
    enc.chunks(long_text)       # sentence-aligned pieces of <= 128 wordpieces, at most 8
    enc.encode_chunks(long_text)
    enc.token_count(text)

Modules, one concern each: pins (which files, where, verified), wordpieces (tokenizer), weights (shape and
loading), reference (numpy forward pass, the oracle), onnx_model (the shipped runtime), chunking (long
messages), encoder (the API: batching, cache, singleton). `python -m haven.encoder --verify` checks the
installed files (scripts/bootstrap.sh runs it). Why these choices: docs/sentence-encoder.md.
"""

from .encoder import Encoder, load_encoder
from .pins import EncoderIntegrityError
from .weights import DIM

__all__ = ["DIM", "Encoder", "EncoderIntegrityError", "load_encoder"]
