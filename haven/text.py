"""Cleaning what visitors type before anything reads it: the Rasa channels, the NLU pipeline and the
form validators all use these, so they agree on what a message "is".

What goes, and why:
- lone UTF-16 surrogates ("\\ud800" is valid JSON): they are not text, and spaCy, SQLite and UTF-8
  encoders fail on them;
- control characters other than tab and newline (NUL, ESC, backspace, C1 controls): they hide or
  reorder nothing a person meant to write, and break logs, terminals and CSV cells;
- bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) and invisible marks/spaces
  (U+200B, U+200E, U+200F, U+2060, U+FEFF, U+061C): "Trojan Source" reordering and hidden words.
  Zero-width joiners (U+200C, U+200D) stay: Persian, Indic scripts and emoji sequences need them.

Everything else (emoji, any script, punctuation) is kept as typed, in Unicode NFC.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: Characters removed outright (bidi controls and invisible marks, see the module docstring).
_INVISIBLE = dict.fromkeys(
    [0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls except \t and \n (\r is handled as a line break first), DEL, and C1 controls.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")

#: A whole string that is one e-mail address, deliberately lenient (a person reads it): one @ and a
#: dot in the domain. One copy, so that what the NLU takes for "she typed her e-mail address"
#: (nlu_components/input_guard.py) is exactly what the database will store as one (haven/db/repository.py).
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def clean_text(value: Any) -> str:
    """The text with surrogates, controls and bidi/invisible characters removed, NFC, stripped.

    Non-strings (None, numbers, objects from a malformed JSON body) give "" rather than raising.
    """
    if not isinstance(value, str):
        return ""
    text = value if value.isascii() else _SURROGATES.sub("", value).translate(_INVISIBLE)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def single_line(value: Any) -> str:
    """clean_text, with every run of whitespace (newlines too) made one space: for names, contacts."""
    return " ".join(clean_text(value).split())


def shorten(text: str, limit: int) -> str:
    """The first `limit` characters, ended at a word boundary when one is near the end."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= limit * 0.8:
        cut = cut[:space]
    return cut.rstrip()


def break_long_runs(text: str, limit: int = 40) -> str:
    """Every run of more than `limit` characters without whitespace, cut by spaces into pieces of `limit`.

    spaCy's tokenizer takes time quadratic in the length of such a run when it splits off one
    prefix or suffix at a time (a row of 2 000 emoji took 1.4 s, 20 000 took minutes and held up
    every other visitor; cut into pieces of 40, 20 000 emoji take about 0.4 s). No word is that
    long, so nothing a person wrote is lost to the NLU.
    """
    if len(text) <= limit:
        return text
    run = re.compile(rf"\S{{{limit + 1},}}")
    return run.sub(lambda m: " ".join(m[0][i : i + limit] for i in range(0, len(m[0]), limit)), text)


def is_clean(value: Any) -> bool:
    """True when clean_text would leave the string as it is (apart from outer whitespace)."""
    return isinstance(value, str) and clean_text(value) == value.strip()
