"""The practice's FAQ (issue 15): the content file, matching by meaning, hot reload, the actions, the counts.

Real encoder (haven/encoder, all-MiniLM-L6-v2), real YAML files, a real SQLite database; no stubs.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from actions.explain_topic import ActionExplainTopic
from actions.faq import ActionAnswerFaq
from actions.out_of_scope import ActionOutOfScope
from actions.suggest_topics import ActionSuggestTopics
from haven import yaml_files
from haven.db import counts, faq_questions, migrate
from haven.services import faq
from haven.settings import ROOT

ENTRY_IDS = (
    "fees", "insurance", "session_format", "location", "hours", "session_length", "therapist_bio", "approach",
    "trauma_informed", "confidentiality", "chat_privacy", "cancellation", "after_consultation", "couples",
)  # fmt: skip
DEV = yaml_files.read(ROOT / "tests" / "nlu" / "faq_dev.yml")
FAQ = faq.load(ROOT / "content" / "faq.yml")


@pytest.fixture(scope="module")
def matcher() -> faq.Matcher:
    return faq.Matcher(FAQ)


@pytest.fixture(autouse=True)
def _throwaway_database(monkeypatch, tmp_path) -> Iterator[None]:
    """The actions count questions (haven/db/faq_questions.py): into a throwaway database, not var/."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/haven.db")
    yield
    # The background writers migrate their database: never beside a test's own migration (the topic
    # action's insight count as well as the FAQ's question counts).
    faq_questions.drain()
    counts.drain()


# ----------------------------------------------------------------------------- the content file


def test_the_file_has_exactly_the_agreed_entries_with_unique_ids() -> None:
    assert [e.id for e in FAQ.entries] == list(ENTRY_IDS)
    for entry in FAQ.entries:
        assert faq.MIN_QUESTIONS <= len(entry.questions) <= faq.MAX_QUESTIONS, entry.id
        if entry.approved:
            assert entry.approved_by and entry.approved_on, entry.id
    assert {e.id for e in FAQ.entries if e.approved} == {"trauma_informed", "confidentiality", "chat_privacy"}


def test_a_placeholder_is_never_the_reply() -> None:
    for entry in FAQ.entries:
        reply = entry.reply_text(FAQ.labels)
        if entry.approved:
            assert "{" not in reply and "TO FILL" not in reply.upper(), entry.id
            continue
        assert entry.answer not in reply and "to fill" not in reply.lower(), entry.id
        assert "don't have" in reply and "consultation" in reply and entry.title in reply, entry.id


def test_chat_privacy_states_the_retention_periods_haven_runs_with() -> None:
    from haven import settings

    custom = settings.load({"HAVEN_RETAIN_CONVERSATIONS_DAYS": "14", "HAVEN_RETAIN_HANDLED_DAYS": "90"})
    reply = FAQ.get("chat_privacy").reply_text(FAQ.labels, custom)
    assert "for 14 days after your last message" in reply and "for 90 days after" in reply


