"""The forgiving booking and hand-off forms through the real servers (issue 13.1): the launcher's Rasa
server, action server and website, over the REST channel, with the staff API reading the database.

The check the issue asks for: a booking with a question asked at the name step finishes with the
name given afterwards, and the staff API lists it under that name.
"""

from __future__ import annotations

import re
import uuid

import pytest

from actions.knowledge import knowledge_base
from tests.test_conversations import Visitor, _staff, buttons, customs, texts

pytestmark = [pytest.mark.e2e, pytest.mark.model]
KB = knowledge_base()
NB_HYPHEN = "\u2011"


def _time_buttons(replies):
    return [b for b in buttons(replies) if "time_choice" in b["payload"] and '"none"' not in b["payload"]]


def test_a_question_at_the_name_step_is_answered_and_the_booking_keeps_the_name_given_after(
    live_haven,
) -> None:
    visitor = Visitor(live_haven)
    start = visitor.say("/book_consultation")
    assert "Step 1 of 5 · say stop to cancel" in texts(start)

    answered = visitor.say("why do I still feel attached to him after everything?")
    assert {"topic": "why_still_attached", "section": KB.topics["why_still_attached"].section} in customs(
        answered
    )
    assert KB.topics["why_still_attached"].short in texts(answered)
    asked_again = (
        "What first name or alias should the therapist use for you?\nStep 1 of 5 · say stop to cancel"
    )
    assert texts(answered).rstrip().endswith(asked_again), "the same step, asked again"

    name = "Quinn"  # the classifier reads it as nothing in particular (nlu_fallback)
    asked_contact = visitor.say(name)
    assert "Step 2 of 5" in texts(asked_contact)
    offer = visitor.say(f"{uuid.uuid4().hex[:8]}@example.org")
    assert "Step 3 of 5" in texts(offer) and _time_buttons(offer)

    # "yes" is not a time: asked again, with examples, and the times offered again.
    again = visitor.say("yes")
    assert '"weekday mornings"' in texts(again) and "Step 3 of 5" in texts(again)
    assert _time_buttons(again) and "Do you agree" not in texts(again)

    consent = visitor.say(_time_buttons(again)[0]["payload"])
    assert "Step 4 of 5" in texts(consent)
    summary = visitor.say("/affirm")
    assert f"Here's your request: {name}," in texts(summary) and "Step 5 of 5" in texts(summary)
    assert '"yes"' not in texts(summary)
    done = visitor.say("/affirm")

    [booking] = [c["booking"] for c in customs(done) if "booking" in c]
    assert re.fullmatch(r"HV-[A-Z0-9]{6}", booking["reference"])
    shown = booking["reference"].replace("-", NB_HYPHEN)
    assert texts(done).count(shown) == 1, "the reference once, with a hyphen that never breaks the line"
    assert f"\n{'Your reference: '}{shown}" in texts(done), "on a line of its own"
    status, body = _staff(live_haven, "/staff/api/bookings")
    assert status == 200
    [stored] = [item for item in body["items"] if item["reference"] == booking["reference"]]
    assert stored["name"] == name


