"""Cutting a long message into pieces the encoder reads whole, with bounded work for any input.

Why: the model reads at most 256 wordpieces, and one vector for a whole long message averages away the
one sentence that matters ("... and tonight I'm going to end it" after three calm sentences). Pieces of
at most `max_tokens` wordpieces (default 128), cut at sentence ends, each get their own vector. Each
piece after the first starts with the last sentence of the one before (when both fit), so a thought that
spans a sentence boundary is still read together once.

Bounds, so that 100 000 characters or 10 000 emoji cost no more than a normal long message:
- only the first `max_chars` characters (default 20 000, the channels' own limit) are looked at;
- one tokenizer call over the sentences (Rust, linear in the text);
- at most `max_chunks` pieces (default 8); what comes after the eighth piece is not read, which at 128
  wordpieces a piece is far beyond the 1 000 characters the NLU pipeline reads;
- a "sentence" longer than `max_tokens` (no full stop, a row of emoji with spaces) is cut by tokens, at a
  word start where there is one, so no piece is ever over `max_tokens`.

Every piece is a substring of the message, so it can be shown or logged by offset, never re-joined text.
"""

from __future__ import annotations

import re
from typing import List, Tuple

from tokenizers import Encoding

from .wordpieces import WordPieces

# A sentence ends at . ! ? … (or the CJK full stops), with closing quotes or brackets, before white
# space; a line break always ends one.
_BOUNDARY = re.compile(r"([.!?…。！？]+[\"'”’)\]]*)\s+|\s*\n\s*")

Span = Tuple[int, int]


def sentence_spans(text: str) -> List[Span]:
    """(start, end) of each non-empty sentence in `text`, in order."""
    spans: List[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1) if match.group(1) else match.start()
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _token_windows(start: int, encoding: Encoding, max_tokens: int) -> List[Tuple[Span, int]]:
    """A too-long sentence (starting at `start` in the text) cut into windows of <= max_tokens
    wordpieces, each ending before a word start where possible; ((start, end), wordpieces) each."""
    offsets, words = encoding.offsets, encoding.word_ids
    windows: List[Tuple[Span, int]] = []
    i = 0
    while i < len(offsets):
        j = min(i + max_tokens, len(offsets))
        if j < len(offsets):
            # back off to the start of the word cut in two, unless that word alone fills the window
            k = j
            while k > i and words[k] is not None and words[k] == words[k - 1]:
                k -= 1
            if k > i:
                j = k
        windows.append(((start + offsets[i][0], start + offsets[j - 1][1]), j - i))
        i = j
    return windows


def chunk_text(
    text: str, pieces: WordPieces, max_tokens: int = 128, max_chunks: int = 8, max_chars: int = 20_000
) -> List[str]:
    """The pieces of `text` (see the module docstring); short text gives [text]."""
    if max_tokens < 1 or max_chunks < 1 or max_chars < 1:
        raise ValueError("chunks need max_tokens, max_chunks and max_chars of at least 1")
    text = text[:max_chars]
    spans = sentence_spans(text)
    if not spans:
        return [text]
    encodings = pieces.pieces([text[a:b] for a, b in spans])
    if sum(len(e.ids) for e in encodings) <= max_tokens:
        return [text]

    # Units: sentences, and the token windows of sentences too long to be one piece.
    units: List[Tuple[Span, int]] = []
    for (a, b), encoding in zip(spans, encodings, strict=True):
        count = len(encoding.ids)
        if count <= max_tokens:
            units.append(((a, b), count))
        else:
            units.extend(_token_windows(a, encoding, max_tokens))

    chunks: List[str] = []
    first = 0  # index of the first unit of the piece being built
    while first < len(units) and len(chunks) < max_chunks:
        last, total = first, units[first][1]
        while last + 1 < len(units) and total + units[last + 1][1] <= max_tokens:
            last += 1
            total += units[last][1]
        chunks.append(text[units[first][0][0] : units[last][0][1]])
        if last + 1 >= len(units):
            break
        # Overlap by one sentence: the next piece starts with this one's last unit when that still
        # leaves room for something new after it; otherwise it starts fresh.
        overlap = last > first and units[last][1] + units[last + 1][1] <= max_tokens
        first = last if overlap else last + 1
    return chunks
