"""Outside socket.io clients nobody on the team wrote, against the real servers (issue 11.2).

A stock `socket.io-client` 4 from npm with its default transports (long-polling, then the upgrade
to WebSocket), run by node, and botfront's `rasa-webchat` (npm) in Chromium on a page served from
an allowed origin: both must show the answer to a topic question. Before haven/plugins/sanic_websocket.py
the upgrade got `101` and then the socket was torn down (Sanic 21.12's websocket code on Python
3.11), so the node client never got a reply and rasa-webchat showed nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from actions.knowledge import knowledge_base
from tests.js_clients import NODE_MODULES, node, package

pytestmark = [pytest.mark.e2e, pytest.mark.model]
HERE = Path(__file__).resolve().parent
QUESTION = "why do I still feel attached to him?"


def run_node_client(live, origin: str) -> dict:
    package("socket.io-client")
    result = subprocess.run(
        [node(), str(HERE / "socketio_client.js"), live.rasa, origin, QUESTION],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_stock_socketio_client_with_default_transports_upgrades_and_gets_the_answer(live_haven) -> None:
    origin = live_haven.settings.allowed_origins[0]
    began = time.monotonic()
    result = run_node_client(live_haven, origin)
    took = time.monotonic() - began
    print(f"\nnode socket.io-client: {result['transport']}, {result['polls']} polls, {took:.1f} s in all")
    assert result["upgraded"] and result["transport"] == "websocket", result
    assert result["errors"] == [], result
    topic = KB.topics["why_still_attached"]
    assert {"topic": "why_still_attached", "section": topic.section} in [
        r["custom"] for r in result["replies"] if "custom" in r
    ]
    # Rasa's socket.io channel sends each paragraph ("\n\n") as its own bot_uttered (issue 13.2: short
    # paragraphs), so the answer arrives in parts, in order.
    assert " ".join(topic.short.split()) in " ".join(r.get("text", "") for r in result["replies"])
    assert result["polls"] < 10, "no request storm from a half-upgraded session"


KB = knowledge_base()


# ------------------------------------------------------------------------- rasa-webchat in Chromium
#: rasa-webchat's own set-up call (its README), as a therapist's page would make it.
WEBCHAT_INIT = """rasa => window.WebChat.default({initPayload: "/greet", customData: {language: "en"},
  socketUrl: rasa, socketPath: "/socket.io/", title: "Haven", embedded: true,
  params: {storage: "session"}}, null)"""


@pytest.mark.browser
def test_rasa_webchat_in_chromium_on_an_allowed_origin_shows_the_answer(live_haven) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_widget import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium package")
    script = (package("rasa-webchat") / "lib" / "index.js").read_text(encoding="utf-8")
    # The page is the website server's own article page, really served from the allowed origin
    # (http://localhost:SITE_PORT), with rasa-webchat's bundle added as a therapist's page would
    # add it. Haven's CSP allows only its own scripts, so the test context bypasses CSP to add this
    # one (a page fulfilled by Playwright instead would count as a public address, and Chromium's
    # local-network rules would then block every request to the loopback Rasa server).
    origin = live_haven.settings.allowed_origins[0]
    topic = KB.topics["why_still_attached"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(bypass_csp=True).new_page()
            errors, sockets, polls = [], [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.on("request", lambda r: polls.append(r.url) if "transport=polling" in r.url else None)
            page.goto(f"{origin}/")
            page.add_script_tag(content=script)
            page.evaluate(WEBCHAT_INIT, live_haven.rasa)
            page.wait_for_selector(".rw-response", timeout=60_000)  # the greeting (initPayload)
            page.fill(".rw-new-message", QUESTION)
            page.press(".rw-new-message", "Enter")
            page.wait_for_function(
                "t => [...document.querySelectorAll('.rw-response')].some(e => e.innerText.includes(t))",
                arg=topic.short[:60],
                timeout=60_000,
            )
            page.wait_for_timeout(1000)
            shown = page.inner_text(".rw-messages-container")
        finally:
            browser.close()
    print(f"\nrasa-webchat: {len(sockets)} websocket(s), {len(polls)} polling requests")
    assert topic.short[:60] in shown
    assert any("/socket.io/" in url and "transport=websocket" in url for url in sockets), sockets
    assert len(polls) < 20, f"{len(polls)} polling requests: a half-upgraded session"
    assert not [e for e in errors if "Invalid frame header" in e or "WebSocket" in e], errors
