"""The cross-validation script's text handling (scripts/crisis_model_cv.py): the sweeps that train need
minutes, so only what decides which text a sweep scores is tested here."""

import pytest

from tests import script_modules


@pytest.fixture(scope="module")
def cv():
    return script_modules.load("crisis_model_cv")


@pytest.mark.parametrize(
    "text, expected",
    [
        # the disclosure read without the question beside it
        ("i feel so empty i dont know what i might do. why can't i let go?",
         "i feel so empty i dont know what i might do."),
        ("Why do I still miss him? I keep thinking about the pills.\nIs that normal?",
         "I keep thinking about the pills."),
        # nothing to set aside: no question, only a question, or nothing else of three words
        ("I found out last week. He lied for years.", None),
        ("why can't i let go of him?", None),
        ("ok. why?", None),
        ("", None),
    ],
)  # fmt: skip
def test_question_aside_keeps_the_other_sentences(cv, text, expected):
    assert cv.question_aside(text) == expected


def test_sentences_needs_two_of_three_words_or_more(cv):
    assert cv.sentences("I miss him so much. He lied to me.") == ["I miss him so much.", "He lied to me."]
    assert cv.sentences("I miss him so much. ok") == []
