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
        {"RASA_PORT": "6000", "DATABASE_URL": "postgresql://u@h/db", "HAVEN_STAFF_TOKEN": " t "}
    )
    assert s.rasa_port == 6000
    assert s.database_url == "postgresql://u@h/db"
    assert s.staff_token == "t"


@pytest.mark.parametrize("bad", ["abc", "0", "70000"])
def test_bad_ports_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="SITE_PORT"):
        settings.load({"SITE_PORT": bad})
