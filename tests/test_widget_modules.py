"""The widget's script as modules (issue 14.5): one small entry a site includes, `haven-widget.js`, that
loads `website/static/haven-widget/*.js` beside it, with no build step.

Without a browser: the entry names every module, in an order where each uses only those before it;
the website server serves them as they are; what may store or send anything sits in one module each.
In Chromium: the colour maths that tests/widget_contrast.js now borrows from the widget is checked
against WCAG's own figures here, so the contrast test does not merely agree with itself; and the
widget still starts from one plain script tag on another origin's page, as a therapist's site has it.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from haven import settings as settings_module
from tests import test_widget
from website import widget
from website.app import create_app

browser = test_widget.browser  # the same Chromium fixture, skipped with its reason where Chromium is missing
ENTRY = widget.SCRIPT.read_text(encoding="utf-8")
MODULE_FILES: Dict[str, Path] = {path.stem: path for path in sorted(widget.MODULES.glob("*.js"))}
CODE: Dict[str, str] = {name: path.read_text(encoding="utf-8") for name, path in MODULE_FILES.items()}


def entry_modules() -> List[str]:
    match = re.search(r"var MODULES = (\[[^\]]*\]);", ENTRY)
    assert match, "the entry lists its modules in one MODULES array"
    return json.loads(match.group(1))


def without_comments(code: str) -> str:
    """Enough for these files: block comments, and line comments that start a line or follow code."""
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    return re.sub(r"(^|\s)//[^\n]*", r"\1", code)


def test_the_entry_loads_every_module_and_only_those() -> None:
    assert entry_modules() and sorted(entry_modules()) == sorted(MODULE_FILES)
    assert widget.sources() == [widget.SCRIPT, *MODULE_FILES.values()]


def test_each_module_uses_only_the_modules_loaded_before_it() -> None:
    """Classic scripts run in the order the entry inserts them: a module that reached for a later one
    at load time would find nothing there."""
    order = entry_modules()
    for index, name in enumerate(order):
        code = without_comments(CODE[name])
        assert f"haven.{name} = " in code, f"{name}.js registers itself as haven.{name}"
        used = set(re.findall(r"\bhaven\.([a-z]+)", code)) - {name}
        later = sorted(used - set(order[:index]))
        assert not later, f"{name}.js uses {later}, which load after it"
        assert code.count("(window.__havenWidget);") == 1, f"{name}.js writes into the one namespace"


def test_only_the_entry_carries_the_data_marker_and_every_file_is_ascii() -> None:
    """The data goes into the entry alone; ASCII so no module depends on the charset it is read in
    (plain static files carry none)."""
    assert ENTRY.count(widget.MARKER) == 1
    for name, code in CODE.items():
        assert widget.MARKER not in code and "haven:data" not in code, name
    for path in widget.sources():
        assert path.read_text(encoding="utf-8").isascii(), path


def test_storage_and_network_each_live_in_one_module() -> None:
    """The privacy rules can be read in one place each: sessionStorage only, in session.js; requests
    only in transport.js (Rasa's REST channel and the website server's API); scripts only added by the
    entry, from beside itself."""
    code = {name: without_comments(text) for name, text in CODE.items()}
    code["entry"] = without_comments(ENTRY)
    for name, text in code.items():
        assert not re.search(
            r"localStorage|document\.cookie|indexedDB|XMLHttpRequest|WebSocket|EventSource", text
        ), name
        if "sessionStorage" in text:
            assert name == "session", f"{name}.js touches sessionStorage"
        if re.search(r"\bfetch\(|sendBeacon\(", text):
            assert name == "transport", f"{name}.js makes a request"
        if re.search(r"createElement\(\"script\"\)", text):
            assert name == "entry", f"{name}.js adds a script"
    assert re.search(r"var base = script\.src\.replace\(", ENTRY), "modules come from beside the entry"


@pytest.fixture
def app(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/haven.db", "HAVEN_STAFF_TOKEN": "t" * 40}
    return create_app(settings_module.load(env))


def test_the_website_server_serves_the_modules_as_they_are(app) -> None:
    for name, code in CODE.items():
        _, response = app.test_client.get(f"/static/haven-widget/{name}.js")
        assert response.status == 200, name
        assert "javascript" in response.headers["content-type"], name
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.text == code, name
    # The folder itself and a module that is not there are the calm 404 of any other static path.
    for path in ("/static/haven-widget/", "/static/haven-widget", "/static/haven-widget/nope.js"):
        _, response = app.test_client.get(path)
        assert response.status == 404, path


# ------------------------------------------------------------------------------------------ in Chromium


@pytest.mark.browser
def test_the_contrast_maths_gives_wcags_own_figures(browser) -> None:
    """contrast.js alone, in a blank page: the figures WCAG and its techniques publish."""
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>maths</title>")
        page.evaluate("() => { window.__havenWidget = {}; }")
        page.add_script_tag(content=CODE["contrast"])
        got = page.evaluate(
            """() => {
                 var c = window.__havenWidget.contrast;
                 var round = function (x) { return Math.round(x * 100) / 100; };
                 return {
                   blackOnWhite: c.ratio(c.BLACK, c.WHITE),
                   same: c.ratio([118, 118, 118, 1], [118, 118, 118, 1]),
                   grey767676: round(c.ratio([118, 118, 118, 1], c.WHITE)),
                   grey777777: round(c.ratio([119, 119, 119, 1], c.WHITE)),
                   luminanceWhite: c.luminance(c.WHITE),
                   halfBlack: c.over([0, 0, 0, 0.5], c.WHITE),
                   // half-transparent black on a transparent background: mid grey on white
                   translucent: c.contrast([0, 0, 0, 0.5], [0, 0, 0, 0]),
                   midGreyOnWhite: c.ratio([127.5, 127.5, 127.5, 1], c.WHITE),
                   rgb: c.parse("rgb(1, 2, 3)"),
                   rgba: c.parse("rgba(10, 20, 30, 0.25)"),
                   spaces: c.parse("rgb(10 20 30 / 0.5)"),
                   srgb: c.parse("color(srgb 1 0 0.5 / 0.5)"),
                   hexNotComputed: c.parse("#ffffff"),
                   hex: c.read("#767676"),
                   name: c.read("rebeccapurple"),
                   notAColour: c.read("not-a-colour"),
                   shaded: round(c.worst(c.shade([150, 150, 150, 1], [c.WHITE], 4.5), [c.WHITE])),
                   bw: c.blackOrWhite([[255, 216, 77, 1]]),
                   css: c.css([1, 2, 3, 1])
                 };
               }"""
        )
    finally:
        page.close()
    assert got["blackOnWhite"] == 21 and got["same"] == 1 and got["luminanceWhite"] == 1
    # #767676 is the lightest grey that reaches 4.5:1 on white; #777777 just misses it.
    assert got["grey767676"] == 4.54 and got["grey777777"] == 4.48
    assert got["halfBlack"] == [127.5, 127.5, 127.5, 1]
    assert got["translucent"] == got["midGreyOnWhite"] == pytest.approx(3.98, abs=0.01)
    assert (
        got["rgb"] == [1, 2, 3, 1]
        and got["rgba"] == [10, 20, 30, 0.25]
        and got["spaces"] == [10, 20, 30, 0.5]
    )
    assert got["srgb"] == [255, 0, 127.5, 0.5]
    assert got["hexNotComputed"] is None, "parse reads computed values only; read takes any CSS colour"
    assert got["hex"] == [118, 118, 118, 1] and got["name"] == [102, 51, 153, 1] and got["notAColour"] is None
    assert got["shaded"] >= 4.5 and got["bw"] == [0, 0, 0, 1] and got["css"] == "rgb(1, 2, 3)"


@contextmanager
def therapist_site(html: str, csp: str) -> Iterator[str]:
    """A page on another origin than the Haven server's, served for real: another port of the loopback,
    because Chromium refuses a page it cannot place on a network (one Playwright answers for) any
    request to the loopback, which is where the test's Haven server is."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet: the test says what went wrong
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@pytest.mark.model
@pytest.mark.browser
def test_one_script_tag_on_another_origin_still_starts_the_widget_once(browser, live_haven) -> None:
    """The embedding contract: a therapist's own site (another origin, its own strict CSP) includes
    haven-widget.js with one tag, twice by mistake even; the modules load from the Haven server
    beside it with no CORS headers, and one widget starts."""
    site = live_haven.site
    tag = f'<script src="{site}/static/haven-widget.js" data-rasa-url="{live_haven.rasa}" defer></script>'
    page_html = (
        f"<!doctype html><html><head><title>Notes</title></head><body><p>Hello</p>{tag}{tag}</body></html>"
    )
    csp = f"default-src 'self'; script-src {site}; style-src {site}; connect-src {site} {live_haven.rasa}"
    context = browser.new_context()
    page = context.new_page()
    errors: List[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        with therapist_site(page_html, csp) as therapist:
            loaded: List[str] = []
            page.on("response", lambda r: loaded.append(r.url) if "/static/haven-widget/" in r.url else None)
            page.goto(therapist + "/notes")
            page.wait_for_selector(".haven-root.haven-ready [data-testid='haven-launcher']")
            assert page.locator(".haven-root").count() == 1, "a second tag starts no second widget"
            assert sorted(url.rsplit("/", 1)[1] for url in loaded) == sorted(
                f"{name}.js" for name in MODULE_FILES
            )
            assert all(url.startswith(site + "/static/haven-widget/") for url in loaded)
            # The namespace holds code only: the served words and numbers stay inside the entry.
            keys = page.evaluate("() => Object.keys(window.__havenWidget).sort()")
            assert keys == sorted(MODULE_FILES)
            page.click("[data-testid='haven-launcher']")
            assert page.get_by_test_id("haven-input").is_visible()
            assert page.evaluate("() => localStorage.length") == 0
            bad = [e for e in errors if "Content Security Policy" in e or "haven-widget:" in e]
            assert not bad, bad
    finally:
        context.close()
