"""The fine-tuning experiment's arithmetic (scripts/crisis_finetune_cv.py): the stages that train need
torch and minutes, so only the comparison it reports is tested here."""

import numpy as np
import pytest

from tests import script_modules


@pytest.fixture(scope="module")
def cv():
    return script_modules.load("crisis_finetune_cv")


def test_recall_is_measured_where_the_calm_messages_give_the_rate(cv):
    calm = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    crisis = [0.995, 0.985, 0.95, 0.5]
    recall, alarms, th = cv.recall_at(crisis, calm, 0.03)
    assert alarms == pytest.approx(0.03, abs=0.011)
    assert recall == 0.5  # 0.995 and 0.985 pass the threshold near 0.97; 0.95 and 0.5 do not
    assert 0.96 <= th < 0.98


def test_pattern_matches_count_as_caught_and_spend_the_calm_budget(cv):
    calm = [i / 100 for i in range(100)]
    calm_hits = [i in (10, 20) for i in range(100)]  # two calm messages matched: 2 of 3 alarms spent
    crisis = [0.1, 0.995, 0.5]
    crisis_hits = [True, False, False]
    recall, alarms, th = cv.recall_at(crisis, calm, 0.03, crisis_hits, calm_hits)
    assert alarms == pytest.approx(0.03)
    assert recall == pytest.approx(2 / 3)  # the matched message, and the one over the threshold
    assert th == pytest.approx(0.98)
    # more calm matches than the budget: nothing passes by its score
    recall, _, th = cv.recall_at(crisis, calm, 0.01, crisis_hits, calm_hits)
    assert th == float("inf") and recall == pytest.approx(1 / 3)


def test_blends_weigh_the_fine_tuned_score_and_keep_only_shared_messages(cv):
    out = cv.blends({"a": 0.2, "b": 0.9, "only shipped": 0.5}, {"a": 0.6, "b": 0.1})
    assert set(out["shipped"]) == {"a", "b"}
    assert out["blend 0.5"]["a"] == pytest.approx(0.4)
    assert out["blend 0.3"]["b"] == pytest.approx(0.3 * 0.1 + 0.7 * 0.9)
    assert out["logit sum"]["a"] == pytest.approx(cv.logit(0.6) + cv.logit(0.2))


def test_blends_add_the_hybrid_and_its_blend_when_it_has_run(cv):
    out = cv.blends({"a": 0.2, "b": 0.9}, {"a": 0.6, "b": 0.1}, {"a": 0.8, "b": 0.3})
    assert out["hybrid"] == {"a": 0.8, "b": 0.3}
    assert out["hybrid+shipped"]["a"] == pytest.approx(0.5)
    assert "hybrid" not in cv.blends({"a": 0.2}, {"a": 0.6})


def test_tuned_vectors_answer_from_the_saved_rows_and_cut_as_the_pinned_encoder_cuts(cv):
    class Chunker:
        def chunks(self, text):
            return text.split("|")

    rows = np.eye(3, 384, dtype=np.float32)
    encoder = cv.TunedVectors(["x", "y", "z"], rows, Chunker())
    assert encoder.encode(["z", "x"]).tolist() == [rows[2].tolist(), rows[0].tolist()]
    assert encoder.encode([]).shape == (0, 384)
    assert encoder.chunks("x|y") == ["x", "y"]
    with pytest.raises(KeyError):  # a text never embedded is an error, not a zero vector
        encoder.encode(["never embedded"])
