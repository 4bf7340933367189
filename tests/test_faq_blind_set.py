"""The FAQ's blind held-out sets (tests/nlu/faq_blind*.yml, twelve of them): each written
by a helper who saw only the list of entry ids and what each answers — never content/faq.yml, the NLU data
or the other sets.

Numbers only: the questions stay unread so the set stays useful. The floors are the measured values less
a little, so a change that makes the FAQ worse fails here; the issue's targets (0.95) are printed by
`make eval` and are not met yet (docs/faq.md).
"""

from __future__ import annotations

import re

import pytest

from haven import yaml_files
from haven.services import faq
from haven.settings import ROOT
from haven_devtools import faq_evaluation

SETS = {
    # measured 2026-12-05 (make eval, the extra examples of data/faq in the matcher and the NLU): right entry
    # 133/154 = 0.864 (0.753 before them), off-topic refused 106/119 = 0.891 (0.899), article kept 59/59.
    # (16 questions the writer happened to phrase exactly like an FAQ example or an NLU training line were
    # taken out: they measured recall of the training data, not understanding.)
    # 2026-12-06, with the third batch of extra examples (data/faq/people_voices.yml, other_tasks.yml): right
    # 141/154 = 0.916, refused 106/119 = 0.891, article kept 59/59. With an entry's answer after the
    # consultation topic's (Matcher.beside_topic, the sixth session of 2026-12-06): right 143/154 = 0.929.
    # With FQ4's questions in the matcher (2026-12-07): right 144/154 = 0.935, refused 107/119 = 0.899.
    # With FQ5's and FQ6's questions and FQ7's look-alikes too (set E decided): right 143/154 = 0.929,
    # refused 109/119 = 0.916.
    # With FQ8 and FQ9 too (set H decided): right 140/154 = 0.909, refused 107/119 = 0.899.
    "faq_blind.yml": {"counts": (154, 119, 59), "right": 0.90, "refused": 0.89, "articles_kept": 0.97},
    # written blind on 2026-12-05 by a second writer; 22 questions equal to training lines taken out the same
    # way. Measured: right 130/154 = 0.844 (0.753 before the extra examples), refused 120/122 = 0.984
    # (0.951), article kept 40/40. With people_voices.yml and other_tasks.yml (2026-12-06): right 136/154 =
    # 0.883, refused 119/122 = 0.975. With an entry beside the consultation topic: right 140/154 = 0.909.
    # With FQ4's questions in the matcher: right 142/154 = 0.922, refused 118/122 = 0.967.
    # With FQ5-FQ7: right 147/154 = 0.955, refused 117/122 = 0.959.
    # With FQ8 and FQ9 too (set H decided): right 145/154 = 0.942, refused 119/122 = 0.975.
    "faq_blind_b.yml": {"counts": (154, 122, 40), "right": 0.93, "refused": 0.95, "articles_kept": 0.97},
    # written blind on 2026-12-06 by a third writer asked to avoid the canonical phrasings; 14 questions, 23
    # look-alikes and 7 article questions equal to training lines or to another set's messages taken out.
    # Measured with the model and matcher of 2026-12-05: right 122/154 = 0.792, refused 98/107 = 0.916,
    # article kept 33/33. With people_voices.yml and other_tasks.yml: right 134/154 = 0.870, refused 100/107
    # = 0.935. With an entry beside the consultation topic: right 137/154 = 0.890. With FQ4's questions in
    # the matcher: right 138/154 = 0.896, refused 101/107 = 0.944.
    # With FQ5-FQ7: right 140/154 = 0.909, refused 98/107 = 0.916 (101 before: the one set whose refusals
    # fell).
    # With FQ8 and FQ9 too (set H decided): right 137/154 = 0.890, refused 101/107 = 0.944.
    "faq_blind_c.yml": {"counts": (154, 107, 33), "right": 0.88, "refused": 0.93, "articles_kept": 0.97},
    # written blind on 2026-12-06 by a fourth writer (entry list and article only); 43 questions equal to a
    # training line or another set's message taken out by a count-only script. Measured before
    # people_voices.yml (with 2 of those 43 still in): right 99/128 = 0.773, refused 97/109 = 0.890, kept
    # 36/36; with it: right 108/127 = 0.850, refused 95/108 = 0.880, kept 36/36. With an entry beside the
    # consultation topic: right 109/127 = 0.858. With FQ4's questions in the matcher: right 111/127 = 0.874.
    # With FQ5-FQ7: right 114/127 = 0.898, refused 99/108 = 0.917.
    # With FQ8 and FQ9 too (set H decided): right 114/127 = 0.898, refused 101/108 = 0.935.
    "faq_blind_d.yml": {"counts": (127, 108, 36), "right": 0.88, "refused": 0.92, "articles_kept": 0.97},
    # written blind on 2026-12-07 (twelfth session) by a fifth writer (entry list and article only) to decide
    # whether FQ5-FQ7 join the matcher, after sets A-D had judged three variants that day; 34 questions, 7
    # look-alikes and 5 article questions equal to a training, candidate or evaluation line removed by a
    # count-only script. Measured once per matcher: with FQ4 only right 105/120 = 0.875, refused 97/113 =
    # 0.858, kept 34/35; with FQ5-FQ7 right 112/120 = 0.933, refused 100/113 = 0.885, kept 34/35.
    # With FQ8 and FQ9 too (set H decided): right 112/120 = 0.933, refused 104/113 = 0.920.
    "faq_blind_e.yml": {"counts": (120, 113, 35), "right": 0.92, "refused": 0.90, "articles_kept": 0.94},
    # Sets F, G and H were written blind on 2026-12-07 (twelfth session) by three more writers (entry list and
    # article only), as fresh judges for FQ8's look-alikes and FQ9's questions; lines equal to a training,
    # candidate or evaluation line removed by count only. Measured once per matcher (before FQ8/FQ9 -> with):
    # F right 99 -> 97 of 109, refused 87 -> 93 of 103; G right 100 -> 102 of 109, refused 85 -> 98 of 107;
    # H right 107 -> 108 of 115, refused 90 -> 101 of 107; article questions kept in full throughout.
    "faq_blind_f.yml": {"counts": (109, 103, 33), "right": 0.88, "refused": 0.89, "articles_kept": 0.97},
    "faq_blind_g.yml": {"counts": (109, 107, 32), "right": 0.92, "refused": 0.90, "articles_kept": 0.97},
    "faq_blind_h.yml": {"counts": (115, 107, 36), "right": 0.92, "refused": 0.93, "articles_kept": 0.97},
    # written blind on 2026-12-07 (twelfth session) to judge FQ10 (which did not join); its writer was asked
    # to include people writing English as a second language and older adults among everyone else.
    # Measured: right 107/115 = 0.930, refused 94/108 = 0.870, article kept 32/33.
    "faq_blind_i.yml": {"counts": (115, 108, 33), "right": 0.92, "refused": 0.86, "articles_kept": 0.94},
    # written blind on 2026-12-07 (thirteenth session) to judge FQ11 (which did not join): 25 questions for
    # each of the three approved entries and 8 for each of the others. Measured: right 137/146 = 0.938
    # (approved entries 65/72 = 0.903), refused 100/105 = 0.952, article kept 36/36.
    "faq_blind_j.yml": {"counts": (146, 105, 36), "right": 0.92, "refused": 0.93, "articles_kept": 0.97},
    # K and L were written blind on 2026-12-08 (thirteenth session) by two more writers (entry list and
    # article only) to judge two changes to the routes (a veto floor, an entry beside the bot-challenge
    # reply), neither built. Measured: K right 119/124 = 0.960, refused 101/108 = 0.935, kept 33/33; L right
    # 116/128 = 0.906, refused 99/111 = 0.892, kept 37/37.
    "faq_blind_k.yml": {"counts": (124, 108, 33), "right": 0.94, "refused": 0.91, "articles_kept": 0.97},
    "faq_blind_l.yml": {"counts": (128, 111, 37), "right": 0.89, "refused": 0.87, "articles_kept": 0.97},
}


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _training() -> set:
    """Everything the FAQ's matcher and the NLU learn from: the entries' examples, data/faq, data/nlu."""
    examples = {_norm(q) for e in faq.load().entries for q in e.questions}
    extra = faq.extra_examples()
    examples |= {_norm(q) for qs in extra.entries.values() for q in qs} | {_norm(q) for q in extra.not_faq}
    return examples | {
        _norm(line.strip()[2:])
        for path in (ROOT / "data" / "nlu").glob("*.yml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- ")
    }


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_blind_question_is_an_example_or_training_data(name: str) -> None:
    data = yaml_files.read(ROOT / "tests" / "nlu" / name)
    blind = [q for qs in data["faq"].values() for q in qs] + data["off_topic"] + data["article_topic"]
    training = _training()
    leaked = [q for q in blind if _norm(q) in training]
    assert not leaked, f"{len(leaked)} blind FAQ questions of {name} are training data"


