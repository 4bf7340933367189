"""Text cleaning and tokenising shared by the pattern compiler and the judgement.

Patterns and messages go through the same tokenizer, so a phrase in the pattern files and the same
words in a message always produce the same tokens, lemmas and norms.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from typing import List, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc

logger = logging.getLogger(__name__)

# Non-ASCII punctuation people type on phones, mapped so "don’t" matches like "don't".
_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "\uff07": "'", "\u00b4": "'"}
# ASCII control characters (except tab/newline/CR) become spaces: same length, same offsets.
_ASCII_CONTROLS = {i: " " for i in list(range(32)) + [127] if chr(i) not in "\t\n\r"}
# "he hit me.he said" -> the tokenizer keeps "me.he" whole; a space fixes that.
_GLUED_SENTENCES = re.compile(r"(?<=[a-z])[.!?,;](?=[a-z])")


@lru_cache(maxsize=1)
def blank_english() -> Language:
    """The detector's own tokenizer: blank English plus the lookup lemmatizer when available.

    This is the same pipeline scripts/build_spacy_pipeline.py saves for SpacyNLP, so patterns
    behave identically with or without SpacyNLP in the pipeline.
    """
    nlp = spacy.blank("en")
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
    except Exception:  # spacy-lookups-data missing: LEMMA patterns fall back to the word itself
        logger.warning("CrisisDetector: no lookup lemmatizer; lemmas fall back to lower case.")
        nlp = spacy.blank("en")
    nlp.max_length = 10_000_000
    return nlp


def tokenise(nlp: Language, text: str) -> Doc:
    """Tokenises already normalised text; without a lemmatizer each lemma is the lower-case word."""
    doc = nlp(text)
    if not doc.has_annotation("LEMMA"):
        for token in doc:
            token.lemma_ = token.lower_
    return doc


def normalise(text: str) -> Tuple[str, List[int] | None]:
    """Lower-cases and cleans text; returns it with a map back to original offsets.

    Zero-width and bidi control characters are dropped (they hide words: "ki\u200bll myself"),
    full-width and styled letters are folded (NFKC), curly apostrophes straightened. The map is
    None when offsets are unchanged (the fast path for plain ASCII).
    """
    if text.isascii():
        cleaned = text.translate(_ASCII_CONTROLS).lower()
        if not _GLUED_SENTENCES.search(cleaned):
            return cleaned, None
        chars = list(cleaned)
        origin = list(range(len(text)))
    else:
        chars, origin = [], []
        for i, ch in enumerate(text):
            if ch < "\x80":
                piece = ch if ch in "\t\n\r" or " " <= ch < "\x7f" else " "
            else:
                category = unicodedata.category(ch)
                if category == "Cf":
                    continue
                if category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
                    piece = " "
                else:
                    piece = _APOSTROPHES.get(ch) or unicodedata.normalize("NFKC", ch)
            for out in piece.lower():
                chars.append(out)
                origin.append(i)
    # split glued sentences ("me.he") by inserting a space after the punctuation
    out_chars, out_origin = [], []
    for j, ch in enumerate(chars):
        out_chars.append(ch)
        out_origin.append(origin[j])
        if ch in ".!?,;" and 0 < j < len(chars) - 1 and chars[j - 1].isalpha() and chars[j + 1].isalpha():
            out_chars.append(" ")
            out_origin.append(origin[j])
    return "".join(out_chars), out_origin
