"""The practice FAQ (issue 15) end to end: real launcher, real Rasa, real action server, real website,
real HTTP, and the staff edit page in real Chromium (Playwright, Debian chromium).

Why its own servers and not the session's `live_haven`: the browser test edits the FAQ file, so the
servers run on a throwaway copy of content/ (HAVEN_CONTENT_DIR), never on the repository's own file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from haven import settings as settings_module
from haven.db import migrate, session
from haven.ops import processes
from haven.services import faq
from haven.settings import ROOT
from haven_devtools import rest_client
from tests import staff_signin
from tests.conftest import ARTIFACTS, LiveHaven, _wait_for_banner, launched

pytestmark = [pytest.mark.e2e, pytest.mark.model]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]  # fmt: skip
STAFF_TOKEN = "faq-e2e-staff-token-0123456789abcdef"

# The issue's five questions, exactly as written there, and the entry each must reach.
ISSUE_QUESTIONS = {
    "do you take insurance?": "insurance",
    "how much does a session cost?": "fees",
    "are sessions online or in person?": "session_format",
    "who is the therapist?": "therapist_bio",
    "is what I tell the therapist confidential?": "confidentiality",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """Haven through its launcher, on free ports, reading a throwaway copy of content/."""
    model = ROOT / "models" / processes.MODEL_FILE
    if not model.is_file():
        pytest.fail(f"no trained model at {model}: run `make train` first")
    folder = tmp_path_factory.mktemp("faq-e2e")
    content = folder / "content"
    shutil.copytree(ROOT / "content", content)
    database = f"sqlite:///{folder / 'haven.db'}"
    migrate.upgrade(database)
    staff_signin.set_password(database)  # what `make staff-password` does
    session.dispose_engine(database)
    env = {
        **os.environ,
        "RASA_PORT": str(processes.free_port()),
        "ACTION_PORT": str(processes.free_port()),
        "SITE_PORT": str(processes.free_port()),
        "RASA_AUTH_TOKEN": "test-api-token",
        "HAVEN_STAFF_TOKEN": STAFF_TOKEN,
        "HAVEN_CONTENT_DIR": str(content),
        "DATABASE_URL": database,
        "HAVEN_TRACKER_DB": str(folder / "rasa-tracker.db"),
        "HAVEN_REFERENCE_SECRET_FILE": str(folder / "reference-secret"),
        "HAVEN_RATE_LIMIT_PER_MINUTE": "0",
    }
    settings = settings_module.load(env)
    log = folder / "launcher.log"
    with launched(env, log) as process:
        _wait_for_banner(process, log, timeout=300)
        yield {"haven": LiveHaven(process, settings, log), "faq": content / "faq.yml"}
    code = process.returncode
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faq-launcher.log").write_bytes(log.read_bytes())
    assert code == 0, f"launcher exited with {code}"
    logged = log.read_text(errors="replace").lower()
    for typed in ISSUE_QUESTIONS:
        assert typed.rstrip("?") not in logged, f"visitor text in the server logs: {typed!r}"


def ask(haven: LiveHaven, text: str) -> List[Dict[str, Any]]:
    return rest_client.say(haven.rasa, text)


def faq_reply(replies: List[Dict[str, Any]]) -> tuple:
    """(the FAQ payload, all the reply text) of one turn; the payload is None when there is none."""
    customs = [r["custom"] for r in replies if isinstance(r.get("custom"), dict) and "faq" in r["custom"]]
    text = " ".join(r.get("text", "") for r in replies)
    return (customs[0] if len(customs) == 1 else None), text


@pytest.mark.parametrize("question, entry_id", list(ISSUE_QUESTIONS.items()))
def test_the_issues_questions_get_their_entry_over_rest(live, question, entry_id) -> None:
    current = faq.load(live["faq"])
    entry = current.get(entry_id)
    payload, text = faq_reply(ask(live["haven"], question))
    assert payload == {"faq": entry_id, "status": entry.status}, (question, payload, text)
    # The approved answer as written, or the honest "I don't have that": never the placeholder.
    assert entry.reply_text(current.labels) in text
    if not entry.approved:
        assert entry.answer not in text and "don't want to guess" in text and "consultation" in text


def test_what_follows_the_consultation_gets_the_article_then_the_entry_over_rest(live) -> None:
    replies = ask(live["haven"], "so once the free call is over, what are the next steps?")
    customs = [r["custom"] for r in replies if isinstance(r.get("custom"), dict)]
    assert [c.get("topic") for c in customs[:1]] == ["consultation_info"], replies
    assert customs[1:] == [{"faq": "after_consultation", "status": "to_fill"}], replies
    assert "15-minute consultation" in replies[0]["text"] and "don't want to guess" in replies[-2]["text"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_an_edit_in_the_browser_is_the_next_answer_without_retraining(live, browser) -> None:
    haven, path = live["haven"], live["faq"]
    question = "how much does a session cost?"
    before, _ = faq_reply(ask(haven, question))
    assert before == {"faq": "fees", "status": "to_fill"}
    model = ROOT / "models" / processes.MODEL_FILE
    model_stamp = model.stat().st_mtime_ns
    new_answer = f"A 50-minute session is $140; a sliding scale is available (edit {uuid.uuid4().hex[:6]})."

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        staff_signin.sign_in_browser(page, haven.site)
        page.goto(f"{haven.site}/staff/faq")
        page.locator('a[href="/staff/faq/fees"]').first.click()
        page.wait_for_url(f"{haven.site}/staff/faq/fees")
        page.fill("#answer", new_answer)
        page.fill("#changed_by", "Dr. Rivera")
        page.check("#approved")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{haven.site}/staff/faq?saved=fees")
        assert page.locator('[data-testid="faq-error"]').count() == 0
    finally:
        context.close()

    entry = faq.load(path).get("fees")
    assert (entry.status, entry.answer, entry.approved_by) == ("approved", new_answer, "Dr. Rivera")
    payload, text = faq_reply(ask(haven, question))
    assert payload == {"faq": "fees", "status": "approved"}
    assert new_answer in text and "don't want to guess" not in text
    assert model.stat().st_mtime_ns == model_stamp  # no `rasa train` happened
