"""The trained model on messages it never trained on: the accuracy targets of the knowledge-base and
safety issues, measured through the full NLU pipeline (classifier, fallback and crisis detector)."""

from __future__ import annotations

import pytest

from haven_devtools import evaluation

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def report(trained_agent) -> evaluation.Report:
    return evaluation.evaluate(agent=trained_agent)


# Over all held-out sets together: 0.979 (426/435) with the sentence embedding beside TF-IDF and the
# crisis risk model's check-ins (docs/nlu-pipeline.md, round 4: 0.986 by the classifier alone, 3 of the
# 435 then get a check-in question instead; 0.956 before both). 2026-12-05: 0.975 (424/435) after the
# fifth crisis writer's data (three "why can't I just leave" questions now get a check-in question, a
# deliberate safety trade-off, docs/crisis-detection.md) and the practice FAQ intent ("is there a fee"
# now gets the FAQ's fees entry). 2026-12-05 evening: 0.970 (422/435) after the FAQ's extra examples joined
# the NLU's practice_faq intent (data/nlu/practice_faq_more.yml): a question mixing the consultation with
# video or phone and charges now goes to the FAQ, and one "why do I ache for him" to the fallback menu; in
# exchange the FAQ's two blind sets went from 0.753 to 0.864 and 0.844 right entry (docs/faq.md).
# 2026-12-06: 0.972 (423/435) with writers T12-T15; 0.970 (422/435) with the short messages of writer
# T16 (one more "why isn't knowing enough" question gets a check-in question).
# The floor is the target, 0.97.
TOPIC_ACCURACY_TARGET = 0.97
# No single set may fall far behind the others: each was written by a different person (lowest 0.960,
# heldout.yml, 2026-12-05 morning; 0.955 = 168/176 since the FAQ's extra examples, above).
PER_SET_FLOOR = 0.95
# Off-topic messages given no topic answer: 0.981 (104/106) in round 4 (0.934 before).
OFF_TOPIC_REFUSAL_TARGET = 0.95


def test_topic_accuracy_on_the_heldout_sets(report) -> None:
    assert report.topic_total >= 12 * len(evaluation.TOPICS)
    assert report.topic_accuracy >= TOPIC_ACCURACY_TARGET, evaluation.format_report(report)


@pytest.mark.parametrize("path", evaluation.heldout_files(), ids=lambda p: p.name)
def test_no_heldout_set_falls_behind(report, path) -> None:
    assert report.set_accuracy(path.name) >= PER_SET_FLOOR, evaluation.format_report(report)


def test_off_topic_messages_get_no_topic_answer(report) -> None:
    assert report.off_topic_total >= 40
    assert report.off_topic_refusal_rate >= OFF_TOPIC_REFUSAL_TARGET, evaluation.format_report(report)


def test_every_crisis_message_is_caught_with_its_category(report) -> None:
    assert report.crisis_total >= 150
    assert report.crisis_missed == [], evaluation.format_report(report)
    assert report.crisis_wrong_category == []


def test_false_alarms_stay_within_budget(report) -> None:
    assert report.calm_total >= 100
    assert report.false_alarm_rate <= 0.03, evaluation.format_report(report)
