"""A failed action answers with the exception's type only: no conversation, name or contact in the
500 body (which Rasa would write into its log) and none in the action server's own log."""

from __future__ import annotations

import logging

from rasa_sdk import Action

from haven.plugins import action_server

SECRET = "Zelda Quux, zelda@example.org, he lied to me"
TOKEN = "action-test-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class ActionTestCrash(Action):
    def name(self) -> str:
        return "action_test_crash"

    async def run(self, dispatcher, tracker, domain):
        raise ValueError(f"could not handle {tracker.latest_message.get('text')}")


def request_body() -> dict:
    return {
        "next_action": "action_test_crash",
        "sender_id": "visitor-1",
        "tracker": {
            "sender_id": "visitor-1",
            "slots": {"booking_name": "Zelda Quux"},
            "latest_message": {"text": SECRET, "intent": {}, "entities": []},
            "events": [{"event": "user", "text": SECRET}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": None,
        },
        "domain": {},
        "version": "3.6.2",
    }


def test_a_failed_action_returns_its_type_and_logs_no_visitor_data(caplog) -> None:
    app = action_server.create_app("actions", token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        _, response = app.test_client.post("/webhook", json=request_body(), headers=AUTH)
    assert response.status == 500
    assert response.json == {"error": "ValueError"}
    assert "ValueError" in caplog.text and "test_action_server.py" in caplog.text
    for secret in ("Zelda", "zelda@example.org", "he lied to me"):
        assert secret not in response.text and secret not in caplog.text


def test_a_working_action_is_unchanged() -> None:
    app = action_server.create_app("actions", token=TOKEN)
    _, response = app.test_client.get("/health")
    assert response.status == 200
    _, listed = app.test_client.get("/actions", headers=AUTH)
    assert {"name": "action_explain_topic"} in listed.json


def test_every_request_without_the_shared_secret_is_refused_before_any_action_runs() -> None:
    app = action_server.create_app("actions", token=TOKEN)
    body = request_body()  # action_test_crash would answer 500: a 401 means it never ran
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}, {"Content-Type": "text/plain"}):  # fmt: skip
        _, response = app.test_client.post("/webhook", json=body, headers=headers)
        assert response.status == 401, headers
        assert response.json == {"error": "unauthorized"}
    _, listed = app.test_client.get("/actions")
    assert listed.status == 401
    _, health = app.test_client.get("/health")
    assert health.status == 200, "the health check stays open"


def test_an_action_server_without_a_secret_refuses_everything() -> None:
    app = action_server.create_app("actions", token="")
    _, response = app.test_client.post("/webhook", json=request_body(), headers={"Authorization": "Bearer x"})
    assert response.status == 401
