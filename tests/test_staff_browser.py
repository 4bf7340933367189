"""The staff inbox and insights in a real browser (Chromium through Playwright) against a real
website server: axe-core finds no WCAG 2.2 AA violation at desktop and phone sizes, a phone never
scrolls sideways, and bulk "mark handled" with undo works by clicking.

Sign-in goes through tests/staff_signin.py (the one place to change when the password sign-in lands).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest

from haven.db import counts, migrate, repository, session
from haven.ops.processes import free_port
from haven.settings import ROOT
from tests import staff_signin
from tests.js_clients import package

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "staff"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]  # fmt: skip
TOKEN = "browser-staff-token-0123456789abcdef"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}
# What sticks out past a phone's width, for the failure message.
WIDEST = """[...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth).slice(0, 8)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict]:
    """A website server alone (no Rasa needed for staff pages) on a free port, with a seeded database."""
    folder = tmp_path_factory.mktemp("staff-browser")
    url = f"sqlite:///{folder / 'haven.db'}"
    migrate.upgrade(url)
    now = datetime.now(UTC)
    for n in range(30):
        repository.record_safety_event(
            category=("suicide", "self_harm", "danger")[n % 3],
            subject="self",
            rule=("rule:suicide.not_want_to_live", "model:0.97", "rule:danger.not_safe")[n % 3],
            conversation_id=f"conversation-{n}",
            url=url,
        )
    for n in range(25):
        repository.create_booking(
            name=f"Visitor {n} with a rather long double-barrelled name",
            contact_method="email" if n % 2 else "phone",
            contact="someone.with.a.long.address@example.org" if n % 2 else "+1 617 555 0100",
            timezone="America/New_York",
            consent=True,
            slot_start=(now + timedelta(days=2 + n)).replace(minute=0, second=0, microsecond=0)
            if n % 3
            else None,
            time_preference=None
            if n % 3
            else "Weekday evenings after the kids are asleep, or Saturday morning",
            url=url,
        )
    repository.create_handoff(
        name="Ash",
        contact_method="email",
        contact="ash@example.org",
        message="Evening slots?\nThanks",
        url=url,
    )
    for topic, times in (("why_still_attached", 4), ("how_to_heal", 2)):
        for _ in range(times):
            counts.increment("topic", topic, url=url)
    counts.increment("could_not_answer", url=url)
    staff_signin.set_password(url)  # what `make staff-password` does (module-scoped, so not the fixture)
    port = free_port()
    env = {
        **os.environ,
        "SITE_PORT": str(port),
        "DATABASE_URL": url,
        "HAVEN_STAFF_TOKEN": TOKEN,
        "HAVEN_TIMEZONE": "America/New_York",
        "HAVEN_REFERENCE_SECRET_FILE": str(folder / "reference-secret"),
        "HAVEN_RATE_LIMIT_PER_MINUTE": "0",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    log = open(folder / "site.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "website"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "site.log").read_text(errors="replace")[-2000:]) from None
                time.sleep(0.2)
        yield {"base": base, "url": url}
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
        session.dispose_engine(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            "/usr/bin/chromium is missing: install Debian's chromium package to run the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _page(browser, site, size: str):
    # bypass_csp only so axe-core can be injected; the pages themselves run no script at all.
    context = browser.new_context(viewport=SIZES[size], bypass_csp=True)
    page = context.new_page()
    staff_signin.sign_in_browser(page, site["base"], staff_signin.PASSWORD)
    return context, page


def _axe(page) -> list:
    page.add_script_tag(path=str(package("axe-core") / "axe.min.js"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))",
        AXE_TAGS,
    )
    return result


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("path", ["/staff", "/staff?show=open", "/staff/insights"])
def test_staff_pages_have_no_wcag_aa_violations_and_fit_a_phone(browser, site, path, size) -> None:
    context, page = _page(browser, site, size)
    try:
        page.goto(site["base"] + path)
        assert page.locator("h1").count() == 1
        assert _axe(page) == []
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways at {size}: {width}, {page.evaluate(WIDEST)}"
        if path.startswith("/staff?") or path == "/staff":
            assert page.locator(".cards > li").count() <= 3 * 20  # paged, never the whole database
            assert page.locator("table").count() == 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-")
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"))  # the first screen, for a person to look at
        if size == "phone":
            height = page.evaluate("document.documentElement.scrollHeight")
            print(f"{path} at phone size: {height} px tall")
    finally:
        context.close()


def test_bulk_mark_handled_and_undo_by_clicking(browser, site) -> None:
    context, page = _page(browser, site, "phone")
    try:
        page.goto(site["base"] + "/staff")
        heading = page.locator("#bookings-heading .count")
        before = heading.inner_text()
        boxes = page.locator('input[form="bulk-bookings"]')
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.get_by_role("button", name="Mark selected consultation bookings handled").click()
        page.wait_for_load_state()
        status = page.get_by_role("status")
        assert "Marked 2 bookings handled." in status.inner_text()
        open_before = int(before.split()[0])
        assert page.locator("#bookings-heading .count").inner_text().startswith(f"{open_before - 2} open")
        assert _axe(page) == []  # the undo notice too
        status.get_by_role("button", name="Undo").click()
        page.wait_for_load_state()
        assert page.locator("#bookings-heading .count").inner_text() == before
        assert page.get_by_role("status").count() == 0
    finally:
        context.close()
