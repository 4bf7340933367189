"""Shared fixtures: action-test helpers (dispatcher, tracker, domain) and the live servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from haven import settings as settings_module
from haven.ops import processes
from haven.settings import ROOT
from haven_devtools.throwaway import ThrowawayRedis
from tests.throwaway import running

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def trained_agent() -> Any:
    """models/haven.tar.gz in-process, loaded once for the whole run: each load costs seconds and
    hundreds of MB, and the model tests of several modules (topic, crisis and FAQ evaluations, the
    robustness and project checks) only parse with it."""
    from haven_devtools import evaluation

    model = ROOT / "models" / "haven.tar.gz"
    if not model.is_file():
        pytest.fail("no trained model: run through `make test`, which trains it")
    return evaluation.load_agent(model)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The domain exactly as the Rasa server sends it to the action server."""
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml")).as_dict()


def make_tracker(
    intent: Optional[str] = None,
    text: str = "",
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    sender_id: str = "test-visitor",
    extra: Optional[Dict[str, Any]] = None,
) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0} if intent else {}, "entities": []}
    latest.update(extra or {})
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture
def tracker() -> Callable[..., Tracker]:
    """A factory: tracker(intent="why_still_attached", slots={...})."""
    return make_tracker


class LiveHaven:
    """The three real servers, started by the real launcher (`python -m haven.ops.launcher`) on free ports."""

    def __init__(self, process: subprocess.Popen, settings: settings_module.Settings, log: Path):
        self.process = process
        self.settings = settings
        self.log = log

    @property
    def rasa(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def site(self) -> str:
        return f"http://127.0.0.1:{self.settings.site_port}"

    @property
    def actions(self) -> str:
        return f"http://127.0.0.1:{self.settings.action_port}"


@contextmanager
def launched(env: Dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`make run`'s launcher (`python -m haven.ops.launcher`) with `env`, its output in `log`, for the
    block; then Ctrl-C, as a person would press it (killed if it has not stopped within 90 s). Its exit
    code is the process's returncode afterwards."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "haven.ops.launcher"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise


def _wait_for_banner(process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Haven is running" in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"the launcher did not start Haven (exit {process.poll()}):\n{tail}")


@pytest.fixture(scope="session")
def live_haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHaven]:
    model = ROOT / "models" / processes.MODEL_FILE
    if not model.is_file():
        pytest.fail(f"no trained model at {model}: run the suite through `make test`, which trains it")
    env = {
        **os.environ,
        "RASA_PORT": str(processes.free_port()),
        "ACTION_PORT": str(processes.free_port()),
        "SITE_PORT": str(processes.free_port()),
        "RASA_AUTH_TOKEN": "test-api-token",
        "HAVEN_STAFF_TOKEN": "test-staff-token-0123456789abcdef0123",
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('db') / 'haven.db'}",
        "HAVEN_TRACKER_DB": str(tmp_path_factory.mktemp("tracker") / "rasa-tracker.db"),
        "HAVEN_REFERENCE_SECRET_FILE": str(tmp_path_factory.mktemp("secrets") / "reference-secret"),
        # The suite is hundreds of visitors from one address; the limit has its own tests.
        "HAVEN_RATE_LIMIT_PER_MINUTE": "0",
    }
    settings = settings_module.load(env)
    log = tmp_path_factory.mktemp("live") / "launcher.log"
    # After the block, Ctrl-C: every server must be gone and every port free afterwards.
    with launched(env, log) as process:
        _wait_for_banner(process, log, timeout=300)
        yield LiveHaven(process, settings, log)
    code = process.returncode
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "launcher.log").write_bytes(log.read_bytes())
    assert code == 0, f"launcher exited with {code}"
    # Privacy: what visitors typed in the end-to-end tests never reaches the INFO logs.
    logged = log.read_text(errors="replace").lower()
    for typed in (
        "why do i still feel attached",
        "robin@example.org",
        "better off without me",
        "kill myself",
    ):
        assert typed not in logged, f"visitor text in the server logs: {typed!r}"
    for port in (settings.rasa_port, settings.action_port, settings.site_port):
        assert processes.port_is_free("127.0.0.1", port), f"port {port} still held after Ctrl-C"


@pytest.fixture
def db_url(tmp_path: Path, migrated_sqlite: Path) -> Iterator[str]:
    """A migrated SQLite database in the test's own folder (var/haven.db, as on a clone), disposed after:
    a copy of one database migrated once per test run (running the migrations costs 50 ms a test)."""
    from haven.db import session

    folder = tmp_path / "var"
    folder.mkdir(mode=0o700)
    shutil.copyfile(migrated_sqlite, folder / "haven.db")
    (folder / "haven.db").chmod(0o600)
    url = f"sqlite:///{folder / 'haven.db'}"
    yield url
    session.dispose_engine(url)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with every migration applied, closed (no WAL file beside it), to copy."""
    from haven.db import migrate, session

    path = tmp_path_factory.mktemp("migrated") / "haven.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    session.dispose_engine(url)
    assert not path.with_name("haven.db-wal").exists() or not path.with_name("haven.db-wal").stat().st_size
    return path


@pytest.fixture
def staff_password(db_url: str) -> str:
    """The therapist's password (tests/staff_signin.PASSWORD) set in the test's database (`db_url`)."""
    from tests import staff_signin

    staff_signin.set_password(db_url)
    return staff_signin.PASSWORD


@pytest.fixture(scope="module")
def redis_server() -> Iterator[ThrowawayRedis]:
    """A private Redis (tests/throwaway.py) for a module: the lock store and scale-out tests."""
    with running(ThrowawayRedis, "a Redis server", "HAVEN_REQUIRE_REDIS") as (server, _):
        yield server
