"""The vetted content is the only clinical text Haven says: check it against the article."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from haven import yaml_files
from haven.services import content
from haven.settings import ROOT

KB = content.load(ROOT / "content")
TOPIC_IDS = sorted(KB.topics)


def test_article_copy_matches_the_shared_source() -> None:
    shared = ROOT.parent / "shared" / "content" / "betrayal-trauma-and-trauma-bonds.md"
    if not shared.is_file():
        pytest.skip(f"no shared/ beside the checkout ({shared})")
    assert (ROOT / "content" / "article.md").read_text() == shared.read_text()


@pytest.mark.parametrize("topic_id", TOPIC_IDS)
def test_every_passage_is_verbatim_in_the_article(topic_id: str) -> None:
    assert KB.missing_passages(KB.topics[topic_id]) == []


@pytest.mark.parametrize("topic_id", TOPIC_IDS)
def test_every_answer_sentence_is_covered_by_its_passages(topic_id: str) -> None:
    assert KB.uncovered_sentences(KB.topics[topic_id]) == []


@pytest.mark.parametrize(
    "invented",
    [
        "Trauma bonds are caused by low serotonin levels in the brain.",
        "Most people recover completely within six months if they go no contact.",
        "You probably have borderline personality disorder.",
    ],
)
def test_the_overlap_rule_rejects_invented_claims(invented: str) -> None:
    topic = KB.topics[TOPIC_IDS[0]]
    assert content.coverage(invented, topic.passages) < content.MIN_COVERAGE


def test_the_overlap_rule_accepts_the_article_in_other_words() -> None:
    passages = KB.topics["why_still_attached"].passages
    paraphrase = "Ongoing attachment is often a nervous system response, not a character flaw."
    assert content.coverage(paraphrase, passages) >= content.MIN_COVERAGE


@pytest.mark.parametrize("topic_id", TOPIC_IDS)
def test_every_answer_is_a_few_short_paragraphs(topic_id: str) -> None:
    """Issue 13.2: no wall of text. At most three paragraphs of at most about 60 words, and the first
    answer in two or more (it is what every visitor reads)."""
    topic = KB.topics[topic_id]
    for field_name in ("short", "more", "reminder"):
        blocks = content.paragraphs(getattr(topic, field_name))
        assert 1 <= len(blocks) <= 3, (field_name, len(blocks))
        assert max(len(b.split()) for b in blocks) <= 60, (field_name, [len(b.split()) for b in blocks])
        assert getattr(topic, field_name) == "\n\n".join(blocks), "paragraphs reach clients as blank lines"
    assert len(content.paragraphs(topic.short)) >= 2, topic.short


def test_paragraphs_keep_their_sentences_verbatim() -> None:
    """Splitting into paragraphs changes whitespace only: the words are those of the file, in order."""
    raw = yaml_files.read(ROOT / "content" / "topics.yml")["topics"]
    for topic_id, topic in KB.topics.items():
        for field_name in ("short", "more", "reminder"):
            assert getattr(topic, field_name).split() == raw[topic_id][field_name].split()


def test_payload_follows_the_contract() -> None:
    for topic in KB.topics.values():
        assert topic.payload() == {"topic": topic.id, "section": topic.section}
        assert topic.section == "" or topic.section in KB.headings


def _write(tmp_path: Path, topics: dict) -> Path:
    (tmp_path / "article.md").write_text(KB.article)
    data = {"review": {"reviewed_by": "x", "date": "2026-01-01", "version": "1"}, "topics": topics}
    (tmp_path / "topics.yml").write_text(yaml.safe_dump(data))
    return tmp_path


def _entry(**overrides: object) -> dict:
    good = {
        "section": "", "anchor": "a", "title": "t", "short": "One. Two.", "more": "More.",
        "reminder": "R.", "passages": ["Betrayal trauma sets the stage for trauma bonding."], "related": [],
    }  # fmt: skip
    good.update(overrides)
    return good


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry(short=""), "'short' must be non-empty text"),
        ({k: v for k, v in _entry().items() if k != "more"}, "'more' is missing"),
        (_entry(passages=[]), "'passages' must be a non-empty list"),
        (_entry(section="Not A Heading"), "is not a heading of the article"),
        (_entry(related=["nope"]), "related topic(s) ['nope'] have no entry"),
        (_entry(short="A. B. C. D. E."), "'short' must be 1 to 4 sentences"),
        (_entry(colour="red"), "unknown field(s) ['colour']"),
        (_entry(more="A.\n\nB.\n\nC.\n\nD."), "'more' must be at most 3 paragraphs, found 4"),
        (_entry(short="word " * 61 + "end."), "'short' has a paragraph of 62 words"),
    ],
)
def test_a_malformed_file_names_the_entry(tmp_path: Path, entry: dict, message: str) -> None:
    with pytest.raises(content.ContentError) as error:
        content.load(_write(tmp_path, {"broken_topic": entry}))
    assert "broken_topic" in str(error.value)
    assert message in str(error.value)


def test_no_user_facing_text_in_action_code() -> None:
    """Actions choose among reviewed texts; they never carry sentences of their own."""
    for path in (ROOT / "actions").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "utter_message":
                for keyword in node.keywords:
                    if keyword.arg == "text":
                        assert not isinstance(keyword.value, ast.Constant), f"{path.name}: literal text"
