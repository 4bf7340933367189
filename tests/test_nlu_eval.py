"""The trained model on messages it never trained on: the accuracy targets of the knowledge-base and
safety issues, measured through the full NLU pipeline (classifier, fallback and crisis detector)."""

from __future__ import annotations

import pytest

from haven import evaluation


@pytest.fixture(scope="module")
def report() -> evaluation.Report:
    return evaluation.evaluate()


# The knowledge-base issue's target, over all held-out sets together (0.959, 417/435, on 2026-11-24).
TOPIC_ACCURACY_TARGET = 0.95
# No single set may fall far behind the others: each was written by a different person.
PER_SET_FLOOR = 0.93


def test_topic_accuracy_on_the_heldout_sets(report) -> None:
    assert report.topic_total >= 12 * len(evaluation.TOPICS)
    assert report.topic_accuracy >= TOPIC_ACCURACY_TARGET, evaluation.format_report(report)


@pytest.mark.parametrize("path", evaluation.heldout_files(), ids=lambda p: p.name)
def test_no_heldout_set_falls_behind(report, path) -> None:
    assert report.set_accuracy(path.name) >= PER_SET_FLOOR, evaluation.format_report(report)


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
