"""The full NLU pipeline on the crisis sets written blind (tests/safety/blind/README.md): each keeps at
least the recall and at most the false alarms measured on 2026-11-24, so pattern or data changes
cannot quietly lose what was gained. The repo's own set asks 100% (tests/test_nlu_eval.py); these
sets measure phrasings nobody wrote patterns against, so their floors are what was measured."""

from __future__ import annotations

import pytest

from haven import evaluation

# file -> (minimum recall counting full replies and check-ins, maximum rate of full crisis replies on
# calm messages, maximum rate of check-ins on calm messages), as measured
FLOORS = {
    "set_d.yml": (114 / 118, 4 / 79, 0.0),
    "set_e.yml": (94 / 100, 0 / 69, 0.0),
    "set_f.yml": (74 / 90, 3 / 60, 0.0),
}


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent

    return Agent.load(str(evaluation.ROOT / "models" / "haven.tar.gz"))


def test_every_blind_set_has_a_floor() -> None:
    assert sorted(p.name for p in evaluation.blind_crisis_files()) == sorted(FLOORS)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_blind_set_keeps_its_recall_and_false_alarm_rate(agent, name) -> None:
    tally = evaluation.tally_crisis_set(agent, evaluation.BLIND_CRISIS_DIR / name)
    minimum, maximum_full, maximum_check_in = FLOORS[name]
    # Numbers only: the messages stay unread, so the set stays useful.
    assert tally.recall >= minimum - 1e-9, f"{name}: {tally.summary()}; recall below {minimum:.3f}"
    assert tally.full_alarm_rate <= maximum_full + 1e-9, f"{name}: {tally.summary()}"
    assert tally.check_in_rate <= maximum_check_in + 1e-9, f"{name}: {tally.summary()}"