def _raw() -> dict:
    return yaml_files.read(ROOT / "content" / "faq.yml")


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda r: r["entries"].append(dict(r["entries"][0])), "used twice"),
        (lambda r: r["entries"][0].update(status="maybe"), "status must be one of"),
        (lambda r: r["entries"][0].update(questions=["how much"] * 3), "needs 8-15"),
        (lambda r: r["entries"][8].pop("approved_by"), "needs approved_by"),
        (
            lambda r: r["entries"][0].update(status="approved", approved_by="x", approved_on="y"),
            "placeholder",
        ),
        (lambda r: r["entries"][0].update(id="Fees!"), "lower-case"),
        (lambda r: r["labels"].pop("to_fill"), "missing"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_problem(break_it, message) -> None:
    raw = _raw()
    break_it(raw)
    with pytest.raises(faq.FaqError, match=message):
        faq.parse(raw)


def test_the_dev_set_is_not_copied_into_the_examples_or_the_training_data() -> None:
    def norm(text: str) -> str:
        return " ".join(re.findall(r"[a-z0-9]+", text.lower()))

    examples = {norm(q) for e in FAQ.entries for q in e.questions}
    training = {
        norm(line.strip()[2:])
        for path in (ROOT / "data" / "nlu").glob("*.yml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- ")
    }
    paraphrases = [q for qs in DEV["faq"].values() for q in qs]
    assert not [q for q in paraphrases if norm(q) in examples or norm(q) in training]
    # everyday and article questions may be short common phrases of the NLU data ("bye"); never FAQ examples
    assert not [q for q in DEV["off_topic"] + DEV["article_topic"] if norm(q) in examples]


# ----------------------------------------------------------------------------- matching by meaning


@pytest.mark.parametrize("entry", [e for e in FAQ.entries if e.approved], ids=lambda e: e.id)
def test_every_approved_entry_is_answered_from_its_own_examples(matcher, entry) -> None:
    for question in entry.questions:
        found = matcher.match(question, faq.FALLBACK_THRESHOLD)
        assert (found.kind, found.entry.id) == ("answer", entry.id), question


def test_dev_paraphrases_pick_the_right_entry(matcher) -> None:
    cases = [(q, e) for e, qs in DEV["faq"].items() for q in qs]
    right = offered = 0
    for question, expected in cases:
        found = matcher.match(question, faq.INTENT_THRESHOLD)
        right += found.kind == "answer" and found.entry.id == expected
        offered += found.kind == "did_you_mean" and expected in (found.entry.id, found.runner_up.id)
    # a development set (the thresholds were chosen on it): this guards against regressions. 87/94 (85
    # answered, 2 offered) before FQ8's look-alikes and FQ9's questions joined on 2026-12-07, 84/94 after:
    # a cost taken knowingly for 39 more look-alikes refused over the eight blind sets (docs/faq.md).
    assert (right + offered) / len(cases) >= 0.89, (right, offered, len(cases))


def test_off_topic_questions_are_not_matched_from_the_fallback(matcher) -> None:
    matched = [q for q in DEV["off_topic"] if matcher.match(q, faq.FALLBACK_THRESHOLD).kind != "none"]
    assert len(matched) / len(DEV["off_topic"]) <= 0.05, matched


def test_a_new_entry_is_answered_without_retraining(tmp_path) -> None:
    path = tmp_path / "faq.yml"
    path.write_text((ROOT / "content" / "faq.yml").read_text(encoding="utf-8"), encoding="utf-8")
    store = faq.FaqStore(path)
    question = "can I buy a gift voucher for someone's therapy"
    assert store.current().match(question, faq.FALLBACK_THRESHOLD).kind == "none"
    gift = faq.FaqEntry(
        id="gift_vouchers",
        title="gift vouchers",
        status="approved",
        approved_by="the therapist",
        approved_on="2026-12-05",
        questions=(
            "do you sell gift vouchers",
            "can I buy therapy as a gift",
            "can I pay for a friend's sessions",
            "is there a gift card for sessions",
            "can someone else pay for my therapy",
            "do you do gift certificates",
            "can I gift a session to my sister",
            "how do I buy a voucher for therapy",
        ),  # fmt: skip
        answer="Yes: gift vouchers for sessions are available; ask the therapist in a message.",
    )
    faq.save(faq.with_entry(store.current().faq, gift), path)
    os.utime(path, ns=(1, 1_000_000_000_000_000_000))  # a new mtime even on a coarse clock
    found = store.current().match(question, faq.FALLBACK_THRESHOLD)
    assert (found.kind, found.entry.id) == ("answer", "gift_vouchers")


def test_a_broken_edit_keeps_the_last_good_faq(tmp_path) -> None:
    path = tmp_path / "faq.yml"
    path.write_text((ROOT / "content" / "faq.yml").read_text(encoding="utf-8"), encoding="utf-8")
    store = faq.FaqStore(path)
    before = store.current()
    path.write_text("entries: [oops", encoding="utf-8")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert store.current() is before
    assert store.last_error and "cannot be read" in store.last_error


def test_save_is_atomic_and_round_trips(tmp_path) -> None:
    path = tmp_path / "faq.yml"
    faq.save(FAQ, path)
    assert faq.load(path) == FAQ
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".faq-")]


