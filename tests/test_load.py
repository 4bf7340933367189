"""Load: 20 concurrent senders for a whole minute against the real servers, with no error and no
memory growth beyond what the conversations themselves need.

The servers are a dedicated stack (haven.ops.launcher.Stack, what `make run` starts) on free ports with
a throw-away database, so the bookings made here never fill the calendar other tests book from. The
traffic is `make bench`'s Haven mix (haven_devtools/loadgen.py): article questions, crisis messages, whole
six-turn bookings and small talk, each conversation under its own sender id.

HAVEN_LOAD_TEST_SECONDS shortens the minute for a local run (e.g. 10); CI (`.ci/run`) does not set
it and runs the full minute.

Memory bound, and why. Rasa's default tracker store keeps every conversation in memory for the life
of the process, by design (a deployment with a Redis or SQL tracker store does not), so the Rasa
server grows with the number of conversations even without a leak. Measured on the 2-core machine
(docs/benchmarks.md, "Memory under load"): the stored JSON is about 7 KB per conversation of this mix
(`make profile`), and a full minute here moved the Rasa server's RSS after the warm-up by 3 MB
(about 500 conversations, 900 requests, on a busy machine) and by 8 MB (1,140 conversations, 2,280
requests), the action server's by 1-2 MB and the website's by 0. The bound allows three times the
stored JSON (20 KB per conversation, for Python's own overhead and allocator fragmentation) plus
25 MB for one-off settling (allocator arenas, Sanic buffers): 35-48 MB for those minutes, five to ten
times what was measured, while a leak of about 35 KB per request would break it (less on a faster
machine, which serves more requests in the minute). The action server and the website keep nothing
per conversation: 15 MB flat each.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Dict, Iterator

import pytest

from haven import settings as settings_module
from haven.ops import processes
from haven.settings import ROOT
from haven_devtools import loadgen

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SENDERS = 20
SECONDS = float(os.environ.get("HAVEN_LOAD_TEST_SECONDS") or 60)
WARMUP_SECONDS = min(10.0, SECONDS / 3)
RASA_GROWTH_BASE_MB = 25.0
RASA_GROWTH_PER_CONVERSATION_MB = 0.020
OTHER_GROWTH_MB = 15.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Stack]:
    model = ROOT / "models" / processes.MODEL_FILE
    if not model.is_file():
        pytest.fail(f"no trained model at {model}: run the suite through `make test`, which trains it")
    tmp = tmp_path_factory.mktemp("load")
    env = {
        **os.environ,
        "RASA_PORT": str(processes.free_port()),
        "ACTION_PORT": str(processes.free_port()),
        "SITE_PORT": str(processes.free_port()),
        "DATABASE_URL": f"sqlite:///{tmp / 'haven.db'}",
        "HAVEN_TRACKER_DB": str(tmp / "rasa-tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    servers = processes.Stack(settings_module.load(env), log_dir=tmp / "logs", env=env)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


def memory(stack: processes.Stack) -> Dict[str, float]:
    return {s.name: loadgen.memory_mb(s.process.pid)["rss_mb"] for s in stack.services if s.process}


def test_twenty_senders_for_a_minute_without_errors_or_memory_growth(stack) -> None:
    url = f"http://127.0.0.1:{stack.settings.rasa_port}"
    warmup = asyncio.run(loadgen.run_load(url, SENDERS, WARMUP_SECONDS, sender_prefix="warmup"))
    assert warmup.errors == 0, warmup.error_samples
    before = memory(stack)

    report = asyncio.run(loadgen.run_load(url, SENDERS, SECONDS, sender_prefix="load"))

    after = memory(stack)
    limit = RASA_GROWTH_BASE_MB + RASA_GROWTH_PER_CONVERSATION_MB * report.conversations
    summary = {
        "report": report.as_dict(),
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rasa_growth_limit_mb": round(limit, 1),
    }
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "load.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{report.summary()}\nRSS before {before}, after {after}, Rasa limit +{limit:.0f} MB")

    assert stack.failed() is None, f"the {stack.failed().name} stopped under load"
    assert report.errors == 0, f"{report.errors} failed requests, e.g. {report.error_samples}"
    assert report.requests >= SECONDS, f"under one message a second: {report.summary()}"
    assert set(report.by_scenario) == {s.name for s in loadgen.HAVEN_MIX}, "every kind of conversation ran"
    assert after["rasa server"] - before["rasa server"] <= limit, summary
    for name in ("action server", "website"):
        assert after[name] - before[name] <= OTHER_GROWTH_MB, summary
