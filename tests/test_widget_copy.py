"""The widget's words are reviewed data (content/widget.yml), not code (website/static/haven-widget.js
and its modules in website/static/haven-widget/).

No browser needed: the script's source is read as text, and the website server through its test client.
tests/test_widget.py checks in Chromium that what the widget shows is this copy.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import List

import pytest

from haven import settings as settings_module
from haven.services import safety
from haven.settings import ROOT
from website import widget
from website.app import create_app

# The entry and every module, as one text: a word or a key in any of them counts.
SOURCE = "\n".join(path.read_text(encoding="utf-8") for path in widget.sources())
COPY = widget.load_copy(ROOT / "content")
# How the script asks for a text: t("key", ...) or parts("key", ...).
USES = re.compile(r"\b(?:t|parts)\(\s*\"([^\"]*)\"")
DIAGNOSTIC = "haven-widget: "  # console messages for the site's developer, never shown to a visitor


def js_string_literals(source: str) -> List[str]:
    """The string literals of a JavaScript source, as written (escapes kept), without comments and
    regular-expression literals. Enough of a tokenizer for the widget's scripts (ES5, no templates)."""
    literals: List[str] = []
    i, n = 0, len(source)
    previous = ""  # the last significant character outside strings and comments
    word = ""  # the last identifier-like word, to tell `return /re/` from a division
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            continue
        if source.startswith("/*", i):
            i = source.index("*/", i + 2) + 2
            continue
        if c in "\"'`":
            j, chars = i + 1, []
            while source[j] != c:
                step = 2 if source[j] == "\\" else 1
                chars.append(source[j : j + step])
                j += step
            literals.append("".join(chars))
            i, previous, word = j + 1, c, ""
            continue
        if c == "/" and (previous in "(,=:[!&|?{};+-*%<>~^" or word in ("return", "typeof")):
            j, in_class = i + 1, False
            while in_class or source[j] != "/":
                if source[j] == "\\":
                    j += 1
                elif source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                j += 1
            j += 1
            while j < n and source[j].isalpha():  # flags
                j += 1
            i, previous, word = j, "/", ""
            continue
        if c.isalnum() or c in "_$":
            word = word + c if previous and (previous.isalnum() or previous in "_$") else c
        elif not c.isspace():
            word = ""
        if not c.isspace():
            previous = c
        i += 1
    return literals


TECHNICAL_TOKEN = re.compile(r"^[A-Za-z0-9_\-:./#?=&\[\]*+(),\\ ]*$")
CAPITALISED_WORD = re.compile(r"^[A-Z][a-z]+$")
# KeyboardEvent.key and .code values and the like: capitalised, but not English for a visitor
DOM_NAMES = {"Escape", "Tab", "KeyX"}
MULTI_WORD_OK = {"noopener", "noreferrer"}  # rel="noopener noreferrer"
DIRECTIVES = {"use strict"}


def prose(literal: str) -> bool:
    """Does a string literal look like words for a person rather than a name for the machine?"""
    text = literal.strip()
    if text in DIRECTIVES:
        return False
    if re.search(r"\\u00[89a-f][0-9a-f]|\\u0[1-9a-f][0-9a-f]{2}|\\u[1-9a-f][0-9a-f]{3}", text, re.I):
        return True  # typographic characters (dashes, quotes, ellipses, ×) belong to copy
    if any(ord(ch) > 127 for ch in text):
        return True
    if not re.search(r"[A-Za-z]", text):
        return False
    if not TECHNICAL_TOKEN.match(text):
        return True
    words = text.split()
    if len(words) > 1:
        # Class lists ("haven-msg haven-msg-bot") and rel values pass; "Close chat" does not.
        return not all("-" in w or w in MULTI_WORD_OK for w in words)
    return bool(CAPITALISED_WORD.match(text)) and text not in DOM_NAMES


def test_the_tokenizer_sees_the_scripts_strings_and_skips_its_regular_expressions() -> None:
    literals = js_string_literals(SOURCE)
    assert "data-testid" in literals and "haven-launcher" in literals and "notice" in literals
    # The link pattern has quotes inside a character class; they must not open a string.
    assert not any("<>" in literal for literal in literals)
    assert js_string_literals('a = /["\']/g; b = "x"; return /\\//.test(c) ? "y" : d / 2 / "z";') == [
        "x",
        "y",
        "z",
    ]


def test_the_literal_check_tells_words_from_names() -> None:
    for words in ("Close chat", "Send", "the article", "Quick exit", "Not an emergency service \\u2014", "…"):
        assert prose(words), words
    for name in ("data-testid", "haven-msg haven-msg-bot", "noopener noreferrer", "Content-Type", "POST",
                 "Escape", "tel:", "rgb(", "https://www.google.com/search?q=weather", "\\n", ""):  # fmt: skip
        assert not prose(name), name


