"""Action unit tests: the events returned and the messages sent, as the Rasa server would see them."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.explain_topic import ActionExplainTopic
from actions.knowledge import knowledge_base
from actions.list_topics import ActionListTopics
from actions.out_of_scope import ActionOutOfScope
from actions.suggest_topics import ActionSuggestTopics
from actions.tell_me_more import ActionTellMeMore

KB = knowledge_base()


@pytest.fixture(autouse=True)
def _counts_database(monkeypatch, tmp_path) -> None:
    """The actions count what they answer (haven/db/counts.py): into a throwaway database, not var/."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/haven.db")


@pytest.mark.parametrize("topic_id", sorted(KB.topics))
async def test_explains_each_topic_with_payload_and_next_steps(dispatcher, tracker, domain, topic_id) -> None:
    events = await ActionExplainTopic().run(dispatcher, tracker(intent=topic_id), domain)

    topic = KB.topics[topic_id]
    assert events == [SlotSet("last_topic", topic_id), SlotSet("topics_covered", [topic_id])]
    [message] = dispatcher.messages
    assert message["text"] == topic.short
    assert message["custom"] == {"topic": topic_id, "section": topic.section}
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads[0] == "/tell_me_more"
    assert payloads[1:3] == [f"/{r}" for r in topic.related[:2]]
    assert payloads[-1] == "/book_consultation"


async def test_a_repeat_question_gets_the_shorter_reminder(dispatcher, tracker, domain) -> None:
    seen = tracker(intent="why_logic_fails", slots={"topics_covered": ["why_logic_fails"]})
    events = await ActionExplainTopic().run(dispatcher, seen, domain)

    topic = KB.topics["why_logic_fails"]
    [message] = dispatcher.messages
    assert message["text"] == f"{KB.labels['repeat_intro']} {topic.reminder}"
    assert message["text"] != topic.short
    assert message["custom"]["topic"] == "why_logic_fails"
    assert SlotSet("topics_covered", ["why_logic_fails"]) in events


async def test_an_unknown_intent_gets_no_article_content(dispatcher, tracker, domain) -> None:
    events = await ActionExplainTopic().run(dispatcher, tracker(intent="greet"), domain)

    assert events == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_default"]
    assert all(not m.get("custom") for m in dispatcher.messages)


async def test_tell_me_more_gives_the_fuller_answer_of_the_last_topic(dispatcher, tracker, domain) -> None:
    events = await ActionTellMeMore().run(
        dispatcher, tracker(intent="tell_me_more", slots={"last_topic": "how_to_heal"}), domain
    )

    [message] = dispatcher.messages
    assert events == []
    assert message["text"] == KB.topics["how_to_heal"].more
    assert message["custom"] == {"topic": "how_to_heal", "section": "What Healing Actually Involves"}
    assert "/tell_me_more" not in [b["payload"] for b in message["buttons"]]


async def test_tell_me_more_with_no_topic_yet_lists_what_haven_can_do(dispatcher, tracker, domain) -> None:
    await ActionTellMeMore().run(dispatcher, tracker(intent="tell_me_more"), domain)

    [message] = dispatcher.messages
    assert message["text"] == KB.labels["help_intro"]
    assert not message.get("custom")
    assert len(message["buttons"]) == len(KB.topics) + 1


async def test_low_confidence_offers_the_likeliest_topics(dispatcher, tracker, domain) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "why_logic_fails", "confidence": 0.3},
        {"name": "greet", "confidence": 0.2},
        {"name": "how_to_heal", "confidence": 0.25},
        {"name": "survival_mode", "confidence": 0.1},
        {"name": "is_it_weakness", "confidence": 0.01},
    ]
    t = tracker(intent="nlu_fallback", extra={"intent_ranking": ranking})
    await ActionSuggestTopics().run(dispatcher, t, domain)

    [message] = dispatcher.messages
    assert message["text"] == KB.labels["did_you_mean"]
    assert [b["payload"] for b in message["buttons"]] == [
        "/why_logic_fails", "/how_to_heal", "/survival_mode", "/something_else"
    ]  # fmt: skip
    assert not message.get("custom"), "a question back carries no topic payload"