@pytest.fixture(scope="module")
def blind_results(trained_agent):
    return {r.name.split(" ")[0]: r for r, _ in faq_evaluation.evaluate_faq(agent=trained_agent)}


@pytest.mark.model
@pytest.mark.parametrize("name", sorted(SETS))
def test_each_blind_set_keeps_its_accuracy_and_refusal(blind_results, name: str) -> None:
    # Plain numbers only, so a failure's message shows no blind question (pytest prints the operands).
    r, floors = blind_results[name], SETS[name]
    counts = (r.questions, r.negatives, r.articles)
    right, refused, kept = r.right / r.questions, r.refused / r.negatives, r.articles_kept / r.articles
    summary = (
        f"{name}: right {r.right}/{r.questions}, refused {r.refused}/{r.negatives}, "
        f"kept {r.articles_kept}/{r.articles}"
    )
    assert counts == floors["counts"], summary
    assert right >= floors["right"], summary
    assert refused >= floors["refused"], summary
    assert kept >= floors["articles_kept"], summary


def test_every_blind_set_has_floors() -> None:
    assert sorted(p.name for p in faq_evaluation.blind_sets()) == sorted(SETS)


def test_the_report_splits_the_approved_entries_from_the_placeholders() -> None:
    """The issue's 0.95 is for approved entries, whose answer is said; a placeholder's reply is "I don't
    have that yet" whichever entry it names, so the two are printed apart."""
    r = faq_evaluation.SetResult(
        "x", questions=5, right=3, by_entry={"confidentiality": [2, 2], "fees": [1, 3]},
        approved=frozenset({"confidentiality"}),
    )  # fmt: skip
    assert r.by_status(True) == (2, 2) and r.by_status(False) == (1, 3)
    text = "\n".join(r.lines(show_messages=False))
    assert "approved entries (their answer is said): 2/2 = 1.000" in text
    assert 'to_fill entries ("I don\'t have that yet"): 1/3 = 0.333' in text
