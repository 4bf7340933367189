"""The website server through sanic's test client: no live server needed."""

from __future__ import annotations

import pytest

from haven import settings as settings_module
from website.app import create_app


@pytest.fixture
def app(tmp_path):
    env = {"SITE_PORT": "8123", "RASA_PORT": "5123", "DATABASE_URL": f"sqlite:///{tmp_path}/haven.db"}
    return create_app(settings_module.load(env))


def test_health(app) -> None:
    _, response = app.test_client.get("/health")
    assert response.status == 200
    assert response.json == {"status": "ok"}


def test_the_page_says_what_haven_is_not(app) -> None:
    _, response = app.test_client.get("/")
    assert response.status == 200
    assert "not an emergency service" in response.text
    assert "988" in response.text


def test_security_headers_forbid_inline_script(app) -> None:
    _, response = app.test_client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "http://localhost:5123" in csp
    assert response.headers["x-frame-options"] == "DENY"


def test_unknown_paths_get_a_clean_404(app) -> None:
    _, response = app.test_client.get("/nope/../../etc/passwd")
    assert response.status == 404
