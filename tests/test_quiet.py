"""A quiet start (issue 14.7): third-party deprecation warnings are off in the servers only when the
launcher asks for it (PYTHONWARNINGS), and stay off after Sanic's and Rasa's own warning set-up.
The whole start is checked in tests/test_supervision_e2e.py."""

from __future__ import annotations

import warnings

import pytest

from haven import settings as settings_module
from haven.ops import processes
from haven.plugins import quiet


class ThirdPartyDeprecation(UserWarning, DeprecationWarning):
    """Shaped like pyparsing's PyparsingDeprecationWarning: a UserWarning and a DeprecationWarning."""


def shown(category: type) -> int:
    with warnings.catch_warnings(record=True) as seen:
        warnings.warn("old API", category, stacklevel=2)
    return len(seen)


@pytest.fixture(autouse=True)
def restore_filters():
    with warnings.catch_warnings():
        yield


def test_nothing_changes_unless_the_environment_asks() -> None:
    warnings.simplefilter("always")
    assert quiet.quiet_deprecation_warnings(["default"]) is False
    assert quiet.quiet_deprecation_warnings([]) is False
    assert shown(DeprecationWarning) == 1


def test_deprecations_are_ignored_after_sanic_put_its_once_filter_first() -> None:
    warnings.simplefilter("always")
    assert quiet.quiet_deprecation_warnings([quiet.QUIET]) is True
    warnings.filterwarnings("once", category=UserWarning)  # what Rasa's start-up then adds
    assert shown(DeprecationWarning) == 0
    assert shown(UserWarning) == 1  # other warnings still show


def test_rasa_warning_set_up_no_longer_brings_back_pyparsing_deprecations(monkeypatch) -> None:
    import logging

    from rasa.utils import common

    monkeypatch.delenv("LOG_LEVEL", raising=False)  # Rasa's set-up writes it; restored afterwards
    rasa_level = logging.getLogger("rasa").level

    warnings.simplefilter("always")
    quiet.quiet_deprecation_warnings([quiet.QUIET])
    before = common._filter_warnings
    try:
        quiet.keep_quiet_after_rasa()
        quiet.keep_quiet_after_rasa()  # idempotent: wrapped once
        assert common._filter_warnings.haven_quiet is True
        common.configure_logging_and_warnings(warn_only_once=True)
        assert shown(ThirdPartyDeprecation) == 0
    finally:
        common._filter_warnings = before
        logging.getLogger("rasa").setLevel(rasa_level)


def test_the_launcher_asks_for_a_quiet_start_unless_the_operator_set_warnings() -> None:
    settings = settings_module.load({})
    assert processes.runtime_env(settings, {})["PYTHONWARNINGS"] == quiet.QUIET
    assert processes.runtime_env(settings, {"PYTHONWARNINGS": "default"})["PYTHONWARNINGS"] == "default"
