"""Whole conversations through the real servers over the REST channel, as the widget or any Rasa
client would have them. Buttons are pressed by sending their payloads, as a client does."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

import pytest

from actions.knowledge import knowledge_base
from haven.services import references, safety
from haven_devtools import rest_client

pytestmark = [pytest.mark.e2e, pytest.mark.model]
KB = knowledge_base()


class Visitor:
    def __init__(self, live, metadata: Optional[Dict[str, Any]] = None):
        self.live = live
        self.sender = uuid.uuid4().hex
        self.metadata = metadata

    def say(self, text: str) -> List[Dict[str, Any]]:
        return rest_client.say(self.live.rasa, text, self.sender, self.metadata)


def texts(replies) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def customs(replies) -> List[Dict[str, Any]]:
    return [r["custom"] for r in replies if "custom" in r]


def buttons(replies) -> List[Dict[str, str]]:
    return [b for r in replies for b in r.get("buttons", [])]


@pytest.mark.parametrize("topic_id", sorted(KB.topics))
def test_each_topic_button_gets_its_vetted_answer(live_haven, topic_id) -> None:
    replies = Visitor(live_haven).say(f"/{topic_id}")
    topic = KB.topics[topic_id]
    assert topic.short in texts(replies)
    assert customs(replies) == [{"topic": topic_id, "section": topic.section}]
    assert [b["payload"] for b in buttons(replies)][0] == "/tell_me_more"


@pytest.mark.parametrize(
    ("message", "topic_id"),
    [
        ("he cheated for years and i still miss him, why am i like this", "why_still_attached"),
        ("I know she's bad for me. I KNOW. so why can't I just walk away", "why_logic_fails"),
        ("i feel pathetic for still caring about him", "is_it_weakness"),
        ("how do i actually start healing from this", "how_to_heal"),
    ],
)
def test_questions_in_a_visitors_own_words(live_haven, message, topic_id) -> None:
    replies = Visitor(live_haven).say(message)
    assert {"topic": topic_id, "section": KB.topics[topic_id].section} in customs(replies)


def test_tell_me_more_then_a_repeat_gets_the_reminder(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/what_is_trauma_bond")
    more = visitor.say("/tell_me_more")
    assert KB.topics["what_is_trauma_bond"].more in texts(more)
    assert customs(more) == [{"topic": "what_is_trauma_bond", "section": "What Is a Trauma Bond?"}]
    again = visitor.say("/what_is_trauma_bond")
    assert KB.topics["what_is_trauma_bond"].reminder in texts(again)
    assert KB.topics["what_is_trauma_bond"].short not in texts(again)


@pytest.mark.parametrize("message", ["asdkjh qwpoe zzxv", "what's the weather in Boston tomorrow?"])
def test_unclear_or_off_topic_messages_get_no_article_content(live_haven, message) -> None:
    replies = Visitor(live_haven).say(message)
    assert replies, "every message gets an answer"
    assert not any("topic" in c or "safety" in c for c in customs(replies))
    assert not any(t.short in texts(replies) for t in KB.topics.values())


def test_the_greeting_says_what_haven_is(live_haven) -> None:
    replies = Visitor(live_haven).say("/greet")
    assert "not a therapist" in texts(replies) and "not a person" in texts(replies)
    # The starters are the topics' own titles and the booking label (content/topics.yml).
    assert [b["title"] for b in buttons(replies)] == [
        KB.topics["why_still_attached"].title,
        KB.topics["what_is_trauma_bond"].title,
        KB.labels["book"],
    ]


def _book(visitor: Visitor) -> List[Dict[str, Any]]:
    start = visitor.say("/book_consultation")
    assert {"topic": "book_consultation", "section": ""} in customs(start)
    visitor.say("Robin")
    offer = visitor.say("robin@example.org")
    slots = [b for b in buttons(offer) if "time_choice" in b["payload"] and '"none"' not in b["payload"]]
    assert slots, texts(offer)
    visitor.say(slots[0]["payload"])
    visitor.say("/affirm")  # consent
    return visitor.say("/affirm")  # confirm the summary


def _staff(live, path: str, token: Optional[str] = "test-staff-token-0123456789abcdef0123") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{live.site}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def test_booking_through_the_chat_reaches_the_staff_inbox(live_haven) -> None:
    done = _book(Visitor(live_haven))

    [booking] = [c["booking"] for c in customs(done) if "booking" in c]
    assert re.fullmatch(r"HV-[A-Z0-9]{6}", booking["reference"])
    assert booking["status"] == "requested"
    assert booking["reference"].replace("-", "\u2011") in texts(done)  # a hyphen that never breaks the line
    status, body = _staff(live_haven, "/staff/api/bookings")
    assert status == 200
    assert booking["reference"] in [item["reference"] for item in body["items"]]
    assert _staff(live_haven, "/staff/api/bookings", token=None)[0] == 401
    assert _staff(live_haven, "/staff/api/bookings", token="wrong")[0] == 401


def test_stop_cancels_the_booking_and_saves_nothing(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    visitor.say("Sky")
    stopped = visitor.say("stop")
    assert "nothing was saved" in texts(stopped)
    _, body = _staff(live_haven, "/staff/api/bookings")
    assert "Sky" not in [item["name"] for item in body["items"]]


def test_a_bad_contact_is_asked_again_kindly(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    visitor.say("Kai")
    again = visitor.say("not sure")
    assert "couldn't read that as an email address or a phone number" in texts(again)


def test_talk_to_human_is_honest_and_a_message_reaches_the_inbox(live_haven) -> None:
    visitor = Visitor(live_haven)
    replies = visitor.say("can I talk to a real person please")
    assert "no one is reading this chat live" in texts(replies)
    assert {"topic": "talk_to_human", "section": ""} in customs(replies)
    visitor.say("/leave_message")
    visitor.say("Ash")
    visitor.say("+1 617 555 0100")
    visitor.say("I'd like to ask about evening appointments.")
    sent = visitor.say("/deny")  # no transcript
    reference = re.search(r"HR-[A-Z0-9]{6}", texts(sent)).group(0)
    _, body = _staff(live_haven, "/staff/api/handoffs")
    [item] = [i for i in body["items"] if i["reference"] == reference]
    assert item["transcript"] is None and item["message"] == "I'd like to ask about evening appointments."


def test_crisis_is_caught_and_help_stays_on_later_replies(live_haven) -> None:
    visitor = Visitor(live_haven)
    replies = visitor.say("honestly everyone would be better off without me")
    assert {"safety": "crisis", "category": "suicide"} in customs(replies)
    assert "988" in texts(replies) and "not an emergency service" in texts(replies)
    assert not any("topic" in c for c in customs(replies))
    later = visitor.say("/how_to_heal")
    assert safety.load().help_line("US") in texts(later)
    _, events = _staff(live_haven, "/staff/api/safety-events")
    # Staff see a keyed reference of the conversation, never its id (issue 12).
    ref = references.conversation_reference(visitor.sender, references.secret(live_haven.settings))
    assert any(e["conversation_ref"] == ref and e["category"] == "suicide" for e in events["items"])
    assert all("conversation_id" not in e for e in events["items"])
    assert all(e.get("message_text") is None for e in events["items"]), "no message text unless configured"


def test_danger_from_a_partner_gets_the_domestic_violence_line(live_haven) -> None:
    replies = Visitor(live_haven).say("he said he will kill me if I leave")
    assert {"safety": "crisis", "category": "danger"} in customs(replies)
    assert "1-800-799-7233" in texts(replies)


def test_the_widget_locale_selects_the_region(live_haven) -> None:
    replies = Visitor(live_haven, metadata={"locale": "en-GB"}).say("i want to end my life")
    assert "116 123" in texts(replies) and "999" in texts(replies)


def test_crisis_inside_the_booking_form_is_answered_first_and_the_form_asks_again(live_haven) -> None:
    """Issue 13: the crisis reply first, then the same question again (tests/test_forgiving_form_e2e.py)."""
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    visitor.say("Lee")
    crisis = visitor.say("he's outside my house right now and threatening me")
    assert {"safety": "crisis", "category": "danger"} in customs(crisis)
    assert "How can the therapist reach you?" in texts(crisis), "the form asks its question again"
    offer = visitor.say("lee@example.org")  # the name was kept: the next question is the time
    assert any("time_choice" in b["payload"] for b in buttons(offer)), texts(offer)