def test_crisis_at_the_contact_step_is_answered_first_then_the_contact_is_asked_again(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    visitor.say("Lee")
    crisis = visitor.say("I don't want to live anymore")
    assert {"safety": "crisis", "category": "suicide"} in customs(crisis)
    assert "988" in texts(crisis) and "not an emergency service" in texts(crisis)
    assert texts(crisis).index("988") < texts(crisis).index("How can the therapist reach you?"), (
        "crisis first"
    )
    assert "Step 2 of 5 · say stop to cancel" in texts(crisis)
    assert not any("topic" in c for c in customs(crisis))
    offer = visitor.say("lee@example.org")  # the name was kept: the next question is the time
    assert _time_buttons(offer), texts(offer)


def test_a_question_at_the_contact_step_is_answered_not_refused(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    visitor.say("Kai")
    answered = visitor.say("how long is the call?")
    assert "couldn't read that as an email address" not in texts(answered)
    assert {"topic": "consultation_info", "section": KB.topics["consultation_info"].section} in customs(
        answered
    )
    assert "Step 2 of 5" in texts(answered)


@pytest.mark.parametrize("said", ["hi", "yes", "no"])
def test_a_greeting_or_a_yes_is_not_a_name(live_haven, said) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    again = visitor.say(said)
    assert 'like "Sam"' in texts(again) and "Step 1 of 5" in texts(again)
    assert "How can the therapist reach you?" not in texts(again)


def test_stop_mid_form_leaves_kindly_and_saves_nothing(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    name = "Wren" + uuid.uuid4().hex[:4]
    visitor.say(name)
    stopped = visitor.say("never mind")
    assert "nothing was saved" in texts(stopped) and "Step" not in texts(stopped)
    _, body = _staff(live_haven, "/staff/api/bookings")
    assert name not in [item["name"] for item in body["items"]]
    after = visitor.say("what is a trauma bond")
    assert {"topic": "what_is_trauma_bond", "section": KB.topics["what_is_trauma_bond"].section} in customs(
        after
    )
    assert "Step" not in texts(after), "the form is gone"


def test_the_hand_off_form_answers_a_digression_and_takes_a_question_as_the_message(live_haven) -> None:
    visitor = Visitor(live_haven)
    offered = visitor.say("can I talk to a real person?")
    assert "/leave_message" in [b["payload"] for b in buttons(offered)]
    assert "Step 1 of 4" in texts(visitor.say("/leave_message"))
    visitor.say("Ash")
    answered = visitor.say("what is betrayal trauma?")
    assert {
        "topic": "what_is_betrayal_trauma",
        "section": KB.topics["what_is_betrayal_trauma"].section,
    } in customs(answered)
    assert "Step 2 of 4" in texts(answered)
    assert "Step 3 of 4" in texts(visitor.say("+1 617 555 0100"))
    message = "Why do I still feel attached to him after everything?"
    consent = visitor.say(message)
    assert "Step 4 of 4" in texts(consent), "a question is the message for the therapist"
    sent = visitor.say("/deny")
    reference = re.search(r"HR-[A-Z0-9]{6}", texts(sent)).group(0)
    _, body = _staff(live_haven, "/staff/api/handoffs")
    [item] = [i for i in body["items"] if i["reference"] == reference]
    assert item["name"] == "Ash" and item["message"] == message


def test_a_name_the_check_in_asked_about_is_kept_after_a_no_and_the_booking_goes_on(live_haven) -> None:
    """A name can be a word the risk model asks about: "River" gets a check-in (model 0.9 on the
    model of 2026-12-07). After "no", the booking continues at the next step with that name, instead of
    asking for the name into the same check-in again (actions/safety.py, kept_answer)."""
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    name = "River"
    checked = visitor.say(name)
    assert [c for c in customs(checked) if "safety" in c] == [
        {"safety": "check_in", "category": "suicide"}
    ], "the premise: the risk model asks about this name (if it no longer does, pick a name it asks about)"
    declined = visitor.say("/deny")
    assert texts(declined).startswith("Thank you for answering")
    assert [b["payload"] for b in buttons(declined)] == ["/book_consultation"]
    resumed = visitor.say("/book_consultation")
    assert "Step 2 of 5" in texts(resumed) and "Step 1 of 5" not in texts(resumed)
    offer = visitor.say(f"{uuid.uuid4().hex[:8]}@example.org")
    consent = visitor.say(_time_buttons(offer)[0]["payload"])
    assert "Step 4 of 5" in texts(consent)
    summary = visitor.say("/affirm")
    assert f"Here's your request: {name}," in texts(summary)


def test_a_name_the_check_in_asked_about_is_kept_when_leaving_a_message_too(live_haven) -> None:
    """The same at the message form's name step, with a "Continue your message" button."""
    visitor = Visitor(live_haven)
    visitor.say("can I talk to a real person?")
    start = visitor.say("/leave_message")
    assert "Step 1 of 4" in texts(start)
    checked = visitor.say("River")
    assert {"safety": "check_in", "category": "suicide"} in customs(checked)
    declined = visitor.say("/deny")
    assert [b["payload"] for b in buttons(declined)] == ["/leave_message"]
    resumed = visitor.say("/leave_message")
    assert "Step 2 of 4" in texts(resumed) and "Step 1 of 4" not in texts(resumed)


def test_a_message_for_the_therapist_the_check_in_asked_about_is_sent_after_a_no(live_haven) -> None:
    """A message to the therapist can read like risk to the model ("things have been really dark
    lately …" got a check-in at 0.88 on the model of 2026-12-07). After "no" it is kept as the message;
    asking for it again would only ask the same check-in again."""
    visitor = Visitor(live_haven)
    visitor.say("can I talk to a real person?")
    visitor.say("/leave_message")
    visitor.say("Ash")
    asked = visitor.say(f"{uuid.uuid4().hex[:8]}@example.org")
    assert "Step 3 of 4" in texts(asked)
    message = "things have been really dark lately and I don't know who else to ask"
    checked = visitor.say(message)
    assert [c["safety"] for c in customs(checked) if "safety" in c] == ["check_in"], (
        "the premise: the risk model asks about this message (if it no longer does, pick one it asks about)"
    )
    declined = visitor.say("/deny")
    assert [b["payload"] for b in buttons(declined)] == ["/leave_message"]
    resumed = visitor.say("/leave_message")
    assert "Step 4 of 4" in texts(resumed) and "Step 3 of 4" not in texts(resumed)
    sent = visitor.say("/deny")  # no transcript
    reference = re.search(r"HR-[A-Z0-9]{6}", texts(sent)).group(0)
    _, body = _staff(live_haven, "/staff/api/handoffs")
    [item] = [i for i in body["items"] if i["reference"] == reference]
    assert item["name"] == "Ash" and item["message"] == message


def _at_message_step(visitor: Visitor, name: str) -> None:
    visitor.say("can I talk to a real person?")
    visitor.say("/leave_message")
    visitor.say(name)
    assert "Step 3 of 4" in texts(visitor.say(f"{uuid.uuid4().hex[:8]}@example.org"))


def test_a_message_for_the_therapist_that_got_the_crisis_reply_can_be_sent_as_written(live_haven) -> None:
    """Crisis language is never a form's answer by itself: the lines come first and the step is asked
    again. Retyped, the message would get the same reply, so the step offers to send it as written, and
    says the therapist can't answer now; the visitor's tap sends it (actions/handoff.py)."""
    visitor = Visitor(live_haven)
    _at_message_step(visitor, "Robin")
    message = (
        "I've been feeling really low and sometimes wish I could just disappear. "
        "I'd like to talk to her about it."
    )
    crisis = visitor.say(message)
    assert {"safety": "crisis", "category": "suicide"} in customs(crisis)
    said = texts(crisis)
    assert said.index("988") < said.index("can't answer right away") < said.rindex("Step 3 of 4")
    assert message not in said
    [offer] = [b for b in buttons(crisis) if b["payload"] == "/send_written_message"]
    assert offer["title"] == "Send what I wrote"

    consent = visitor.say(offer["payload"])
    assert "Step 4 of 4" in texts(consent)
    sent = visitor.say("/deny")  # no transcript
    reference = re.search(r"HR-[A-Z0-9]{6}", texts(sent)).group(0)
    _, body = _staff(live_haven, "/staff/api/handoffs")
    [item] = [i for i in body["items"] if i["reference"] == reference]
    assert item["name"] == "Robin" and item["message"] == message

    again = visitor.say(offer["payload"])  # tapped again: no longer offered, read as text, not sent twice
    assert "Your message is with the therapist" not in texts(again)
    _, after = _staff(live_haven, "/staff/api/handoffs")
    assert len([i for i in after["items"] if i["message"] == message and i["name"] == "Robin"]) == 1


def test_after_the_crisis_reply_a_different_message_can_be_written_instead(live_haven) -> None:
    visitor = Visitor(live_haven)
    _at_message_step(visitor, "Kai")
    crisis = visitor.say("I want to kill myself")
    assert {"safety": "crisis", "category": "suicide"} in customs(crisis)
    assert "/send_written_message" in [b["payload"] for b in buttons(crisis)]
    other = "Could she call me back on Tuesday afternoon?"
    consent = visitor.say(other)
    assert "Step 4 of 4" in texts(consent)
    sent = visitor.say("/deny")
    reference = re.search(r"HR-[A-Z0-9]{6}", texts(sent)).group(0)
    _, body = _staff(live_haven, "/staff/api/handoffs")
    [item] = [i for i in body["items"] if i["reference"] == reference]
    assert item["message"] == other
