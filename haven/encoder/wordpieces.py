"""Turning text into the model's wordpiece ids, exactly as sentence-transformers does for this model.

Hugging Face's `tokenizers` (Rust) reads the pinned `tokenizer.json` (BERT normaliser: lower-case,
control characters removed, CJK characters split; BERT pre-tokeniser; WordPiece with [UNK] for words
over 100 characters; [CLS] ... [SEP]). The file as published pads every input to 128 and cuts at 128:
both are switched off here and replaced by what sentence-transformers does for all-MiniLM-L6-v2
(`max_seq_length` 256 positions, [CLS] and [SEP] included; padding per batch, to its longest input).

`tokenizers` parses the text; the Rust code is bounded in time (linear in the text), and we still give it
at most `MAX_CHARS` characters of one message, so a 100 000-character message costs what 20 000 do.

One step is ours (`readable`): the model's vocabulary has no emoji, so the tokenizer reads every one of
them as the same [UNK] — "not sure 😀" and "not sure 😭" were one vector, and since crisis messages in the
training data carry more emoji than calm ones, [UNK] itself had become a risk signal (a booking form's
"not sure 😀" got a check-in). Each symbol the vocabulary lacks is replaced by its Unicode name from the
standard library's `unicodedata` ("😭" → "loudly crying face"), a run of the same one by one name, and the
joiners, variation selectors, skin-tone modifiers and flag letters that only shape the picture are
dropped. Text without such symbols is untouched, so the published similarities and the reference test are
unaffected.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
from tokenizers import Encoding, Tokenizer

#: The model card's max_seq_length: positions per input, [CLS] and [SEP] included.
MAX_POSITIONS = 256
#: Characters of one text ever given to the tokenizer. 256 positions need far fewer characters in any
#: real text (about 1 300 for English prose); the cap only bounds the work on hostile input.
MAX_CHARS = 20_000
#: Shapes a picture without meaning of its own: zero-width joiner, variation selectors, skin tones, and
#: the regional-indicator letters that spell flags.
_SHAPING = {0x200D, 0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400), *range(0x1F1E6, 0x1F200)}
#: The input preparation, part of pins.fingerprint(): a change retrains what was computed from embeddings.
INPUT_PREPARATION = "emoji-names-1"


class WordPieces:
    """The pinned tokenizer, without its built-in padding and truncation."""

    def __init__(self, tokenizer_file: Path) -> None:
        self._full = Tokenizer.from_file(str(tokenizer_file))
        self._full.no_padding()
        self._full.no_truncation()
        self._truncating = Tokenizer.from_file(str(tokenizer_file))
        self._truncating.no_padding()
        self._truncating.enable_truncation(max_length=MAX_POSITIONS)

    def ids(self, texts: Sequence[str]) -> List[List[int]]:
        """Wordpiece ids per text, with [CLS]/[SEP], cut to MAX_POSITIONS (sentence-transformers' rule)."""
        encodings = self._truncating.encode_batch([self.readable(t[:MAX_CHARS])[:MAX_CHARS] for t in texts])
        return [e.ids for e in encodings]

    def readable(self, text: str) -> str:
        """`text` with each symbol the vocabulary lacks (emoji) as its Unicode name (module docstring)."""
        if text.isascii():
            return text
        out: List[str] = []
        previous = ""
        for char in text:
            code = ord(char)
            if code in _SHAPING:
                continue
            if code > 0x2000 and unicodedata.category(char) == "So" and self._full.token_to_id(char) is None:
                if char != previous:
                    out.append(f" {unicodedata.name(char, '').lower()} ")
                previous = char
                continue
            previous = char if not char.isspace() else previous
            out.append(char)
        return "".join(out)

    def pieces(self, texts: Sequence[str]) -> List[Encoding]:
        """Full encodings (offsets, word ids) without [CLS]/[SEP] and without truncation: for counting
        and for cutting long text at token boundaries."""
        return self._full.encode_batch([t[:MAX_CHARS] for t in texts], add_special_tokens=False)

    def count(self, text: str) -> int:
        """Wordpieces in `text` (its first MAX_CHARS characters), without [CLS]/[SEP]."""
        return len(self._full.encode(text[:MAX_CHARS], add_special_tokens=False).ids)


def pad(batch: Sequence[Sequence[int]]) -> Tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), int64 arrays of shape (n, longest), padded with id 0 / mask 0."""
    longest = max(len(ids) for ids in batch)
    input_ids = np.zeros((len(batch), longest), dtype=np.int64)
    mask = np.zeros((len(batch), longest), dtype=np.int64)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return input_ids, mask
