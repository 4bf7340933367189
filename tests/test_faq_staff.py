"""The therapist's FAQ page (issue 15) through the real website app (sanic's test client, real HTTP
handling, a real SQLite database and a real copy of content/): sign-in guard, CSRF, the list, an edit
that writes faq.yml atomically and is approved only when ticked."""

from __future__ import annotations

import re
import shutil

import pytest

from haven import settings as settings_module
from haven.db import faq_questions, migrate, session
from haven.services import faq
from haven.settings import ROOT
from tests import staff_signin
from website.app import create_app

TOKEN = "faq-staff-token-0123456789abcdef"
HOST = "faq.test"
ORIGIN = f"http://{HOST}"


@pytest.fixture
def site(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    url = f"sqlite:///{tmp_path / 'haven.db'}"
    migrate.upgrade(url)
    faq_questions.record("unmatched", "fees", 0.4, url=url)
    staff_signin.set_password(url)  # what `make staff-password` does
    app = create_app(
        settings_module.load(
            {
                "DATABASE_URL": url,
                "HAVEN_STAFF_TOKEN": TOKEN,
                "HAVEN_CONTENT_DIR": str(content),
                "HAVEN_REFERENCE_SECRET_FILE": str(tmp_path / "reference-secret"),
            }
        )
    )
    yield app, content / "faq.yml"
    session.dispose_engine(url)


def call(app, method, path, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    headers = {"Host": HOST, **kwargs.pop("headers", {})}
    _, response = getattr(app.test_client, method)(path, headers=headers, **kwargs)
    return response


def signed_in(app) -> dict:
    value = staff_signin.sign_in_test_client(app, staff_signin.PASSWORD, HOST, ORIGIN)
    return {"Cookie": f"haven_staff={value}", "Origin": ORIGIN}


def test_the_faq_page_needs_a_signed_in_therapist(site) -> None:
    app, _ = site
    assert call(app, "get", "/staff/faq").status == 401
    assert call(app, "post", "/staff/faq/fees", data={"answer": "x"}).status == 401


def test_the_list_shows_every_entry_its_status_and_counts_without_words(site) -> None:
    app, _ = site
    page = call(app, "get", "/staff/faq", headers=signed_in(app))
    assert page.status == 200
    assert page.text.count('data-testid="faq-status"') == 14
    assert page.text.count('faq-status">Approved<') == 3 and page.text.count('faq-status">To fill<') == 11
    assert "Matched nothing" in page.text and "words are not kept" in page.text


def test_an_edit_is_written_and_approved_only_when_ticked(site) -> None:
    app, path = site
    headers = signed_in(app)
    form = call(app, "get", "/staff/faq/fees", headers=headers)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    questions = "\n".join(faq.load(path).get("fees").questions)
    data = {"csrf_token": csrf, "answer": "A session is $150.", "questions": questions, "changed_by": "Dr. R"}
    saved = call(app, "post", "/staff/faq/fees", headers=headers, data=data)
    assert saved.status == 303
    entry = faq.load(path).get("fees")
    assert (entry.status, entry.answer, entry.changed_by) == ("to_fill", "A session is $150.", "Dr. R")
    saved = call(app, "post", "/staff/faq/fees", headers=headers, data={**data, "approved": "yes"})
    assert saved.status == 303
    entry = faq.load(path).get("fees")
    assert (entry.status, entry.approved_by) == ("approved", "Dr. R") and entry.approved_on
    assert entry.reply_text(faq.load(path).labels) == "A session is $150."


def test_a_bad_edit_is_refused_kindly_and_the_file_is_unchanged(site) -> None:
    app, path = site
    headers = signed_in(app)
    csrf = re.search(
        r'name="csrf_token" value="([^"]+)"', call(app, "get", "/staff/faq/fees", headers=headers).text
    )
    before = path.read_bytes()
    data = {"csrf_token": csrf.group(1), "answer": "ok", "questions": "just one", "changed_by": "Dr. R"}
    refused = call(app, "post", "/staff/faq/fees", headers=headers, data=data)
    assert refused.status == 400 and "8-15" in refused.text
    no_csrf = call(app, "post", "/staff/faq/fees", headers=headers, data={**data, "csrf_token": "x"})
    assert no_csrf.status == 403
    assert call(app, "get", "/staff/faq/nope", headers=headers).status == 404
    assert path.read_bytes() == before
