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


def test_crisis_resources_default_to_the_us(app) -> None:
    _, response = app.test_client.get("/api/crisis-resources")
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json
    assert body["region"] == "US" and body["emergency_number"] == "911"
    assert any("988" in line for line in body["lines"]["suicide"])
    assert "988" in body["help_line"]
    assert body["help_number"] == "988"
    assert set(body) == {"region", "emergency", "emergency_number", "lines", "help_line", "help_number"}


def test_crisis_resources_follow_the_locale_country(app) -> None:
    _, response = app.test_client.get("/api/crisis-resources", params={"locale": "en-GB"})
    body = response.json
    assert body["region"] == "UK" and body["emergency_number"] == "999"
    assert any("116 123" in line for line in body["lines"]["suicide"])
    assert "116 123" in body["help_line"] and "999" in body["help_line"]
    assert body["help_number"] == "116 123"
    _, response = app.test_client.get("/api/crisis-resources", params={"region": "uk"})
    assert response.json["region"] == "UK"
    _, response = app.test_client.get("/api/crisis-resources", params={"locale": "fr-CA"})
    assert response.json["region"] == "CA"


@pytest.mark.parametrize("locale", ["junk", "<script>", "de-DE", "en-ZZ", "x" * 500])
def test_an_unknown_locale_gets_the_configured_default(app, locale) -> None:
    _, response = app.test_client.get("/api/crisis-resources", params={"locale": locale})
    assert response.status == 200 and response.json["region"] == "US"


def test_an_unknown_locale_follows_haven_region(tmp_path) -> None:
    env = {"HAVEN_REGION": "au", "DATABASE_URL": f"sqlite:///{tmp_path}/haven.db"}
    _, response = create_app(settings_module.load(env)).test_client.get(
        "/api/crisis-resources", params={"locale": "junk"}
    )
    assert response.json["region"] == "AU" and response.json["emergency_number"] == "000"


@pytest.mark.parametrize("sender", ["short", "a" * 65, "has space in it 123", "semi;colon-0123456789"])
def test_forget_refuses_a_malformed_sender_id(app, sender) -> None:
    _, response = app.test_client.post(f"/api/conversations/{sender}/forget")
    assert response.status == 400
    assert response.json == {"error": "invalid_sender_id"}


def test_forget_answers_503_when_rasa_cannot_be_reached(tmp_path) -> None:
    from haven.ops import processes

    env = {"RASA_PORT": str(processes.free_port()), "HAVEN_RASA_API_TOKEN": "t",
           "DATABASE_URL": f"sqlite:///{tmp_path}/haven.db"}  # fmt: skip
    _, response = create_app(settings_module.load(env)).test_client.post(
        "/api/conversations/0123456789abcdef0123456789abcdef/forget"
    )
    assert response.status == 503
    assert response.json == {"error": "rasa_unreachable"}
