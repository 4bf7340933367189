"""The chat widget in a real browser (Debian's Chromium through Playwright) against the live servers.

Each test gets a fresh browser context (fresh sessionStorage). Screenshots of every state go to
test-artifacts/widget/, and the contrast measurements to test-artifacts/widget/contrast-*.json.
The quick-exit navigation is intercepted, so nothing leaves the machine. A few tests answer for the
Rasa server (`Widget.stub_rasa`) to show every kind of reply at once, or to hold a reply back; the
rest talk to the real one.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from haven.services import safety
from haven.settings import ROOT
from website import widget as widget_module

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "widget"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]  # fmt: skip
EXIT_PATTERN = re.compile(r"^https://www\.google\.com/")
STORE_KEY = "haven-widget:v1"
REPLY_TIMEOUT_MS = 90_000
WEBHOOK = "**/webhooks/rest/webhook"
CONTRAST_JS = (Path(__file__).parent / "widget_contrast.js").read_text(encoding="utf-8")

BOT = '[data-testid="haven-message-bot"]'
USER = '[data-testid="haven-message-user"]'
QUICK_EXIT = '[data-testid="haven-quick-exit"]'

COPY = widget_module.load_copy(ROOT / "content")
EN = COPY.locales[COPY.default_locale]
US = safety.load().region_resources("US")
UK = safety.load().region_resources("UK")


def text(key: str, **values: str) -> str:
    """A text of content/widget.yml with its placeholders filled, as the widget shows it."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: values[m.group(1)], EN[key])


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        print("SKIP REASON: /usr/bin/chromium is missing (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium package to run the widget tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


class Widget:
    def __init__(self, page, site: str):
        self.page = page
        self.site = site
        self.console_errors: List[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def embed(self, **attributes: str) -> None:
        """Configure the widget as a host site would, with data-* attributes on its script tag (set
        while the page is parsed, before the deferred script runs). Call before goto()."""
        script = """(function (attributes) {
          new MutationObserver(function () {
            var script = document.querySelector('script[src*="haven-widget.js"]');
            if (!script) { return; }
            Object.keys(attributes).forEach(function (name) { script.setAttribute(name, attributes[name]); });
          }).observe(document, { childList: true, subtree: true });
        })(%s);"""
        self.page.add_init_script(script % json.dumps(attributes))

    def goto(self) -> None:
        self.page.goto(self.site + "/")
        self.page.wait_for_selector(".haven-root.haven-ready [data-testid='haven-launcher']")

    def stub_rasa(self, answer: Callable[[str], Optional[List[Dict[str, Any]]]]) -> List[str]:
        """Answer for the Rasa server: answer(message) gives the replies, or None to fail the request.
        Returns the list the sent messages are collected in."""
        sent: List[str] = []
        cors = {"access-control-allow-origin": "*", "access-control-allow-headers": "content-type"}

        def handle(route) -> None:
            if route.request.method == "OPTIONS":
                route.fulfill(status=204, headers=cors)
                return
            message = json.loads(route.request.post_data or "{}").get("message", "")
            sent.append(message)
            replies = answer(message)
            if replies is None:
                route.abort()
            else:
                route.fulfill(
                    status=200, content_type="application/json", headers=cors, body=json.dumps(replies)
                )

        self.page.route(WEBHOOK, handle)
        return sent

    def bots(self) -> int:
        return self.page.locator(BOT).count()

    def wait_for_replies(self, before: int) -> None:
        self.page.wait_for_function(
            """([sel, before]) => document.querySelectorAll(sel).length > before
                 && document.querySelector('[data-testid="haven-typing"]').hidden""",
            arg=[BOT, before],
            timeout=REPLY_TIMEOUT_MS,
        )

    def open(self) -> None:
        before = self.bots()
        self.page.click('[data-testid="haven-launcher"]')
        self.wait_for_replies(before)  # the greeting

    def say(self, words: str) -> None:
        before = self.bots()
        self.page.fill('[data-testid="haven-input"]', words)
        self.page.click('[data-testid="haven-send"]')
        self.wait_for_replies(before)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def stored(self):
        return self.page.evaluate(f"() => sessionStorage.getItem({STORE_KEY!r})")

    def sender(self) -> str:
        return self.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")

    def assert_no_local_storage(self) -> None:
        assert self.page.evaluate("() => localStorage.length") == 0, "nothing may be kept in localStorage"
        assert self.page.evaluate("() => document.cookie") == "", "nor in cookies"
        assert self.page.context.cookies() == []

    def assert_no_csp_violations(self) -> None:
        bad = [e for e in self.console_errors if "Content Security Policy" in e or "CORS" in e]
        assert not bad, bad

    def assert_no_console_errors(self) -> None:
        """Also catches a copy key or placeholder value the widget asked for and did not find."""
        bad = [
            e
            for e in self.console_errors
            if "net::ERR_FAILED" not in e and "Failed to load resource" not in e
        ]
        assert not bad, bad

    def active_testid(self) -> Optional[str]:
        return self.page.evaluate(
            "() => document.activeElement && document.activeElement.dataset.testid || null"
        )

    def route_exit(self) -> None:
        self.page.route(EXIT_PATTERN, lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>Weather</title><p>Weather</p>"
        ))  # fmt: skip


@pytest.fixture
def widget(browser, live_haven) -> Iterator[Widget]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    w = Widget(page, live_haven.site)
    yield w
    context.close()


# ---------------------------------------------------------------------------------------------- the words


def test_every_word_the_widget_shows_comes_from_the_reviewed_copy(widget) -> None:
    widget.goto()
    page = widget.page
    assert page.get_by_test_id("haven-launcher").inner_text() == text("launcher", title="Haven")
    exit_button = page.locator(QUICK_EXIT)
    assert exit_button.inner_text() == text("quick_exit")
    assert exit_button.get_attribute("title") == text("quick_exit_hint")
    assert page.locator("#haven-exit-hint").text_content() == text("quick_exit_hint")
    assert page.locator(".haven-root").get_attribute("lang") == "en"
    widget.open()
    close = page.locator(".haven-header button")
    assert close.get_attribute("aria-label") == text("close") and close.inner_text() == text("close_symbol")
    assert page.get_by_test_id("haven-clear").inner_text() == text("clear")
    assert page.get_by_test_id("haven-input").get_attribute("placeholder") == text("placeholder")
    assert page.locator("label[for=haven-input]").text_content() == text("input_label")
    assert page.get_by_test_id("haven-send").inner_text() == text("send")
    assert page.get_by_role("log").get_attribute("aria-label") == text("log_label", title="Haven")
    assert page.get_by_test_id("haven-typing").text_content() == text("typing", title="Haven")
    assert page.get_by_test_id("haven-notice").inner_text() == text(
        "notice", help_number=US.help_number, emergency_number=US.emergency_number
    )
    banner = page.get_by_test_id("haven-crisis-banner")
    assert banner.get_attribute("aria-label") == text("crisis_title")
    assert (
        page.locator(BOT).first.locator(".haven-sr").text_content() == text("bot_said", title="Haven") + " "
    )
    unnamed = page.evaluate(
        """() => Array.from(document.querySelectorAll('.haven-root button, .haven-root input, .haven-root a'))
             .filter((e) => e.checkVisibility())
             .filter((e) => !(e.getAttribute('aria-label') || e.innerText
                              || (e.labels && e.labels.length && e.labels[0].textContent) || '').trim())
             .map((e) => e.outerHTML)"""
    )
    assert unnamed == [], "every control has a name a screen reader can say"
    widget.assert_no_console_errors()


def test_the_copy_is_chosen_by_locale_with_the_default_for_anything_untranslated(widget) -> None:
    """A translation added to content/widget.yml reaches the widget (simulated here by adding one to
    the served script); keys it leaves out come from the default locale."""

    def with_french(route) -> None:
        served = route.fetch()
        body = served.text()
        match = re.search(r"var DATA = (\{.*?\});\n", body)
        data = json.loads(match.group(1))
        data["copy"]["fr"] = {"launcher": "Discuter avec {title}", "send": "Envoyer"}
        body = body[: match.start(1)] + json.dumps(data) + body[match.end(1) :]
        route.fulfill(response=served, body=body)

    widget.page.route("**/static/haven-widget.js", with_french)
    widget.embed(**{"data-locale": "fr-FR"})
    widget.goto()
    page = widget.page
    assert page.locator(".haven-root").get_attribute("lang") == "fr"
    assert page.get_by_test_id("haven-launcher").inner_text() == "Discuter avec Haven"
    assert page.locator(QUICK_EXIT).inner_text() == text("quick_exit"), "untranslated: the default"
    page.click('[data-testid="haven-launcher"]')
    assert page.get_by_test_id("haven-send").inner_text() == "Envoyer"
    widget.assert_no_console_errors()


def test_a_script_served_without_its_copy_shows_nothing(widget) -> None:
    """The raw file (as a CDN copy would serve it) has no words and no numbers: no widget at all."""
    raw = widget_module.SCRIPT.read_text(encoding="utf-8")
    widget.page.route(
        "**/static/haven-widget.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=raw),
    )
    widget.page.goto(widget.site + "/")
    widget.page.wait_for_load_state("load")
    assert widget.page.locator(".haven-root").count() == 0
    assert any("haven-widget:" in e for e in widget.console_errors)


# ------------------------------------------------------------------------------------ conversations


def test_a_question_gets_its_answer_and_the_article_source(widget) -> None:
    widget.goto()
    notice = widget.page.get_by_test_id("haven-notice")
    widget.open()
    assert notice.is_visible()
    assert notice.inner_text() == text("notice", help_number="988", emergency_number="911")
    assert (
        notice.locator('a[href="tel:988"]').count() == 1 and notice.locator('a[href="tel:911"]').count() == 1
    )
    assert "Haven" in widget.page.locator(BOT).first.inner_text(), "the greeting was sent on open"
    with widget.page.expect_request(lambda r: r.url.endswith("/webhooks/rest/webhook")) as sent:
        widget.say("what is a trauma bond")
    # The conversation id rides in a header too, for sticky routing behind a load balancer.
    assert sent.value.headers.get("x-haven-sender") == sent.value.post_data_json["sender"]
    source = widget.page.get_by_test_id("haven-source").last
    assert source.inner_text() == text("source", section="What Is a Trauma Bond?")
    assert source.locator("a").get_attribute("href") == "/#what-is-a-trauma-bond"
    assert widget.page.locator("h2#what-is-a-trauma-bond").count() == 1, "the anchor exists on the page"
    assert widget.page.locator(USER).last.inner_text().endswith("what is a trauma bond")
    widget.shot("01-answer-with-source")
    source.locator("a").click()
    widget.page.wait_for_url(re.compile(r"#what-is-a-trauma-bond$"))
    assert widget.page.evaluate("() => document.querySelector(':target').id") == "what-is-a-trauma-bond"
    widget.assert_no_local_storage()
    widget.assert_no_csp_violations()
    widget.assert_no_console_errors()


def test_a_quick_reply_sends_its_payload_and_shows_its_title(widget) -> None:
    widget.goto()
    widget.open()
    widget.say("why can't I just walk away when I know she hurts me")
    replies = widget.page.get_by_test_id("haven-quick-reply")
    assert replies.count() >= 1
    title = replies.first.inner_text()
    requests: List[str] = []
    widget.page.on("request", lambda r: requests.append(r.post_data or "") if "webhook" in r.url else None)
    before = widget.bots()
    replies.first.click()
    widget.wait_for_replies(before)
    assert widget.page.locator(USER).last.inner_text().endswith(title)
    assert any('"message":"/' in body for body in requests), "the payload, not the title, was sent"
    offered = widget.page.locator(f"{BOT}:has([data-testid=haven-quick-reply])")
    assert offered.count() <= 1, "earlier quick replies are retired once the visitor answers"
    widget.shot("02-after-quick-reply")
    widget.assert_no_local_storage()


def test_the_booking_button_on_the_page_opens_the_widget_and_starts_booking(widget) -> None:
    widget.goto()
    requests: List[str] = []
    widget.page.on("request", lambda r: requests.append(r.post_data or "") if "webhook" in r.url else None)
    assert not widget.page.get_by_test_id("haven-input").is_visible()
    with widget.page.expect_response(lambda r: "webhook" in r.url and r.request.method == "POST") as answer:
        widget.page.get_by_role("button", name="Book a free consultation").click()
    widget.wait_for_replies(0)
    assert widget.page.locator(USER).last.inner_text().endswith("Book a free consultation")
    assert any('"message":"/book_consultation"' in body for body in requests)
    assert not any("/greet" in body for body in requests), "straight to booking, no greeting first"
    topics = [r["custom"].get("topic") for r in answer.value.json() if isinstance(r.get("custom"), dict)]
    assert "book_consultation" in topics, "the Rasa server answered with the booking flow's first step"
    assert widget.page.get_by_test_id("haven-source").count() == 0, "a booking step is not from the article"
    assert widget.active_testid() == "haven-input"
    widget.shot("03-booking-from-page")


def test_crisis_pins_the_banner_for_the_rest_of_the_conversation_and_reload_keeps_it(widget) -> None:
    widget.goto()
    widget.open()
    banner = widget.page.get_by_test_id("haven-crisis-banner")
    assert not banner.is_visible()
    widget.say("honestly everyone would be better off without me")
    assert banner.is_visible()
    assert "988" in banner.inner_text() and "911" in banner.inner_text()
    assert banner.locator(".haven-crisis-title").inner_text() == text("crisis_title")
    links = banner.get_by_test_id("haven-crisis-actions").locator("a")
    assert links.all_inner_texts() == [text("crisis_call", number="988"), text("crisis_call", number="911")]
    widget.shot("04-crisis-banner")
    widget.say("how do I heal")
    assert banner.is_visible(), "the banner stays for the rest of the conversation"
    widget.page.reload()
    widget.page.wait_for_selector(BOT)
    assert widget.page.get_by_test_id("haven-crisis-banner").is_visible(), "the banner survives a reload"
    widget.assert_no_local_storage()


def test_reload_keeps_the_conversation(widget) -> None:
    widget.goto()
    widget.open()
    widget.say("what is betrayal trauma")
    texts_before = widget.page.locator(f"{BOT}, {USER}").all_inner_texts()
    sender_before = widget.sender()
    requests: List[str] = []
    widget.page.on("request", lambda r: requests.append(r.post_data or "") if "webhook" in r.url else None)
    widget.page.reload()
    widget.page.wait_for_selector(BOT)
    assert widget.page.locator(f"{BOT}, {USER}").all_inner_texts() == texts_before
    assert widget.page.get_by_test_id("haven-source").count() == 1
    assert widget.sender() == sender_before
    widget.page.wait_for_timeout(500)
    assert not any("/greet" in body for body in requests), "the greeting is sent once per conversation"
    widget.say("what does it look like")
    assert sender_before in widget.stored()
    widget.shot("05-after-reload")
    widget.assert_no_local_storage()


def test_clear_conversation_starts_afresh_and_resets_the_old_one_on_the_server(widget) -> None:
    widget.goto()
    widget.open()
    widget.say("what is a trauma bond")
    old_sender = widget.sender()
    requests: List[str] = []
    widget.page.on("request", lambda r: requests.append(r.post_data or "") if "webhook" in r.url else None)
    widget.page.click('[data-testid="haven-clear"]')
    widget.wait_for_replies(0)
    assert widget.page.locator(USER).count() == 0
    new_sender = widget.sender()
    assert new_sender != old_sender
    assert any(old_sender in body and "/restart" in body for body in requests)
    assert any(new_sender in body and "/greet" in body for body in requests)
    widget.shot("05b-after-clear")


def test_clear_conversation_deletes_the_old_one_on_the_server(widget, live_haven) -> None:
    widget.goto()
    widget.open()
    widget.say("what is a trauma bond")
    old_sender = widget.sender()
    forget_url = f"{live_haven.site}/api/conversations/{old_sender}/forget"
    with widget.page.expect_response(lambda r: r.url == forget_url) as forgotten:
        widget.page.click('[data-testid="haven-clear"]')
    assert forgotten.value.request.method == "POST"
    assert forgotten.value.status == 204
    tracker = f"{live_haven.rasa}/conversations/{old_sender}/tracker?token=test-api-token"
    with urllib.request.urlopen(tracker, timeout=10) as response:
        events = json.loads(response.read())["events"]
    assert not [e for e in events if e["event"] == "user"], "nothing the visitor typed is left on the server"
    widget.assert_no_csp_violations()


# --------------------------------------------------------------------------- crisis numbers by region


def test_the_notice_and_the_crisis_banner_show_the_numbers_for_the_widget_locale(widget) -> None:
    widget.embed(**{"data-locale": "en-GB"})
    widget.goto()
    widget.open()
    notice = widget.page.get_by_test_id("haven-notice")
    expected = text("notice", help_number=UK.help_number, emergency_number=UK.emergency_number)
    widget.page.wait_for_function(
        "(want) => document.querySelector('[data-testid=haven-notice]').innerText === want", arg=expected
    )
    assert "988" not in notice.inner_text() and "911" not in notice.inner_text()
    assert (
        notice.locator('a[href="tel:116123"]').count() == 1
        and notice.locator('a[href="tel:999"]').count() == 1
    )
    widget.shot("04a-notice-en-GB")
    widget.say("honestly everyone would be better off without me")
    banner = widget.page.get_by_test_id("haven-crisis-banner")
    assert banner.is_visible()
    banner_text = banner.inner_text()
    assert "116 123" in banner_text and "999" in banner_text
    assert "988" not in banner_text and "911" not in banner_text
    assert widget.page.locator('[data-testid="haven-crisis-actions"] a[href="tel:999"]').count() == 1
    locale = "() => document.querySelector('script[src*=\"haven-widget.js\"]').dataset.locale"
    assert widget.page.evaluate(locale) == "en-GB"
    widget.shot("04b-crisis-banner-en-GB")
    widget.assert_no_csp_violations()


def test_the_banner_shows_the_lines_for_the_crisis_category(widget) -> None:
    widget.stub_rasa(lambda message: [{"text": "Thank you for telling me."},
                                      {"custom": {"safety": "crisis", "category": "danger"}}])  # fmt: skip
    widget.goto()
    widget.open()
    body = widget.page.get_by_test_id("haven-crisis-body")
    assert body.locator("p").all_inner_texts() == list(US.lines["danger"])


def test_unreachable_server_gets_a_kind_message_with_the_crisis_numbers(widget) -> None:
    widget.goto()
    widget.page.route(WEBHOOK, lambda route: route.abort())
    widget.page.click('[data-testid="haven-launcher"]')
    widget.wait_for_replies(0)
    message = widget.page.locator(BOT).last.inner_text()
    assert message.endswith(
        text("unreachable", title="Haven", crisis_line=US.lines["suicide"][0], emergency=US.emergency)
    )
    assert "988" in message and "911" in message
    assert widget.page.get_by_test_id("haven-notice").is_visible()
    widget.shot("08-unreachable")


def test_unreachable_server_in_the_uk_gets_the_uk_numbers(widget) -> None:
    widget.embed(**{"data-locale": "en-GB"})
    widget.page.route(WEBHOOK, lambda route: route.abort())
    with widget.page.expect_response("**/api/crisis-resources*"):
        widget.goto()
    widget.page.click('[data-testid="haven-launcher"]')
    widget.wait_for_replies(0)
    message = widget.page.locator(BOT).last.inner_text()
    assert UK.lines["suicide"][0] in message and UK.emergency in message
    assert "988" not in message and "911" not in message


def test_without_the_crisis_resources_the_widget_keeps_the_default_numbers(widget) -> None:
    widget.embed(**{"data-locale": "en-GB"})
    widget.page.route("**/api/crisis-resources*", lambda route: route.abort())
    widget.page.route(WEBHOOK, lambda route: route.abort())
    widget.goto()
    widget.page.click('[data-testid="haven-launcher"]')
    widget.wait_for_replies(0)
    message = widget.page.locator(BOT).last.inner_text()
    assert "988 (988 Suicide & Crisis Lifeline)" in message and "911" in message
    assert widget.page.get_by_test_id("haven-notice").inner_text() == text(
        "notice", help_number="988", emergency_number="911"
    )
    actions = widget.page.get_by_test_id("haven-crisis-actions")
    assert actions.locator('a[href="tel:988"]').count() == 1
    assert actions.locator('a[href="tel:911"]').count() == 1


# ---------------------------------------------------------------------------------- rendering replies


def test_the_typing_indicator_shows_while_a_reply_is_on_its_way(widget) -> None:
    held: List[Any] = []

    def hold(route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    widget.page.route(WEBHOOK, hold)
    widget.goto()
    widget.page.click('[data-testid="haven-launcher"]')
    typing = widget.page.get_by_test_id("haven-typing")
    typing.wait_for(state="visible")
    assert typing.get_attribute("role") == "status"
    assert typing.text_content() == text("typing", title="Haven")
    widget.shot("06a-typing")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        widget.page.wait_for_timeout(50)
    assert held, "the greeting reached the network"
    assert typing.is_visible(), "still waiting"
    held[0].continue_()  # on to the real Rasa server
    widget.wait_for_replies(0)
    assert not typing.is_visible()


def test_bot_text_gets_simple_markdown_and_safe_links_only(widget) -> None:
    reply = (
        "**Bold words** and a [safe link](https://example.org/a), a [bad link](javascript:window.__pwned=1), "
        "<img src=x onerror=window.__pwned=1> and https://example.org/b.\nA second line."
    )
    widget.stub_rasa(lambda message: [{"text": reply}])
    widget.goto()
    widget.open()
    message = widget.page.locator(BOT).last
    assert message.locator("strong").all_inner_texts() == ["Bold words"]
    links = message.locator("a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        "https://example.org/a",
        "https://example.org/b",
    ]
    assert links.first.inner_text() == "safe link"
    assert all(links.nth(i).get_attribute("rel") == "noopener noreferrer" for i in range(links.count()))
    shown = message.inner_text()
    assert "[bad link](javascript:window.__pwned=1)" in shown, "an unsafe link stays text"
    assert "<img src=x onerror=window.__pwned=1>" in shown
    assert message.locator("img").count() == 0 and message.locator("br").count() == 1
    assert widget.page.evaluate("() => window.__pwned") is None
    widget.shot("07a-markdown")


def test_a_booking_reference_is_shown_once_with_a_button_that_copies_it(widget) -> None:
    widget.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    confirmation = "Your request is in.\nYour reference: HV\u20117K3Q9P"
    widget.stub_rasa(
        lambda message: [
            {"text": confirmation},
            {"custom": {"booking": {"reference": "HV-7K3Q9P", "status": "requested"}}},
        ]
    )
    widget.goto()
    widget.open()
    shown = widget.page.locator(".haven-log").inner_text()
    assert shown.count("7K3Q9P") == 2, "the reference in the text, and once more on its copy button only"
    copy = widget.page.locator("[data-testid='haven-copy-reference']")
    assert copy.count() == 1 and copy.inner_text() == "Copy reference HV-7K3Q9P"
    copy.click()
    widget.page.wait_for_function(
        "() => document.querySelector('.haven-copy').textContent.includes('copied')"
    )
    assert widget.page.evaluate("() => navigator.clipboard.readText()") == "HV-7K3Q9P"
    widget.assert_no_console_errors()


def test_a_malformed_booking_reference_gets_no_copy_button(widget) -> None:
    widget.stub_rasa(lambda message: [{"text": "Done."}, {"custom": {"booking": {"reference": "<b>x</b>"}}}])
    widget.goto()
    widget.open()
    assert widget.page.locator("[data-testid='haven-copy-reference']").count() == 0
    widget.assert_no_console_errors()


def test_markup_typed_by_a_visitor_is_shown_as_text_and_never_runs(widget) -> None:
    widget.goto()
    widget.open()
    payload = "<img src=x onerror=window.__pwned=1>"
    widget.say(payload)
    assert widget.page.locator(USER).last.inner_text().endswith(payload)
    assert widget.page.locator(".haven-log img").count() == 0
    widget.page.reload()  # and again when re-rendered from sessionStorage
    widget.page.wait_for_selector(USER)
    assert widget.page.locator(USER).last.inner_text().endswith(payload)
    assert widget.page.locator(".haven-log img").count() == 0
    assert widget.page.evaluate("() => window.__pwned") is None
    widget.shot("07-markup-as-text")


# ------------------------------------------------------------------------------------------ quick exit


def _leave_and_come_back(widget: Widget, sender: Optional[str], forgets: List[str]) -> None:
    widget.page.wait_for_url(EXIT_PATTERN)
    assert widget.page.title() == "Weather"
    if sender:
        assert forgets == [f"POST {widget.site}/api/conversations/{sender}/forget"], (
            "deleted on the server too"
        )
    else:
        assert forgets == [], "no conversation, nothing to delete"
    # Back on the site in the same tab: nothing of the conversation is left.
    widget.goto()
    assert widget.stored() is None
    assert widget.page.evaluate("() => sessionStorage.length") == 0
    assert widget.page.locator(f"{BOT}, {USER}").count() == 0
    assert not widget.page.get_by_test_id("haven-input").is_visible(), "the chat starts closed again"
    widget.assert_no_local_storage()


@pytest.mark.parametrize(
    "how, chat",
    [
        ("button", "open"),
        ("alt+shift+x", "open"),
        ("button", "closed after talking"),
        ("alt+shift+x", "closed after talking"),
        ("button", "never opened"),
        ("alt+shift+x", "never opened"),
    ],
)
def test_quick_exit_leaves_at_once_and_clears_the_conversation(widget, how, chat) -> None:
    widget.route_exit()
    widget.goto()
    quick_exit = widget.page.locator(QUICK_EXIT)
    sender = None
    if chat != "never opened":
        widget.open()
        widget.say("what is a trauma bond")
        assert widget.stored() is not None
        sender = widget.sender()
    if chat == "closed after talking":
        widget.page.locator(".haven-header button").click()
        assert not widget.page.get_by_test_id("haven-input").is_visible()
    assert quick_exit.count() == 1, "one Quick exit on the page (the contract's hook is unique)"
    assert quick_exit.is_visible(), f"Quick exit is on screen with the chat {chat}"
    slug = f"{how}-{chat}".replace(" ", "-")
    widget.shot(f"06-before-quick-exit-{slug}")
    forgets: List[str] = []
    widget.page.on(
        "request", lambda r: forgets.append(r.method + " " + r.url) if "/forget" in r.url else None
    )
    if how == "button":
        quick_exit.click()
    else:
        # Issue 13.4: a chord nobody presses to close something (Esc twice used to wipe the chat).
        widget.page.keyboard.press("Alt+Shift+X")
    _leave_and_come_back(widget, sender, forgets)


# --------------------------------------------------------------------------------- keyboard and focus


def _ring(widget: Widget) -> Dict[str, Any]:
    widget.page.evaluate(CONTRAST_JS)
    return widget.page.evaluate("() => window.__havenContrast.ring(document.activeElement)")


def _assert_visible_ring(ring: Dict[str, Any]) -> None:
    assert ring["style"] != "none" and ring["width"] >= 2, f"no visible focus on {ring}"
    assert ring["ratio"] >= 3, f"focus ring below 3:1 on {ring}"
    assert not ring["clippedBy"], f"focus ring cut off on {ring}"


def test_the_widget_works_from_the_keyboard_with_visible_focus(widget) -> None:
    widget.goto()
    page = widget.page
    seen = []
    for _ in range(40):  # from the top of the page to the widget, as a keyboard user gets there
        page.keyboard.press("Tab")
        testid = widget.active_testid()
        if testid in ("haven-quick-exit", "haven-launcher"):
            seen.append(testid)
            _assert_visible_ring(_ring(widget))
        if testid == "haven-launcher":
            break
    assert seen == ["haven-quick-exit", "haven-launcher"], "Quick exit first, then the launcher"
    widget.shot("12-keyboard-launcher-focused")
    page.keyboard.press("Enter")
    widget.wait_for_replies(0)
    assert widget.active_testid() == "haven-input", "opening the chat puts the cursor in the message field"
    assert page.get_by_role("log").get_attribute("aria-live") == "polite"
    before = widget.bots()
    page.keyboard.type("why can't I just walk away when I know she hurts me")
    page.keyboard.press("Enter")
    widget.wait_for_replies(before)
    for _ in range(15):  # back from the field to the quick replies
        page.keyboard.press("Shift+Tab")
        if widget.active_testid() == "haven-quick-reply":
            break
    assert widget.active_testid() == "haven-quick-reply"
    _assert_visible_ring(_ring(widget))
    widget.shot("12-keyboard-quick-reply-focused")
    title = page.evaluate("() => document.activeElement.innerText")
    before = widget.bots()
    page.keyboard.press("Enter")
    widget.wait_for_replies(before)
    assert page.locator(USER).last.inner_text().endswith(title)
    page.focus('[data-testid="haven-input"]')
    page.keyboard.press("Escape")
    assert not page.get_by_test_id("haven-input").is_visible(), "Esc closes the chat"
    assert widget.active_testid() == "haven-launcher", "and gives focus back to the launcher"
    _assert_visible_ring(_ring(widget))
    assert page.locator(QUICK_EXIT).is_visible()
    page.keyboard.press("Escape")  # a second Esc, out of habit, only closes (issue 13.4)
    assert page.url.startswith(widget.site) and widget.stored() is not None
    page.keyboard.press("Enter")
    assert page.get_by_test_id("haven-input").is_visible()
    assert page.locator(f"{BOT}").count() >= 3, "the conversation is still there"


# ----------------------------------------------------------------------------------- WCAG AA contrast

# The widget's default colours, and site owners' colours that would fail if used as given: a light
# accent (white text on it would be 1.4:1) with pale grey text, and a dark theme with a light accent.
COLOURS = {
    "default": {},
    "light-accent": {
        "data-accent-color": "#ffd84d",
        "data-text-color": "#9a9a9a",
        "data-bot-color": "#f4f4f4",
    },
    "dark": {
        "data-background-color": "#15191b",
        "data-text-color": "#e8e8e8",
        "data-accent-color": "#7fd1b9",
        "data-bot-color": "#2a3134",
    },
}

# A site owner's own stylesheet setting the custom properties instead (appended to the demo page's
# site.css): a pale pink accent white text would not read on, and grey text.
SITE_CSS = {"site-css": ".haven-root { --haven-accent: #f4b6c8; --haven-text: #8c8c8c; --haven-bg: #fff; }"}
COLOURS["site-css"] = {}

GREETING = [
    {
        "text": "Hello, I'm Haven. **Bold words**, a [link](https://example.org/a) and https://example.org/b.",
        "buttons": [
            {"title": "What is a trauma bond?", "payload": "/what_is_trauma_bond"},
            {"title": "Book a free consultation", "payload": "/book_consultation"},
        ],
    }
]
EVERYTHING = [
    {
        "text": "Thank you for telling me. You deserve support from a real person.",
        # The crisis turn's one-tap links (issue 13.3), measured for contrast with everything else.
        "buttons": [
            {"title": "Call 988", "payload": "tel:988"},
            {"title": "Text HOME to 741741", "payload": "sms:741741?&body=HOME"},
        ],
    },
    {"custom": {"safety": "crisis", "category": "suicide"}},
    {
        "text": "Here is how the article explains it.",
        "buttons": [{"title": "Tell me more", "payload": "/more"}],
    },
    {"custom": {"topic": "what_is_trauma_bond", "section": "What Is a Trauma Bond?"}},
    {"custom": {"booking": {"reference": "HV-7K3Q9P", "status": "requested"}}},
]


def _stub_everything(message: str) -> Optional[List[Dict[str, Any]]]:
    if message == "/greet":
        return GREETING
    if message == "the server is down":
        return None
    return EVERYTHING


def _measure(widget: Widget, state: str) -> List[Dict[str, Any]]:
    widget.page.evaluate(CONTRAST_JS)
    found = widget.page.evaluate(
        "() => window.__havenContrast.texts().concat(window.__havenContrast.controls())"
    )
    for item in found:
        item["state"] = state
    return found


def _tab_through_the_widget(widget: Widget, state: str) -> List[Dict[str, Any]]:
    """Every focus stop of the widget, from the keyboard, with its focus ring measured."""
    widget.page.evaluate(CONTRAST_JS)
    widget.page.evaluate("() => { window.__havenSeen = new Set(); }")
    rings = []
    for _ in range(80):
        widget.page.keyboard.press("Tab")
        ring = widget.page.evaluate(
            """() => {
                 var a = document.activeElement;
                 if (!a || !a.closest('.haven-root')) { return null; }
                 if (window.__havenSeen.has(a)) { return 'again'; }
                 window.__havenSeen.add(a);
                 return window.__havenContrast.ring(a);
               }"""
        )
        if ring == "again":
            break
        if ring:
            ring["state"] = state
            rings.append(ring)
    return rings


def _hover_everything(widget: Widget, state: str) -> List[Dict[str, Any]]:
    """Text must stay readable under the mouse. (Boundaries are measured at rest: a hover colour is
    not a state WCAG 1.4.11 asks to contrast, and the close cross only gains a faint circle.)"""
    found = []
    buttons = widget.page.locator(".haven-root button:visible")
    for i in range(buttons.count()):
        button = buttons.nth(i)
        button.hover()
        widget.page.evaluate(CONTRAST_JS)
        measured = button.evaluate(
            """(b) => window.__havenContrast.texts().filter(function (t) {
                   return t.what === window.__havenContrast.describe(b); })"""
        )
        for item in measured:
            if item:
                item["state"] = f"{state}, hovered"
                found.append(item)
    widget.page.mouse.move(0, 0)
    return found


@pytest.mark.parametrize("colours", list(COLOURS))
def test_every_text_control_and_focus_ring_meets_wcag_aa_contrast(widget, colours) -> None:
    """WCAG 2.1 AA measured, not assumed: 1.4.3 (text 4.5:1, large text 3:1) and 1.4.11 (control
    boundaries and focus indicators 3:1), in every state, with the default colours and with site
    owners' colours that the widget has to correct."""
    widget.embed(**COLOURS[colours])
    if colours in SITE_CSS:

        def add_site_css(route) -> None:
            served = route.fetch()
            route.fulfill(response=served, body=served.text() + "\n" + SITE_CSS[colours] + "\n")

        widget.page.route("**/static/site.css", add_site_css)
    widget.stub_rasa(_stub_everything)
    widget.goto()
    page = widget.page
    results = _measure(widget, "closed")
    results += _hover_everything(widget, "closed")
    results += _tab_through_the_widget(widget, "closed")
    widget.shot(f"13-contrast-{colours}-closed")
    widget.open()
    widget.say("tell me everything")
    assert page.get_by_test_id("haven-crisis-banner").is_visible()
    assert page.get_by_test_id("haven-source").count() == 1
    if colours in SITE_CSS:
        accent = page.locator(".haven-header").evaluate("(e) => getComputedStyle(e).backgroundColor")
        assert accent == "rgb(244, 182, 200)", "the site's own colour is used, only its text corrected"
    page.locator(".haven-log").evaluate("(log) => { log.scrollTop = 0; }")
    results += _measure(widget, "open")
    widget.shot(f"13-contrast-{colours}-open")
    results += _hover_everything(widget, "open")
    page.fill('[data-testid="haven-input"]', "typed text")
    results += _measure(widget, "open, typed")
    page.fill('[data-testid="haven-input"]', "")
    results += _tab_through_the_widget(widget, "open")
    widget.say("the server is down")
    assert "haven-msg-error" in (page.locator(BOT).last.get_attribute("class") or "")
    results += _measure(widget, "unreachable")
    widget.shot(f"13-contrast-{colours}-unreachable")

    texts = [r for r in results if r["kind"] == "text"]
    assert {"haven-notice", "haven-crisis-banner", "haven-source", "haven-quick-reply", "haven-quick-exit",
            "haven-launcher", "haven-send", "haven-input", "haven-message-user", "haven-message-bot"} <= {
        testid for r in texts for testid in re.findall(r"\[([a-z-]+)\]", r["what"])
    }, "every part of the widget was measured"  # fmt: skip
    rings = [r for r in results if r["kind"] == "focus"]
    assert len(rings) >= 8, rings
    SHOTS.mkdir(parents=True, exist_ok=True)
    report = sorted(results, key=lambda r: r["ratio"] - r["required"])
    (SHOTS / f"contrast-{colours}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    lowest = {kind: min((r for r in results if r["kind"] == kind and r["required"]), key=lambda r: r["ratio"])
              for kind in ("text", "boundary", "focus")}  # fmt: skip
    print(f"\nlowest contrast ({colours}):", json.dumps(lowest, indent=1))
    failures = [r for r in results if r["ratio"] < r["required"] or r.get("clippedBy")]
    assert not failures, json.dumps(failures, indent=1)
    widget.assert_no_csp_violations()
    widget.assert_no_console_errors()


# ---------------------------------------------------------------------------------------- small screens


def test_works_at_360_px_wide(browser, live_haven) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    w = Widget(page, live_haven.site)
    try:
        w.goto()
        no_scroll = "() => document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(no_scroll), "no horizontal scroll"
        for hook in ("haven-launcher", "haven-quick-exit"):
            box = page.get_by_test_id(hook).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, hook
        w.shot("09-page-360px")
        w.open()
        w.say("why do I still feel attached after what he did, it makes no sense to me at all")
        assert page.evaluate(no_scroll), "no horizontal scroll"
        field = page.get_by_test_id("haven-input")
        assert field.is_visible()
        box = field.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 740
        send = page.get_by_test_id("haven-send").bounding_box()
        assert send and send["x"] + send["width"] <= 360 and send["height"] >= 24, "a tappable Send button"
        assert page.get_by_test_id("haven-quick-exit").is_visible()
        assert page.get_by_test_id("haven-notice").is_visible()
        w.shot("10-widget-360px")
        w.assert_no_local_storage()
        w.assert_no_csp_violations()
    finally:
        context.close()
