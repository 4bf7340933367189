"""The forms' conversations as Rasa test stories (tests/stories/), run against the trained model with
`rasa test core --fail-on-prediction-errors`: any action the model would not predict fails the suite.

Why Rasa's own test: the forgiving forms are rules and form rejections (issue 13), which only Rasa's
dialogue prediction can check end to end without servers; tests/test_forgiving_form_e2e.py then runs
one such conversation through the real servers.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from actions import digression
from haven import yaml_files
from haven.ops import processes
from haven.settings import ROOT

STORIES = ROOT / "tests" / "stories"
FORMS = ("booking_form", "handoff_form")


def test_every_digression_intent_has_a_rule_in_each_form() -> None:
    """A digression the form leaves unread with no rule to answer it would leave the visitor unanswered."""
    rules = []
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        rules += yaml_files.read(path).get("rules") or []
    answered = {
        (cond.get("active_loop"), step["intent"])
        for rule in rules
        for cond in rule.get("condition") or []
        for step in rule["steps"][:1]
        if "intent" in step and "active_loop" in cond
    }
    for form in FORMS:
        for intent in digression.DIGRESSION_INTENTS:
            assert (form, intent) in answered, f"no rule answers {intent} inside {form}"


@pytest.mark.model
@pytest.mark.slow
def test_the_form_stories_pass_rasa_test_core(tmp_path) -> None:
    model = ROOT / "models" / processes.MODEL_FILE
    if not model.is_file():
        pytest.fail(f"no trained model at {model}: run the suite through `make test`, which trains it")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--stories", str(STORIES),
         "--model", str(model), "--out", str(tmp_path), "--fail-on-prediction-errors", "--no-plot"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.is_file() else ""
    assert result.returncode == 0, f"{details}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "# predicted" not in details
    assert (
        tmp_path / "story_report.json"
    ).is_file() or "Finished evaluation" in result.stderr + result.stdout