@pytest.mark.parametrize(
    "text", ["should I tell my husband I still miss him", "is it wrong that I check my partner's phone"]
)
async def test_an_unsure_personal_question_gets_the_ways_to_a_person_first(
    dispatcher, tracker, domain, text
) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "why_logic_fails", "confidence": 0.3},
        {"name": "how_to_heal", "confidence": 0.25},
        {"name": "survival_mode", "confidence": 0.1},
    ]
    t = tracker(intent="nlu_fallback", text=text, extra={"intent_ranking": ranking})
    await ActionSuggestTopics().run(dispatcher, t, domain)

    [message] = dispatcher.messages
    assert message["text"] == " ".join(KB.labels["personal_unsure"].split())
    assert [b["payload"] for b in message["buttons"]] == [
        "/book_consultation", "/leave_message", "/why_logic_fails", "/how_to_heal"
    ]  # fmt: skip
    assert not message.get("custom"), "no topic payload: nothing was answered"


async def test_an_unsure_personal_question_with_no_likely_topic_gets_the_ways_to_a_person(
    dispatcher, tracker, domain
) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.9}, {"name": "greet", "confidence": 0.1}]
    text = "do I owe my ex an explanation"
    t = tracker(intent="nlu_fallback", text=text, extra={"intent_ranking": ranking})
    await ActionSuggestTopics().run(dispatcher, t, domain)

    [message] = dispatcher.messages
    assert message["text"] == " ".join(KB.labels["personal_out_of_scope"].split())
    assert "/book_consultation" in [b["payload"] for b in message["buttons"]]


async def test_no_plausible_topic_gives_the_honest_list(dispatcher, tracker, domain) -> None:
    t = tracker(intent="nlu_fallback", extra={"intent_ranking": [{"name": "greet", "confidence": 0.9}]})
    await ActionSuggestTopics().run(dispatcher, t, domain)

    assert dispatcher.messages[0]["text"] == KB.labels["help_intro"]


async def test_after_a_crisis_every_answer_keeps_the_help_line(dispatcher, tracker, domain) -> None:
    line = "\n\nHelp is still here: call or text 988."
    await ActionExplainTopic().run(
        dispatcher, tracker(intent="how_to_heal", slots={"help_line": line}), domain
    )
    await ActionListTopics().run(
        dispatcher, tracker(intent="something_else", slots={"help_line": line}), domain
    )

    assert all(m["text"].endswith(line) for m in dispatcher.messages)


async def test_everyday_hurt_is_acknowledged_with_options_and_no_article_claim(
    dispatcher, tracker, domain
) -> None:
    from actions.acknowledge_feelings import ActionAcknowledgeFeelings

    events = await ActionAcknowledgeFeelings().run(dispatcher, tracker(intent="share_feelings"), domain)
    [message] = dispatcher.messages
    assert events == []
    assert message["response"] == "utter_acknowledge_feelings"
    assert not message.get("custom"), "no topic or safety payload"
    assert [b["payload"] for b in message["buttons"]][-1] == "/book_consultation"


# --------------------------------------------------------------------------- honest out of scope
@pytest.mark.parametrize(
    "text",
    [
        "should i tell my husband's affair partner's wife?",
        "is it wrong that i read his texts",
        "how do we tell the kids we're separating",
        "my mum says im overreacting about the affair, am i?",
    ],
)
async def test_a_personal_question_no_topic_answers_gets_the_ways_to_a_person(
    dispatcher, tracker, domain, text
) -> None:
    await ActionOutOfScope().run(dispatcher, tracker(intent="out_of_scope", text=text), domain)
    [message] = dispatcher.messages
    assert "isn't something the therapist's article answers" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [
        "/book_consultation",
        "/leave_message",
        "/something_else",
    ]
    assert not message.get("custom"), "no topic payload: nothing from the article is claimed"


@pytest.mark.parametrize("text", ["how do i make banana bread", "can you book me a table for saturday", ""])
async def test_anything_else_off_topic_gets_the_plain_reply(dispatcher, tracker, domain, text) -> None:
    await ActionOutOfScope().run(dispatcher, tracker(intent="out_of_scope", text=text), domain)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_out_of_scope"]
