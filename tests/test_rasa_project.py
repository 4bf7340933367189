"""The Rasa project itself: consistent data, and a trained model that matches it and understands it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from haven.settings import ROOT

MODEL = ROOT / "models" / "haven.tar.gz"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def _rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rasa", *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_rasa_data_validate_passes() -> None:
    result = _rasa("data", "validate", "--fail-on-warnings")  # Rasa's defaults: domain.yml, data/
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.model
def test_the_trained_model_is_up_to_date_with_the_data() -> None:
    assert MODEL.is_file(), "run through `make test`, which trains the model first"
    # --dry-run exits 0 only when Rasa's fingerprints say nothing needs retraining.
    result = _rasa("train", "--dry-run", "--fixed-model-name", "haven")  # defaults: domain.yml, models/
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.fixture(scope="module")
def agent(trained_agent):
    return trained_agent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello", "greet"),
        ("bye for now", "goodbye"),
        ("are you a real person?", "bot_challenge"),
        ("why do I still feel attached to him?", "why_still_attached"),
    ],
)
@pytest.mark.model
def test_the_model_understands_the_skeleton(agent, text: str, intent: str) -> None:
    parsed = asyncio.run(agent.parse_message(text))
    assert parsed["intent"]["name"] == intent


@pytest.mark.model
def test_parsing_in_process_prints_no_message_text(agent, capfd) -> None:
    """Evaluations and tests parse the blind sets in-process: Rasa's debug lines must not echo them."""
    asyncio.run(agent.parse_message("a probe sentence zqxjv about my partner"))
    captured = capfd.readouterr()
    assert "zqxjv" not in captured.out + captured.err
