"""End to end through all three real servers, over real HTTP, as a visitor's client would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

import pytest

from haven.services import content
from haven_devtools import rest_client

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def say(live, text: str, sender: Optional[str] = None) -> List[Dict[str, Any]]:
    return rest_client.say(live.rasa, text, sender, timeout=30)


def status(url: str, headers: Optional[Dict[str, str]] = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_topic_question_gets_the_vetted_answer_and_its_payload(live_haven) -> None:
    from actions.knowledge import knowledge_base

    replies = say(live_haven, "why do I still feel attached to him?")

    texts = [r["text"] for r in replies if "text" in r]
    customs = [r["custom"] for r in replies if "custom" in r]
    assert knowledge_base().topics["why_still_attached"].short in texts
    assert {"topic": "why_still_attached", "section": ""} in customs


def test_greeting_says_what_haven_is_and_is_not(live_haven) -> None:
    replies = say(live_haven, "hi")
    text = " ".join(r.get("text", "") for r in replies)
    assert "not a person" in text and "not a therapist" in text
    # Issue 13.2: two sentences and three starters; the notice with the crisis numbers is the strip above
    # the chat, not repeated here. "not an emergency service" stays, four words in the parenthesis, for
    # clients without the strip (REST, socket.io): safe-messaging practice says it plainly.
    assert len(content.sentences(text)) <= 2, text
    assert "not an emergency service" in text and not any(n in text for n in ("988", "911", "999")), text
    buttons = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert buttons == ["/why_still_attached", "/what_is_trauma_bond", "/book_consultation"]
    assert not any("custom" in r for r in replies)


def test_bot_challenge_is_answered_honestly(live_haven) -> None:
    text = " ".join(r.get("text", "") for r in say(live_haven, "am I talking to a real person?"))
    assert "automated assistant" in text


def test_all_three_servers_answer_their_health_checks(live_haven) -> None:
    assert status(f"{live_haven.actions}/health") == 200
    assert status(f"{live_haven.site}/health") == 200
    assert status(f"{live_haven.site}/") == 200


def test_the_rasa_http_api_refuses_requests_without_the_token(live_haven) -> None:
    assert status(f"{live_haven.rasa}/status") == 401
    assert status(f"{live_haven.rasa}/conversations/x/tracker") == 401
    assert status(f"{live_haven.rasa}/status?token=test-api-token") == 200


def test_forgetting_a_conversation_deletes_it_on_the_rasa_server(live_haven) -> None:
    sender = uuid.uuid4().hex
    say(live_haven, "hi", sender)
    say(live_haven, "what is a trauma bond", sender)
    token = "?token=test-api-token"

    def user_events() -> List[Dict[str, Any]]:
        url = f"{live_haven.rasa}/conversations/{sender}/tracker{token}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return [e for e in json.loads(response.read())["events"] if e["event"] == "user"]

    assert len(user_events()) == 2
    request = urllib.request.Request(f"{live_haven.site}/api/conversations/{sender}/forget", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
    assert user_events() == []
    assert status(f"{live_haven.site}/api/conversations/not-an-id/forget") in (400, 405)


def test_the_site_serves_crisis_resources_for_the_locale(live_haven) -> None:
    url = f"{live_haven.site}/api/crisis-resources?locale=en-GB"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Cache-Control"] == "no-store"
        body = json.loads(response.read())
    assert body["region"] == "UK" and body["emergency_number"] == "999"
