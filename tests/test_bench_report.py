"""`make bench`'s arithmetic on its results: the targets it prints and its exit status (scripts/bench.py).

The measurements themselves need servers and minutes (`make bench`); these check what is made of them."""

import pytest

from tests.script_modules import load

bench = load("bench")


def _run(errors_1=0, errors_n=0, throughput_n=50.0, p50=20.0, rasa_rss=900.0, label="x"):
    return {
        "label": label,
        "load": {
            "1": {"throughput": 40.0, "p50_ms": p50, "p99_ms": 50.0, "errors": errors_1},
            "20": {"throughput": throughput_n, "p50_ms": 300.0, "p99_ms": 1000.0, "errors": errors_n},
        },
        "memory_after_load": {"rasa server": {"rss_mb": rasa_rss}},
    }


def _results(haven, baseline, training_s=None, **more):
    results = {
        "machine": {"cpus": 2},
        "options": {"senders": 20},
        "haven": haven,
        "baseline": baseline,
        **more,
    }
    if training_s is not None:
        results["training"] = {"seconds": training_s, "others_cores": 0.05}
    results["comparison"] = bench.comparison(results, 20)
    return results


def test_targets_met():
    r = _results(_run(throughput_n=55.0, rasa_rss=905.0), _run(throughput_n=39.0, rasa_rss=1058.0), 170.0)
    c = r["comparison"]
    assert c["throughput_ratio"] == pytest.approx(1.41)
    assert c["throughput_target_met"]
    assert c["rasa_rss_growth_mb"] == pytest.approx(-153.0)
    assert c["rasa_rss_growth_target_met"]
    assert c["training_target_met"]
    text = bench.markdown_table(r)
    assert "**-153 MB** (target ≤ +300 MB: met)" in text
    assert "**170 s** (target ≤ 180 s: met; others' CPU meanwhile 0.05 of 2)" in text
    assert "NOT met" not in text


@pytest.mark.parametrize(
    "haven, baseline, training_s, missed",
    [
        (_run(throughput_n=30.0), _run(throughput_n=40.0), 100.0, "throughput"),
        (_run(rasa_rss=1400.0), _run(rasa_rss=1058.0), 100.0, "RSS"),
        (_run(), _run(), 246.0, "training"),
        (_run(p50=31.0), _run(), 100.0, "p50 at 1 sender:"),
    ],
)
def test_a_missed_target_says_not_met(haven, baseline, training_s, missed):
    text = bench.markdown_table(_results(haven, baseline, training_s))
    lines = [line for line in text.splitlines() if "NOT met" in line]
    assert len(lines) == 1 and missed in lines[0]


def test_no_baseline_no_ratios():
    r = _results(_run(), {"skipped": "rasa init failed"}, None)
    assert "throughput_ratio" not in r["comparison"]
    assert "rasa_rss_growth_mb" not in r["comparison"]
    assert "training_target_met" not in r["comparison"]
    assert "skipped: rasa init failed" in bench.markdown_table(r)


def test_the_stock_bots_errors_do_not_fail_the_run():
    r = _results(_run(), _run(errors_n=3), 100.0)
    assert bench.exit_status(r, 20) == 0
    assert "| 3 |" in bench.markdown_table(r)


@pytest.mark.parametrize("key", ["haven", "scale_out", "haven_stock_rasa"])
@pytest.mark.parametrize("where", ["errors_1", "errors_n"])
def test_a_lost_reply_of_havens_fails_the_run(key, where):
    r = _results(_run(), _run(), 100.0)
    r[key] = _run(**{where: 1})
    assert bench.exit_status(r, 20) == 1


first_run = load("bench_first_run")


def test_the_first_runs_stages_are_read_from_makes_output():
    lines = [
        (0.4, "Installing Haven's locked Python packages into .venv (the first time takes several minutes)…"),
        (61.0, "Python environment ready."),
        (75.5, "spaCy pipeline written to build/spacy-en"),
        (76.0, "Training the model (data, domain or config changed)…"),
        (250.0, "Starting the action server, the Rasa server and the website server…"),
    ]
    assert first_run.stage_times(lines) == [
        ("install", 0.0),
        ("spaCy pipeline", 61.0),
        ("training", 76.0),
        ("servers", 250.0),
    ]


def test_a_stage_make_skipped_is_left_out():
    lines = [(1.0, "Python environment ready."), (30.0, "Starting the action server, the Rasa server and …")]
    assert [s for s, _ in first_run.stage_times(lines)] == ["install", "spaCy pipeline", "servers"]
