"""A booking survives a restart of every server (issue: nothing a visitor submitted is lost)."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from haven import settings as settings_module
from haven.ops import processes
from tests.test_conversations import Visitor, _book, customs

pytestmark = [pytest.mark.e2e, pytest.mark.model]


class _Live:
    def __init__(self, settings):
        self.rasa = f"http://127.0.0.1:{settings.rasa_port}"
        self.site = f"http://127.0.0.1:{settings.site_port}"


def test_a_booking_survives_restarting_all_three_servers(tmp_path) -> None:
    env = {
        "RASA_PORT": str(processes.free_port()), "ACTION_PORT": str(processes.free_port()),
        "SITE_PORT": str(processes.free_port()),
        "HAVEN_STAFF_TOKEN": "restart-token-0123456789abcdef0123456789",
        "DATABASE_URL": f"sqlite:///{tmp_path}/haven.db",
        "HAVEN_TRACKER_DB": str(tmp_path / "rasa-tracker.db"),
    }  # fmt: skip
    settings = settings_module.load(env)
    server_env = {**os.environ, **env}
    with processes.Stack(settings, log_dir=tmp_path / "logs-1", env=server_env):
        done = _book(Visitor(_Live(settings)))
    [booking] = [c["booking"] for c in customs(done) if "booking" in c]
    with processes.Stack(settings, log_dir=tmp_path / "logs-2", env=server_env):
        request = urllib.request.Request(
            f"{_Live(settings).site}/staff/api/bookings",
            headers={"Authorization": "Bearer restart-token-0123456789abcdef0123456789"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            items = json.loads(response.read())["items"]
    assert booking["reference"] in [item["reference"] for item in items]