def test_a_match_is_fast(matcher) -> None:
    import time

    started = time.perf_counter()
    for n in range(20):
        matcher.match(f"how much is one session {n}")
    assert (time.perf_counter() - started) / 20 < 0.1  # measured about 2-3 ms on the 2-core VM


# ----------------------------------------------------------------------------- the actions


async def test_the_faq_action_answers_an_approved_entry_with_its_payload(dispatcher, tracker, domain) -> None:
    await ActionAnswerFaq().run(
        dispatcher, tracker(intent="practice_faq", text="is therapy confidential"), domain
    )
    text, payload = dispatcher.messages
    assert text["text"].startswith("Yes: what you share in therapy is confidential.")
    assert payload["custom"] == {"faq": "confidentiality", "status": "approved"}


async def test_a_to_fill_entry_gets_the_honest_answer(dispatcher, tracker, domain) -> None:
    await ActionAnswerFaq().run(
        dispatcher, tracker(intent="practice_faq", text="do you take insurance?"), domain
    )
    text, payload = dispatcher.messages
    assert payload["custom"] == {"faq": "insurance", "status": "to_fill"}
    assert "don't have" in text["text"] and "TO FILL" not in text["text"]
    assert [b["payload"] for b in text["buttons"]] == ["/book_consultation", "/leave_message"]


async def test_a_did_you_mean_button_answers_the_entry_it_names(dispatcher, tracker, domain) -> None:
    visitor = tracker(
        intent="practice_faq",
        text='/practice_faq{"faq_entry": "chat_privacy"}',
        extra={"entities": [{"entity": "faq_entry", "value": "chat_privacy"}]},
    )
    await ActionAnswerFaq().run(dispatcher, visitor, domain)
    assert dispatcher.messages[-1]["custom"] == {"faq": "chat_privacy", "status": "approved"}


async def test_an_faq_question_the_intent_missed_is_answered_from_the_fallbacks(
    dispatcher, tracker, domain
) -> None:
    await ActionOutOfScope().run(
        dispatcher, tracker(intent="out_of_scope", text="how much does a session cost"), domain
    )
    await ActionSuggestTopics().run(
        dispatcher, tracker(intent="nlu_fallback", text="who is the therapist"), domain
    )
    payloads = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert payloads == [{"faq": "fees", "status": "to_fill"}, {"faq": "therapist_bio", "status": "to_fill"}]


async def test_an_off_topic_message_still_gets_the_plain_refusal(dispatcher, tracker, domain) -> None:
    await ActionOutOfScope().run(
        dispatcher, tracker(intent="out_of_scope", text="how do i make banana bread"), domain
    )
    assert dispatcher.messages == [{**dispatcher.messages[0], "response": "utter_out_of_scope"}]
    assert not any(m.get("custom") for m in dispatcher.messages)


async def test_a_practice_question_no_entry_answers_gets_the_ways_to_a_person(
    dispatcher, tracker, domain
) -> None:
    await ActionAnswerFaq().run(dispatcher, tracker(intent="practice_faq", text="qwerty zxcv"), domain)
    [message] = dispatcher.messages
    assert "custom" not in message or not message["custom"]
    assert "/book_consultation" in [b["payload"] for b in message["buttons"]]


@pytest.mark.parametrize(
    "question, expected",
    [
        ("so once the free call is over, what are the next steps?", "after_consultation"),
        ("if i do the 15 minute call do i have to keep going with her after", "after_consultation"),
        ("what is the free consultation for", None),
        ("how long is the consultation", None),
        ("is the free consultation really free", None),
        ("/consultation_info", None),
    ],
)
def test_an_entry_follows_the_consultation_topic_only_where_the_article_does_not_answer(
    matcher, question, expected
) -> None:
    found = matcher.beside_topic(question)
    assert (found.id if found else None) == expected


