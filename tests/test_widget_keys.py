"""Issue 13.3, 13.4 and 12.6 in a real browser (Debian's Chromium through Playwright) against the live
servers: the crisis turn you can tap, focus and keys, a Quick exit that leaves fewer traces, and axe-core
on the open chat and the crisis turn. Helpers and fixtures are tests/test_widget.py's."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from haven import yaml_files
from haven.services import safety
from haven.settings import ROOT
from tests.js_clients import package
from tests.test_widget import (  # noqa: F401 - pytest fixtures used by name
    BOT,
    EXIT_PATTERN,
    QUICK_EXIT,
    USER,
    Widget,
    _leave_and_come_back,
    browser,
    text,
    widget,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.browser]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {"width": 375, "height": 812}
CRISIS = "honestly everyone would be better off without me"
IN_PANEL = "() => document.getElementById('haven-panel').contains(document.activeElement)"


@pytest.fixture
def phone(browser, live_haven) -> Iterator[Widget]:  # noqa: F811 - the imported fixture
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Widget(page, live_haven.site)
    context.close()


@pytest.fixture
def axe_widget(browser, live_haven) -> Iterator[Widget]:  # noqa: F811
    # bypass_csp only so axe-core can be injected into the page; the widget itself runs under the CSP
    # in every other test.
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Widget(page, live_haven.site)
    context.close()


def _axe(page) -> list:
    page.add_script_tag(path=str(package("axe-core") / "axe.min.js"))
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))",
        AXE_TAGS,
    )


# ------------------------------------------------------------------------------- the crisis turn (13.3)


def test_the_crisis_turn_has_links_to_call_and_text_that_stay(widget) -> None:  # noqa: F811
    widget.goto()
    widget.open()
    widget.say(CRISIS)
    crisis = widget.page.locator(f"{BOT}:has([data-testid=haven-links])").last
    links = crisis.get_by_test_id("haven-link-button")
    us = safety.load().region_resources("US").links["suicide"]
    assert links.all_inner_texts() == [link.title for link in us]
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [link.href for link in us]
    assert links.all_inner_texts()[:4] == ["Call 988", "Text 988", "Text HOME to 741741", "Call 911"]
    assert crisis.locator("a[href='sms:741741?&body=HOME']").count() == 1
    assert crisis.get_by_role("group").get_attribute("aria-label") == text("links_label")
    assert crisis.locator("p.haven-para").count() >= 3, "short paragraphs, not one block"
    # The decision in docs/crisis-detection.md: nothing to book in a suicide-disclosure turn.
    assert widget.page.get_by_test_id("haven-quick-reply").count() == 0, "no booking button in this turn"
    widget.shot("13-crisis-turn-links")
    widget.say("what is a trauma bond")
    assert widget.page.locator("a[href='tel:988'].haven-link-button").count() == 1, "the lines stay"
    widget.page.reload()
    widget.page.wait_for_selector(BOT)
    assert widget.page.locator("a[href='sms:988'].haven-link-button").count() == 1, "and survive a reload"
    widget.assert_no_console_errors()


def test_the_uk_crisis_turn_has_the_uk_links(widget) -> None:  # noqa: F811
    widget.embed(**{"data-locale": "en-GB"})
    widget.goto()
    widget.open()
    widget.say("i want to end my life")
    hrefs = widget.page.locator("[data-testid=haven-link-button]").evaluate_all(
        "as => as.map(a => a.getAttribute('href'))"
    )
    assert hrefs[:3] == ["tel:116123", "sms:85258?&body=SHOUT", "tel:999"], hrefs
    crisis = widget.page.locator(f"{BOT}:has([data-testid=haven-links])").last
    assert "If you are outside the UK" in crisis.inner_text()


# US, suicide, self: the reply the Rasa server sends, as generated
CHECK_IN = yaml_files.read(ROOT / "domain.yml")["responses"]["utter_crisis_check_in"][0]


def test_the_check_in_shows_yes_no_and_the_regions_links(widget) -> None:  # noqa: F811
    """Both answers as quick replies, the lines as links; a payload that is not a safe link (javascript:)
    is never made into one."""
    reply = {
        "text": CHECK_IN["text"],
        "buttons": CHECK_IN["buttons"] + [{"title": "x", "payload": "javascript:1"}],
    }
    answers_to = {"/greet": [{"text": "Hello."}], "/deny": [{"text": "Thank you for answering."}]}
    widget.stub_rasa(lambda m: answers_to.get(m, [reply, {"custom": CHECK_IN["custom"]}]))
    widget.goto()
    widget.open()
    widget.say("something uncertain")
    answers = widget.page.get_by_test_id("haven-quick-reply")
    assert answers.all_inner_texts() == ["Yes", "No, I'm safe", "x"]
    hrefs = widget.page.get_by_test_id("haven-link-button").evaluate_all(
        "as => as.map(a => a.getAttribute('href'))"
    )
    assert hrefs == [b["payload"] for b in CHECK_IN["buttons"][2:]] and "tel:911" in hrefs
    assert widget.page.locator("a[href^=javascript]").count() == 0
    before = widget.bots()
    answers.nth(1).click()
    widget.wait_for_replies(before)
    assert widget.page.get_by_test_id("haven-link-button").count() == len(hrefs), "the lines stay after 'No'"


# --------------------------------------------------------------------------------- focus and keys (13.4)


def test_choosing_a_quick_reply_puts_the_cursor_back_in_the_field(widget) -> None:  # noqa: F811
    widget.goto()
    widget.open()  # the greeting offers three starters
    starters = widget.page.get_by_test_id("haven-quick-reply")
    assert starters.count() == 3
    before = widget.bots()
    starters.first.click()  # mouse
    widget.wait_for_replies(before)
    assert widget.active_testid() == "haven-input", "after a click"
    for _ in range(15):  # keyboard: back from the field to the quick replies
        widget.page.keyboard.press("Shift+Tab")
        if widget.active_testid() == "haven-quick-reply":
            break
    assert widget.active_testid() == "haven-quick-reply"
    before = widget.bots()
    widget.page.keyboard.press("Enter")
    widget.wait_for_replies(before)
    assert widget.active_testid() == "haven-input", "after Enter, focus is not left on <body>"
    widget.page.keyboard.type("how do I heal")
    widget.page.keyboard.press("Enter")
    widget.wait_for_replies(before + 1)
    assert widget.page.locator(USER).last.inner_text().endswith("how do I heal"), "typing just works"


def test_full_screen_on_a_phone_the_chat_is_modal_and_keeps_focus(phone) -> None:
    phone.goto()
    panel = phone.page.locator("#haven-panel")
    phone.open()
    assert panel.get_attribute("aria-modal") == "true"
    for key in ("Tab", "Shift+Tab"):
        seen = set()
        for _ in range(25):
            phone.page.keyboard.press(key)
            assert phone.page.evaluate(IN_PANEL), f"{key} left the full-screen chat"
            seen.add(phone.page.evaluate("() => document.activeElement.outerHTML.slice(0, 60)"))
        assert len(seen) >= 5, "Tab still moves through the chat's controls"
    phone.page.evaluate("() => document.querySelector('.skip-link').focus()")  # focus sent behind it
    assert phone.page.evaluate(IN_PANEL), "focus that reaches the page behind comes back"
    phone.page.locator(".haven-header button").click()
    assert panel.get_attribute("aria-modal") is None, "closed, nothing is modal"


def test_on_a_desktop_the_chat_is_not_modal(widget) -> None:  # noqa: F811
    widget.goto()
    widget.open()
    assert widget.page.locator("#haven-panel").get_attribute("aria-modal") is None
    widget.page.keyboard.press("Shift+Tab")
    for _ in range(30):
        widget.page.keyboard.press("Tab")
        if not widget.page.evaluate(IN_PANEL):
            break
    assert not widget.page.evaluate(IN_PANEL), "beside the page, Tab may leave the chat"


def test_esc_twice_only_closes_and_never_wipes_the_conversation(widget) -> None:  # noqa: F811
    widget.goto()
    widget.open()
    widget.say("what is a trauma bond")
    sender = widget.sender()
    widget.page.focus('[data-testid="haven-input"]')
    widget.page.keyboard.press("Escape")
    widget.page.keyboard.press("Escape")
    widget.page.keyboard.press("Escape")
    assert widget.page.url.startswith(widget.site), "still on the page"
    assert not widget.page.get_by_test_id("haven-input").is_visible(), "the chat is closed"
    assert widget.sender() == sender and widget.page.locator(USER).count() == 1, "and the conversation kept"


@pytest.mark.parametrize("chat", ["open", "closed"])
def test_alt_shift_x_is_the_keyboard_quick_exit_and_is_explained(widget, chat) -> None:  # noqa: F811
    widget.route_exit()
    widget.goto()
    exit_button = widget.page.locator(QUICK_EXIT)
    assert exit_button.get_attribute("aria-keyshortcuts") == "Alt+Shift+X"
    widget.open()
    note = widget.page.get_by_test_id("haven-exit-note")
    assert note.is_visible() and "Alt+Shift+X" in note.inner_text()
    assert note.inner_text() == text("quick_exit_keys") + " " + text("private_tip")
    widget.say("what is a trauma bond")
    sender = widget.sender()
    if chat == "closed":
        widget.page.locator(".haven-header button").click()
    forgets: List[str] = []
    widget.page.on(
        "request", lambda r: forgets.append(r.method + " " + r.url) if "/forget" in r.url else None
    )
    widget.page.keyboard.press("Alt+Shift+X")
    _leave_and_come_back(widget, sender, forgets)


# -------------------------------------------------------------------------- fewer traces (12.6), favicon


def test_quick_exit_replaces_the_chat_page_in_the_history(widget) -> None:  # noqa: F811
    widget.route_exit()
    widget.page.goto(widget.site + "/health")  # the page the visitor came from
    widget.goto()
    widget.open()
    widget.say("what is a trauma bond")
    length = widget.page.evaluate("() => history.length")
    widget.page.locator(QUICK_EXIT).click()
    widget.page.wait_for_url(EXIT_PATTERN)
    assert widget.page.evaluate("() => history.length") == length, "replaced, not added"
    widget.page.go_back()
    assert widget.page.url == widget.site + "/health", "Back skips the chat page"
    widget.page.go_forward()
    assert EXIT_PATTERN.match(widget.page.url), "and Forward leads to the exit page, not the chat"


def test_every_page_gets_its_favicon(widget) -> None:  # noqa: F811
    missing: List[str] = []
    widget.page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    for path in ("/", "/staff/login"):
        widget.page.goto(widget.site + path)
        icon = widget.page.request.get(widget.site + "/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
    widget.page.wait_for_timeout(500)
    assert not missing, missing


# ------------------------------------------------------------------------------------------------ axe-core


def test_axe_finds_no_violation_on_the_open_chat_and_the_crisis_turn(axe_widget) -> None:
    axe_widget.goto()
    axe_widget.open()
    assert _axe(axe_widget.page) == [], "the open chat with the greeting and its starters"
    axe_widget.say(CRISIS)
    assert axe_widget.page.get_by_test_id("haven-link-button").count() >= 4
    assert _axe(axe_widget.page) == [], "the crisis turn with its links and the banner"


def test_axe_finds_no_violation_full_screen_on_a_phone(browser, live_haven) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True)
    try:
        w = Widget(context.new_page(), live_haven.site)
        w.goto()
        w.open()
        w.say(CRISIS)
        assert _axe(w.page) == []
    finally:
        context.close()
