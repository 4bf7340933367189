"""The chat widget in a real browser (Debian's Chromium through Playwright) against the live servers.

Each test gets a fresh browser context (fresh sessionStorage). Screenshots of every state go to
test-artifacts/widget/. The quick-exit navigation is intercepted, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Iterator, List

import pytest

from haven.settings import ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "widget"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]  # fmt: skip
EXIT_PATTERN = re.compile(r"^https://www\.google\.com/")
STORE_KEY = "haven-widget:v1"
REPLY_TIMEOUT_MS = 90_000

BOT = '[data-testid="haven-message-bot"]'
USER = '[data-testid="haven-message-user"]'


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

    def goto(self) -> None:
        self.page.goto(self.site + "/")
        self.page.wait_for_selector('[data-testid="haven-launcher"]')

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

    def say(self, text: str) -> None:
        before = self.bots()
        self.page.fill('[data-testid="haven-input"]', text)
        self.page.click('[data-testid="haven-send"]')
        self.wait_for_replies(before)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def stored(self):
        return self.page.evaluate(f"() => sessionStorage.getItem({STORE_KEY!r})")

    def assert_no_local_storage(self) -> None:
        assert self.page.evaluate("() => localStorage.length") == 0, "nothing may be kept in localStorage"

    def assert_no_csp_violations(self) -> None:
        bad = [e for e in self.console_errors if "Content Security Policy" in e or "CORS" in e]
        assert not bad, bad


@pytest.fixture
def widget(browser, live_haven) -> Iterator[Widget]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    w = Widget(page, live_haven.site)
    yield w
    context.close()


def test_a_question_gets_its_answer_and_the_article_source(widget) -> None:
    widget.goto()
    notice = widget.page.get_by_test_id("haven-notice")
    widget.open()
    assert notice.is_visible()
    assert notice.inner_text() == "Not an emergency service \u2014 in crisis call or text 988, or 911"
    assert "Haven" in widget.page.locator(BOT).first.inner_text(), "the greeting was sent on open"
    widget.say("what is a trauma bond")
    source = widget.page.get_by_test_id("haven-source").last
    assert source.inner_text() == "From the article: What Is a Trauma Bond?"
    assert source.locator("a").get_attribute("href") == "/#what-is-a-trauma-bond"
    assert widget.page.locator("h2#what-is-a-trauma-bond").count() == 1, "the anchor exists on the page"
    assert widget.page.locator(USER).last.inner_text().endswith("what is a trauma bond")
    widget.shot("01-answer-with-source")
    widget.assert_no_local_storage()
    widget.assert_no_csp_violations()


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
    widget.page.click("[data-haven-send]")
    widget.wait_for_replies(0)
    assert widget.page.locator(USER).last.inner_text().endswith("Book a free consultation")
    assert any('"message":"/book_consultation"' in body for body in requests)
    assert widget.page.evaluate("() => document.activeElement.dataset.testid") == "haven-input"
    widget.shot("03-booking-from-page")


def test_crisis_pins_the_banner_for_the_rest_of_the_conversation_and_reload_keeps_it(widget) -> None:
    widget.goto()
    widget.open()
    banner = widget.page.get_by_test_id("haven-crisis-banner")
    assert not banner.is_visible()
    widget.say("honestly everyone would be better off without me")
    assert banner.is_visible()
    assert "988" in banner.inner_text() and "911" in banner.inner_text()
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
    sender_before = widget.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")
    requests: List[str] = []
    widget.page.on("request", lambda r: requests.append(r.post_data or "") if "webhook" in r.url else None)
    widget.page.reload()
    widget.page.wait_for_selector(BOT)
    assert widget.page.locator(f"{BOT}, {USER}").all_inner_texts() == texts_before
    assert widget.page.get_by_test_id("haven-source").count() == 1
    sender_after = widget.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")
    assert sender_after == sender_before
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
    old_sender = widget.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")
    requests: List[str] = []
    widget.page.on("request", lambda r: requests.append(r.post_data or "") if "webhook" in r.url else None)
    widget.page.click('[data-testid="haven-clear"]')
    widget.wait_for_replies(0)
    assert widget.page.locator(USER).count() == 0
    new_sender = widget.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")
    assert new_sender != old_sender
    assert any(old_sender in body and "/restart" in body for body in requests)
    assert any(new_sender in body and "/greet" in body for body in requests)


def test_clear_conversation_deletes_the_old_one_on_the_server(widget, live_haven) -> None:
    widget.goto()
    widget.open()
    widget.say("what is a trauma bond")
    old_sender = widget.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")
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


def test_the_crisis_banner_shows_the_numbers_for_the_widget_locale(widget) -> None:
    # The page as a host site would configure it: data-locale="en-GB" on the widget's script tag
    # (set while the page is parsed, before the deferred script runs).
    widget.page.add_init_script("""
        new MutationObserver(function () {
          var script = document.querySelector('script[src*="haven-widget.js"]');
          if (script) { script.setAttribute("data-locale", "en-GB"); }
        }).observe(document, { childList: true, subtree: true });
    """)
    widget.goto()
    widget.open()
    widget.say("honestly everyone would be better off without me")
    banner = widget.page.get_by_test_id("haven-crisis-banner")
    assert banner.is_visible()
    text = banner.inner_text()
    assert "116 123" in text and "999" in text
    assert "988" not in text and "911" not in text
    assert widget.page.locator('[data-testid="haven-crisis-actions"] a[href="tel:999"]').count() == 1
    locale = "() => document.querySelector('script[src*=\"haven-widget.js\"]').dataset.locale"
    assert widget.page.evaluate(locale) == "en-GB"
    widget.shot("04b-crisis-banner-en-GB")
    widget.assert_no_csp_violations()


@pytest.mark.parametrize("how", ["button", "escape twice"])
def test_quick_exit_leaves_at_once_and_clears_the_conversation(widget, how) -> None:
    widget.page.route(EXIT_PATTERN, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Weather</title><p>Weather</p>"
    ))  # fmt: skip
    widget.goto()
    widget.open()
    widget.say("what is a trauma bond")
    assert widget.stored() is not None
    widget.shot(f"06-before-quick-exit-{how.replace(' ', '-')}")
    sender = widget.page.evaluate(f"() => JSON.parse(sessionStorage.getItem({STORE_KEY!r})).sender")
    forgets: List[str] = []
    widget.page.on(
        "request", lambda r: forgets.append(r.method + " " + r.url) if "/forget" in r.url else None
    )
    if how == "button":
        widget.page.click('[data-testid="haven-quick-exit"]')
    else:
        widget.page.focus('[data-testid="haven-input"]')
        widget.page.keyboard.press("Escape")
        widget.page.keyboard.press("Escape")
    widget.page.wait_for_url(EXIT_PATTERN)
    assert widget.page.title() == "Weather"
    assert forgets == [f"POST {widget.site}/api/conversations/{sender}/forget"], "deleted on the server too"
    # Back on the site in the same tab: nothing of the conversation is left.
    widget.goto()
    assert widget.stored() is None
    assert widget.page.evaluate("() => sessionStorage.length") == 0
    assert widget.page.locator(f"{BOT}, {USER}").count() == 0
    assert not widget.page.get_by_test_id("haven-input").is_visible(), "the chat starts closed again"
    widget.assert_no_local_storage()


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


def test_unreachable_server_gets_a_kind_message_with_the_crisis_numbers(widget) -> None:
    widget.goto()
    widget.page.route("**/webhooks/rest/webhook", lambda route: route.abort())
    widget.page.click('[data-testid="haven-launcher"]')
    widget.wait_for_replies(0)
    message = widget.page.locator(BOT).last.inner_text()
    assert "can\u2019t reach Haven right now" in message
    assert "988" in message and "911" in message
    widget.shot("08-unreachable")


def test_without_the_crisis_resources_the_widget_keeps_the_us_numbers(widget) -> None:
    widget.page.route("**/api/crisis-resources*", lambda route: route.abort())
    widget.page.route("**/webhooks/rest/webhook", lambda route: route.abort())
    widget.goto()
    widget.page.click('[data-testid="haven-launcher"]')
    widget.wait_for_replies(0)
    message = widget.page.locator(BOT).last.inner_text()
    assert "988 (Suicide & Crisis Lifeline)" in message and "911" in message
    actions = widget.page.get_by_test_id("haven-crisis-actions")
    assert actions.locator('a[href="tel:988"]').count() == 1
    assert actions.locator('a[href="tel:911"]').count() == 1


def test_works_at_360_px_wide(browser, live_haven) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    w = Widget(page, live_haven.site)
    try:
        w.goto()
        w.shot("09-page-360px")
        w.open()
        w.say("why do I still feel attached after what he did, it makes no sense to me at all")
        no_scroll = "() => document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(no_scroll), "no horizontal scroll"
        field = page.get_by_test_id("haven-input")
        assert field.is_visible()
        box = field.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 740
        assert page.get_by_test_id("haven-quick-exit").is_visible()
        assert page.get_by_test_id("haven-notice").is_visible()
        w.shot("10-widget-360px")
        w.assert_no_local_storage()
        w.assert_no_csp_violations()
    finally:
        context.close()
