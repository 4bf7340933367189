"""haven.plugins.rasa_server: Rasa's action response check with the schema compiled once, same verdicts."""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from haven import settings as settings_module
from haven.ops import processes
from haven.plugins import rasa_server
from haven.settings import ROOT

VALID = {
    "events": [
        {"event": "slot", "name": "last_topic", "value": "how_to_heal", "timestamp": None},
        {"event": "active_loop", "name": None, "timestamp": None},
        {"event": "followup", "name": "booking_form", "timestamp": None},
    ],
    "responses": [{"text": "hello", "buttons": [{"title": "a", "payload": "/a"}], "custom": {"topic": "x"}}],
}
# Responses a broken action server could send; the stock check accepts some odd ones too (the last),
# and so must the fix: same verdict, same error.
ODD = [
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": 3}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "no event key"}]},
    {"responses": ["not an object"]},
    {"events": [{"event": "followup"}]},
]


@pytest.fixture(scope="module")
def action() -> RemoteAction:
    assert rasa_server.install_action_response_validator()
    assert rasa_server.install_action_response_validator(), "installing twice is harmless"
    return RemoteAction("action_explain_topic", None)


def test_the_fix_replaces_rasas_check(action) -> None:
    assert "haven.plugins.rasa_server" in (RemoteAction._validate_action_result.__doc__ or "")


def test_a_valid_response_passes(action) -> None:
    assert action._validate_action_result(VALID) is True
    assert action._validate_action_result({}) is True


@pytest.mark.parametrize("result", ODD)
def test_odd_responses_get_the_same_verdict_and_error_as_with_stock_rasa(action, result) -> None:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())  # what Rasa 3.6 calls
    except jsonschema.ValidationError as error:
        stock = error
    else:
        assert action._validate_action_result(result) is True
        return
    with pytest.raises(jsonschema.ValidationError) as ours:
        action._validate_action_result(result)
    assert ours.value.message.startswith(stock.message)
    assert "Failed to validate Action server response from API" in ours.value.message
    assert (list(ours.value.path), ours.value.validator) == (list(stock.path), stock.validator)


def test_the_launcher_runs_rasa_through_the_fix() -> None:
    [rasa] = [s for s in processes.services(settings_module.load({})) if s.name == "rasa server"]
    assert rasa.argv[1:4] == ["-m", "haven.plugins.rasa_server", "run"]


@pytest.mark.slow  # a fresh interpreter importing Rasa and TensorFlow: about 5 s
def test_the_module_is_rasas_own_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "haven.plugins.rasa_server", "--version"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Rasa Version" in done.stdout and "3.6" in done.stdout
