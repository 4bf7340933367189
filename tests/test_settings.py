from __future__ import annotations

import pytest

from haven import settings


def test_contract_defaults() -> None:
    s = settings.load({})
    assert (s.rasa_port, s.action_port, s.site_port) == (5005, 5055, 8000)
    assert s.database_url == f"sqlite:///{settings.ROOT / 'var' / 'haven.db'}"
    assert s.staff_token is None and s.rasa_auth_token is None
    assert s.action_url == "http://127.0.0.1:5055/webhook"


def test_environment_overrides() -> None:
    s = settings.load(
        {
            "RASA_PORT": "6000",
            "DATABASE_URL": "postgresql://u@h/db",
            "HAVEN_STAFF_TOKEN": " " + "t" * 32 + " ",
        }
    )
    assert s.rasa_port == 6000
    assert s.database_url == "postgresql://u@h/db"
    assert s.staff_token == "t" * 32


@pytest.mark.parametrize("bad", ["abc", "0", "70000"])
def test_bad_ports_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="SITE_PORT"):
        settings.load({"SITE_PORT": bad})


def test_scale_out_settings_default_to_one_machine() -> None:
    s = settings.load({})
    assert s.rasa_endpoints == settings.ROOT / "endpoints.yml"
    assert s.tracker_db == settings.ROOT / "var" / "rasa-tracker.db"
    assert s.sanic_workers == 1
    assert s.services == ("actions", "rasa", "website")
    assert s.rasa_internal_url == "http://127.0.0.1:5005"


def test_scale_out_settings_from_the_environment(tmp_path) -> None:
    s = settings.load(
        {
            "HAVEN_RASA_ENDPOINTS": "deploy/endpoints.scale-out.yml",
            "SANIC_WORKERS": "3",
            "HAVEN_SERVICES": "Rasa, actions",
            "HAVEN_ACTION_SERVER_URL": "http://10.0.0.10:5055/webhook",
            "HAVEN_RASA_INTERNAL_URL": "http://10.0.0.10:5005/",
        }
    )
    assert s.rasa_endpoints == settings.ROOT / "deploy" / "endpoints.scale-out.yml", "relative to the project"
    assert s.sanic_workers == 3
    assert s.services == ("actions", "rasa")
    assert s.action_url == "http://10.0.0.10:5055/webhook"
    assert s.rasa_internal_url == "http://10.0.0.10:5005"
    assert (
        settings.load({"HAVEN_RASA_ENDPOINTS": str(tmp_path / "e.yml")}).rasa_endpoints == tmp_path / "e.yml"
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SANIC_WORKERS": "0"}, "SANIC_WORKERS"),
        ({"SANIC_WORKERS": "two"}, "SANIC_WORKERS"),
        ({"HAVEN_SERVICES": "rasa,nginx"}, "HAVEN_SERVICES"),
        ({"HAVEN_SERVICES": ","}, "HAVEN_SERVICES"),
    ],
)
def test_bad_scale_out_settings_are_refused_with_a_clear_message(env, name) -> None:
    with pytest.raises(ValueError, match=name):
        settings.load(env)


def test_reliability_and_retention_settings() -> None:
    s = settings.load({})
    assert (s.retain_conversation_days, s.retain_handled_days, s.purge_interval_hours) == (30, 180, 6.0)
    assert (s.restart_limit, s.restart_window_s) == (6, 600) and s.action_token is None
    s = settings.load({"HAVEN_RETAIN_CONVERSATIONS_DAYS": "7", "HAVEN_PURGE_INTERVAL_HOURS": "0.5",
                       "HAVEN_ACTION_TOKEN": " x "})  # fmt: skip
    assert (s.retain_conversation_days, s.purge_interval_hours, s.action_token) == (7, 0.5, "x")
    bad_values = [("HAVEN_RETAIN_CONVERSATIONS_DAYS", "0"), ("HAVEN_RETAIN_HANDLED_DAYS", "-1"),
                  ("HAVEN_PURGE_INTERVAL_HOURS", "soon"), ("HAVEN_PURGE_INTERVAL_HOURS", "nan")]  # fmt: skip
    for name, bad in bad_values:
        with pytest.raises(ValueError, match=name):
            settings.load({name: bad})