async def test_a_consultation_question_about_what_follows_gets_the_article_then_the_entry(
    dispatcher, tracker, domain
) -> None:
    visitor = tracker(
        intent="consultation_info", text="so once the free call is over, what are the next steps?"
    )
    await ActionExplainTopic().run(dispatcher, visitor, domain)
    payloads = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert payloads[0]["topic"] == "consultation_info"
    assert payloads[1:] == [{"faq": "after_consultation", "status": "to_fill"}]
    assert "don't have" in dispatcher.messages[-2]["text"]


@pytest.mark.parametrize("text", ["what is the free consultation for", "/consultation_info"])
async def test_a_plain_consultation_question_gets_the_article_alone(
    dispatcher, tracker, domain, text
) -> None:
    await ActionExplainTopic().run(dispatcher, tracker(intent="consultation_info", text=text), domain)
    payloads = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert [p.get("topic") for p in payloads] == ["consultation_info"]


# ----------------------------------------------------------------------------- the counts


def test_questions_are_counted_without_words_unless_kept(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/counts.db"
    migrate.upgrade(url)
    now = datetime.now(UTC)
    faq_questions.record("unmatched", "fees", 0.41, url=url, now=now)
    faq_questions.record("unmatched", "fees", 0.38, "do you do payment plans", url=url, now=now)
    faq_questions.record("unmatched", "hours", 0.3, "an old question", url=url, now=now - timedelta(days=40))
    faq_questions.record("answered", "fees", 0.9, url=url, now=now)
    tallies = faq_questions.tallies(now - timedelta(days=90), url=url)
    assert faq_questions.Tally("unmatched", "fees", 2) in tallies
    kept = faq_questions.kept_questions(30, url=url)
    assert [k.text for k in kept] == ["do you do payment plans"]  # the 40-day-old text was cleared
    assert faq_questions.Tally("unmatched", "hours", 1) in faq_questions.tallies(
        now - timedelta(days=90), url=url
    )
    with pytest.raises(ValueError):
        faq_questions.record("guessed", None, 0.0, url=url)


def test_note_keeps_words_only_when_the_setting_is_on(monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/note.db"
    monkeypatch.setenv("DATABASE_URL", url)
    faq_questions.note("unmatched", "fees", 0.4, "private words")
    monkeypatch.setenv("HAVEN_FAQ_KEEP_QUESTIONS", "true")
    faq_questions.note("unmatched", "fees", 0.4, "kept words")
    faq_questions.drain()
    assert [k.text for k in faq_questions.kept_questions(30, url=url)] == ["kept words"]
    assert faq_questions.tallies(datetime.now(UTC) - timedelta(days=1), url=url) == [
        faq_questions.Tally("unmatched", "fees", 2)
    ]


def test_the_migration_and_the_model_agree(tmp_path) -> None:
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{tmp_path}/schema.db"
    migrate.upgrade(url)
    columns = {c["name"] for c in inspect(create_engine(url)).get_columns("faq_questions")}
    assert columns == {"id", "created_at", "outcome", "entry_id", "score", "question_text"}
    assert Path(ROOT / "migrations" / "versions" / "0007_faq_questions.py").is_file()


@pytest.mark.parametrize(
    "question",
    [
        "when does the post office close today",
        "what does a dentist check-up cost",
        "how do i cancel my phone plan",
    ],
)
def test_an_everyday_question_sent_as_practice_faq_is_vetoed(matcher, question) -> None:
    """The NLU sometimes calls these practice_faq; the "not the FAQ" class refuses them even then."""
    assert matcher.match(question, faq.INTENT_THRESHOLD).kind == "none"
    assert matcher.match("what are your opening hours", faq.INTENT_THRESHOLD).entry.id == "hours"


def test_not_faq_questions_survive_a_staff_save(tmp_path) -> None:
    path = tmp_path / "faq.yml"
    faq.save(FAQ, path)
    assert faq.load(path).not_faq == FAQ.not_faq and FAQ.not_faq


# ----------------------------------------------------------------------------- the team's extra examples


def test_the_extra_examples_name_only_entries_of_the_file_and_repeat_none_of_them() -> None:
    extra = faq.extra_examples()
    assert set(extra.entries) == set(ENTRY_IDS)
    assert all(len(qs) >= 30 for qs in extra.entries.values()) and len(extra.not_faq) >= 300
    own = {" ".join(q.lower().split()) for e in FAQ.entries for q in e.questions}
    assert not [q for qs in extra.entries.values() for q in qs if q.lower() in own]


def test_the_matcher_learns_the_extra_examples(matcher) -> None:
    """Each entry's class holds its own and the extra questions; "not the FAQ" gets data/faq's look-alikes."""
    extra = faq.extra_examples()
    own = sum(len(e.questions) for e in FAQ.entries)
    others = len(faq.other_examples()) + len(extra.not_faq) + len(FAQ.not_faq)
    assert matcher._model.n_features_in_ == 384
    assert len(matcher._model.classes_) == len(FAQ.entries) + 1  # one class per entry and "not the FAQ"
    extras = sum(len(qs) for qs in extra.entries.values())
    assert matcher.training_size() == own + extras + others


def test_a_file_marked_train_nlu_false_teaches_the_matcher_only(tmp_path) -> None:
    """data/faq/fq4_questions.yml: in the NLU too, those questions took topic accuracy under its target."""
    (tmp_path / "both.yml").write_text('version: "1"\nentries:\n  fees:\n    - what do you charge\n')
    matcher_only = "train_nlu: false\nentries:\n  fees:\n    - price per hour?\nnot_faq:\n    - a haircut\n"
    (tmp_path / "matcher.yml").write_text('version: "1"\n' + matcher_only)
    assert faq.extra_examples(tmp_path).entries == {"fees": ["what do you charge", "price per hour?"]}
    only_nlu = faq.extra_examples(tmp_path, for_nlu=True)
    assert only_nlu.entries == {"fees": ["what do you charge"]} and only_nlu.not_faq == []
    shipped = faq.extra_examples(for_nlu=True)
    assert sum(map(len, shipped.entries.values())) < sum(map(len, faq.extra_examples().entries.values()))


def test_the_nlu_file_generated_from_the_extra_examples_is_current() -> None:
    import runpy

    script = runpy.run_path(str(ROOT / "scripts" / "build_faq_nlu.py"))  # not as __main__: writes nothing
    text, counts = script["render"]()
    assert (ROOT / "data" / "nlu" / "practice_faq_more.yml").read_text() == text, "run `make faq-nlu`"
    assert counts["in evaluation sets"] == 0  # data/faq holds no evaluation message
    assert counts["practice_faq"] >= 500


def test_the_fixed_example_vectors_are_kept_on_disk_and_a_damaged_file_is_encoded_again(
    tmp_path, monkeypatch
) -> None:
    from haven.encoder import load_encoder

    encoder = load_encoder()
    monkeypatch.setattr(faq, "VECTOR_CACHE", tmp_path)
    texts = ["what are your fees", "is the library open on sunday"]
    first = faq._encode_fixed(encoder, texts, "probe")
    (kept,) = tmp_path.glob("probe-*.npy")
    assert kept.stat().st_mode & 0o077 == 0  # owner-only, like everything Haven writes
    np.testing.assert_allclose(faq._encode_fixed(encoder, texts, "probe"), first)
    np.testing.assert_allclose(first, encoder.encode(texts), atol=1e-6)
    kept.write_bytes(b"not an array")
    np.testing.assert_allclose(faq._encode_fixed(encoder, texts, "probe"), first, atol=1e-6)
    faq._encode_fixed(encoder, [*texts, "one more"], "probe")  # another version replaces the old file
    assert len(list(tmp_path.glob("probe-*.npy"))) == 1