def test_the_widget_script_has_no_words_of_its_own() -> None:
    """Every visible or spoken word is in content/widget.yml. The only English left in the script is
    one console diagnostic for the site's developer (a script served without its copy shows nothing)."""
    found = [s for s in js_string_literals(SOURCE) if prose(s) and not s.startswith(DIAGNOSTIC)]
    assert not found, f"user-facing text in haven-widget.js, move it to content/widget.yml: {found}"
    for line in SOURCE.splitlines():
        if f'"{DIAGNOSTIC}' in line:
            assert "console.error(" in line, f"diagnostics only go to the console: {line.strip()}"


def test_every_key_the_widget_uses_is_in_the_copy_and_every_key_is_used() -> None:
    used = set(USES.findall(SOURCE))
    assert used, "the pattern found no t(...) or parts(...) calls"
    missing = sorted(used - COPY.keys)
    unused = sorted(COPY.keys - used)
    assert not missing, f"keys haven-widget.js uses that content/widget.yml lacks: {missing}"
    assert not unused, f"keys in content/widget.yml that haven-widget.js never uses: {unused}"
    # Copy is only ever looked up by a literal key, so the check above sees every use (the two
    # definitions, and t() handing its key on to parts(), aside).
    rest = SOURCE
    for definition in ("function t(key, values)", "function parts(key, values)", "return parts(key, values)"):
        assert rest.count(definition) == 1, definition
        rest = rest.replace(definition, "")
    calls = re.findall(r"\b(?:t|parts)\(\s*[^\"\s)][^)]*\)", rest)
    assert not calls, f"copy looked up by a key that is not a literal: {calls}"


def test_the_copy_is_reviewed_and_complete() -> None:
    assert {"reviewed_by", "date", "version"} <= set(COPY.review)
    english = COPY.locales[COPY.default_locale]
    assert widget.placeholders(english["notice"]) == {"help_number", "emergency_number"}
    assert widget.placeholders(english["unreachable"]) == {"title", "crisis_line", "emergency"}


def _write_copy(tmp_path: Path, text: str) -> Path:
    (tmp_path / "widget.yml").write_text(text, encoding="utf-8")
    return tmp_path


REVIEW = 'review: {reviewed_by: "x", date: "2026-11-24", version: "1"}\n'


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("default_locale: en\nlocales: {en: {send: Send}}\n", "'review' needs"),
        (REVIEW + "default_locale: fr\nlocales: {en: {send: Send}}\n", "includes default_locale"),
        (REVIEW + "default_locale: en\nlocales: {en: {send: ''}}\n", "non-empty text"),
        (REVIEW + "default_locale: en\nlocales: {en: {send: 'Send {Title}'}}\n", "malformed placeholder"),
        (REVIEW + "default_locale: en\nlocales: {en: {send: 'Send {title'}}\n", "malformed placeholder"),
        (REVIEW + "default_locale: en\nlocales: {en: {send: Send}, EN-GB: {send: Post}}\n", "lower case"),
        (REVIEW + "default_locale: en\nlocales: {en: {send: Send}, fr: {sned: Envoyer}}\n", "not in 'en'"),
        (
            REVIEW
            + "default_locale: en\nlocales: {en: {launcher: 'Chat {title}'}, fr: {launcher: Discuter}}\n",
            "must keep the placeholders",
        ),
    ],
)
def test_a_malformed_copy_is_refused_with_its_reason(tmp_path, text, complaint) -> None:
    with pytest.raises(widget.WidgetCopyError, match=re.escape(complaint)):
        widget.load_copy(_write_copy(tmp_path, text))


def _settings(tmp_path: Path, **changes) -> settings_module.Settings:
    env = {"SITE_PORT": "8123", "RASA_PORT": "5123", "DATABASE_URL": f"sqlite:///{tmp_path}/haven.db"}
    env.update(changes)
    return settings_module.load(env)


def _served_data(app) -> dict:
    _, response = app.test_client.get("/static/haven-widget.js")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert widget.MARKER not in response.text
    match = re.search(r"var DATA = (\{.*?\});\n", response.text)
    assert match, "the data sits where the marker was"
    return json.loads(match.group(1))


def test_the_served_script_carries_the_copy_the_default_numbers_and_the_explained_topics(tmp_path) -> None:
    data = _served_data(create_app(_settings(tmp_path)))
    assert data["copy"] == COPY.locales
    assert data["default_locale"] == COPY.default_locale
    assert data["crisis"] == safety.load().region_resources("US").as_json()
    assert "what_is_trauma_bond" in data["explanations"] and "book_consultation" not in data["explanations"]


def test_the_served_numbers_follow_haven_region(tmp_path) -> None:
    data = _served_data(create_app(_settings(tmp_path, HAVEN_REGION="UK")))
    assert data["crisis"]["region"] == "UK" and data["crisis"]["emergency_number"] == "999"


def test_a_malformed_copy_stops_the_site_at_start(tmp_path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "widget.yml").write_text(REVIEW + "default_locale: en\nlocales: {en: {send: ''}}\n")
    settings = dataclasses.replace(_settings(tmp_path), content_dir=content)
    with pytest.raises(widget.WidgetCopyError):
        create_app(settings)
