"""Issue 13's checks for the therapist's side, through the real servers started by the real launcher:
insights count the topic just asked, the calendar feed parses and holds the booking just made, and
neither carries a visitor's words or her conversation id."""

from __future__ import annotations

import re
import time
import urllib.request

import icalendar
import pytest

from haven.services import references
from tests.test_conversations import Visitor, _book, _staff, customs

pytestmark = [pytest.mark.e2e, pytest.mark.model]

QUESTION = "he cheated for years and i still miss him, why am i like this"


def _calendar(live) -> bytes:
    request = urllib.request.Request(
        f"{live.site}/staff/calendar.ics",
        headers={"Authorization": "Bearer test-staff-token-0123456789abcdef0123"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/calendar")
        return response.read()


def test_insights_count_the_topic_just_asked_without_its_words(live_haven) -> None:
    status, before = _staff(live_haven, "/staff/api/insights?weeks=1")
    assert status == 200
    visitor = Visitor(live_haven)
    replies = visitor.say(QUESTION)
    assert any(c.get("topic") == "why_still_attached" for c in customs(replies))
    asked = before["totals"]["topics"]["why_still_attached"]
    # The action server and the tracker store write their counts in the background: give them a moment.
    deadline = time.monotonic() + 10
    while True:
        _, after = _staff(live_haven, "/staff/api/insights?weeks=1")
        totals = after["totals"]
        if (
            totals["topics"]["why_still_attached"] > asked
            and totals["conversations"] > before["totals"]["conversations"]
        ):
            break
        assert time.monotonic() < deadline, f"not counted: {totals}"
        time.sleep(0.1)
    assert totals["topics"]["why_still_attached"] == asked + 1
    assert QUESTION not in str(after) and "cheated" not in str(after)
    assert visitor.sender not in str(after)


def test_the_calendar_feed_parses_and_holds_the_booking_just_made(live_haven) -> None:
    visitor = Visitor(live_haven)
    done = _book(visitor)
    [booking] = [c["booking"] for c in customs(done) if "booking" in c]
    body = _calendar(live_haven)
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    [event] = [e for e in events if booking["reference"] in str(e["summary"])]
    assert str(event["uid"]) == f"{booking['reference']}@haven"
    text = body.decode()
    assert "robin@example.org" not in text and "Robin" not in text  # contacts only when she turns them on
    assert visitor.sender not in text
    # The staff API shows the booking with a reference to its conversation, never the id itself.
    _, listed = _staff(live_haven, "/staff/api/bookings")
    [item] = [i for i in listed["items"] if i["reference"] == booking["reference"]]
    assert "conversation_id" not in item
    assert item["conversation_ref"] == references.conversation_reference(
        visitor.sender, references.secret(live_haven.settings)
    )
    assert re.fullmatch(r"C-[0-9a-f]{10}", item["conversation_ref"])
