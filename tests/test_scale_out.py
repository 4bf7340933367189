"""Scale-out on Rasa's own supported path (deploy/): one conversation across two Rasa servers.

A real Redis (the lock store, haven.plugins.lock_store.AtomicRedisLockStore) and a real PostgreSQL (Rasa's
SQL tracker store, and the application database) are started for this module, then one action
server and two Rasa servers, each by the launcher with HAVEN_SERVICES and
HAVEN_RASA_ENDPOINTS=deploy/endpoints.scale-out.yml, on free ports. Server A runs two Sanic workers
(SANIC_WORKERS=2). The messages of one conversation alternate between A and B, as they may behind a
load balancer: a booking started on A is finished on B and lands in the application database, and
the tracker in PostgreSQL holds every event. Messages sent to both at the same moment are all kept.

Redis and PostgreSQL come from the Debian packages (scripts/bootstrap.sh --system-test-deps). When
one cannot start the tests are skipped with the reason, or fail when HAVEN_REQUIRE_REDIS=1 /
HAVEN_REQUIRE_POSTGRES=1 (CI). HAVEN_TEST_POSTGRES_URL uses an existing PostgreSQL instead.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from haven import settings as settings_module
from haven.db import repository, session
from haven.ops import processes
from haven.settings import ROOT
from haven_devtools import rest_client
from haven_devtools.throwaway import ThrowawayPostgres, ThrowawayRedis
from tests.throwaway import running

pytestmark = [pytest.mark.e2e, pytest.mark.model]

ENDPOINTS = ROOT / "deploy" / "endpoints.scale-out.yml"
ARTIFACTS = ROOT / "test-artifacts" / "scale-out"
START_TIMEOUT = 420  # three servers load at once on a small machine; each Rasa worker loads the model
TYPED_EMAIL = "robin.scale@example.org"


@pytest.fixture(scope="module")
def postgres_admin() -> Iterator[str]:
    """A PostgreSQL URL whose user may create databases."""
    given = os.environ.get("HAVEN_TEST_POSTGRES_URL", "").strip()
    if given:
        yield given
        return
    with running(ThrowawayPostgres, "a PostgreSQL server", "HAVEN_REQUIRE_POSTGRES") as (_, url):
        yield url


@dataclass
class Databases:
    app_url: str  # the application database (DATABASE_URL)
    tracker_url: str  # Rasa's tracker store
    tracker_env: Dict[str, str]


@pytest.fixture(scope="module")
def databases(postgres_admin: str) -> Iterator[Databases]:
    """Two fresh databases on the server: the application's and Rasa's tracker store."""
    admin_url = make_url(postgres_admin)
    suffix = uuid.uuid4().hex[:10]
    names = {"app": f"haven_scale_app_{suffix}", "tracker": f"haven_scale_tracker_{suffix}"}
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    urls = {
        key: admin_url.set(database=name).render_as_string(hide_password=False) for key, name in names.items()
    }
    try:
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield Databases(
            app_url=urls["app"],
            tracker_url=urls["tracker"],
            tracker_env={
                "HAVEN_TRACKER_DB_HOST": admin_url.host or "127.0.0.1",
                "HAVEN_TRACKER_DB_PORT": str(admin_url.port or 5432),
                "HAVEN_TRACKER_DB_NAME": names["tracker"],
                "HAVEN_TRACKER_DB_USER": admin_url.username or "",
                "HAVEN_TRACKER_DB_PASSWORD": admin_url.password or "",
                "HAVEN_TRACKER_DB_LOGIN_DB": "",  # the database exists already
            },
        )
    finally:
        session.dispose_engine(urls["app"])
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class ScaleOut:
    rasa_a: str
    rasa_b: str
    stacks: Dict[str, processes.Stack]
    databases: Databases
    redis: ThrowawayRedis
    token = ""

    def forget(self, rasa: str, sender: str) -> int:
        """What the website does for "Clear conversation": replace the events with none."""
        request = urllib.request.Request(
            f"{rasa}/conversations/{sender}/tracker/events?token={self.token}",
            data=b"[]",
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status

    def say(self, rasa: str, sender: str, message: str) -> List[Dict[str, Any]]:
        return rest_client.say(rasa, message, sender, timeout=90)

    def tracker_events(self, sender: str) -> List[Dict[str, Any]]:
        engine = create_engine(self.databases.tracker_url, future=True)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": sender}
                )
                return [json.loads(row.data) for row in rows]
        finally:
            engine.dispose()


def _logs(stacks: Dict[str, processes.Stack]) -> str:
    parts = []
    for name, stack in stacks.items():
        for log in sorted(stack.log_dir.glob("*.log")) if stack.log_dir else []:
            parts.append(f"--- {name}/{log.name}\n{log.read_text(errors='replace')[-2500:]}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def scale_out(
    redis_server: ThrowawayRedis, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScaleOut]:
    model = ROOT / "models" / processes.MODEL_FILE
    if not model.is_file():
        pytest.fail(f"no trained model at {model}: run `make train` first")
    logs = tmp_path_factory.mktemp("scale-out")
    action_port = processes.free_port()
    common = {
        **os.environ,
        **databases.tracker_env,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": databases.app_url,
        "HAVEN_RASA_ENDPOINTS": str(ENDPOINTS.relative_to(ROOT)),  # relative to the project, as documented
        "HAVEN_ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}/webhook",
        "HAVEN_REDIS_HOST": "127.0.0.1",
        "HAVEN_REDIS_PORT": str(redis_server.port),
        "HAVEN_REDIS_PASSWORD": redis_server.password,
        "HAVEN_REDIS_DB": "1",
        "RASA_AUTH_TOKEN": uuid.uuid4().hex,
        "HAVEN_ACTION_TOKEN": uuid.uuid4().hex,  # the same on every machine (deploy/README.md)
        "HAVEN_HOST": "127.0.0.1",
    }
    environments = {
        "actions": {**common, "HAVEN_SERVICES": "actions", "ACTION_PORT": str(action_port)},
        "rasa-a": {
            **common,
            "HAVEN_SERVICES": "rasa",
            "RASA_PORT": str(processes.free_port()),
            "SANIC_WORKERS": "2",
        },
        "rasa-b": {
            **common,
            "HAVEN_SERVICES": "rasa",
            "RASA_PORT": str(processes.free_port()),
            "SANIC_WORKERS": "1",
        },
    }
    stacks = {
        name: processes.Stack(settings_module.load(env), log_dir=logs / name, env=env)
        for name, env in environments.items()
    }
    try:
        # Spawned here, in the main thread (servers die with the thread that started them); they load
        # in parallel while we wait for each in turn.
        for stack in stacks.values():
            stack.spawn()
        for name, stack in stacks.items():
            try:
                stack.wait_until_ready(timeout=START_TIMEOUT)
            except processes.StackError as error:
                pytest.fail(f"{name} did not start: {error}\n{_logs(stacks)}")
        rasa = {name: f"http://127.0.0.1:{stack.settings.rasa_port}" for name, stack in stacks.items()}
        ScaleOut.token = common["RASA_AUTH_TOKEN"]
        yield ScaleOut(rasa["rasa-a"], rasa["rasa-b"], stacks, databases, redis_server)
    finally:
        with ThreadPoolExecutor(max_workers=len(stacks)) as pool:  # each takes seconds: stop them together
            list(pool.map(processes.Stack.stop, stacks.values()))
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        shutil.copytree(logs, ARTIFACTS)  # for CI: the servers' logs (test-artifacts/ is not committed)
    for name, stack in stacks.items():
        for service in stack.services:
            assert service.process is not None and service.process.poll() is not None, f"{name} still runs"
        port = stack.settings.rasa_port if name.startswith("rasa") else stack.settings.action_port
        assert processes.port_is_free("127.0.0.1", port), f"{name}: port {port} still held after stop"


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def customs(replies: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [r["custom"] for r in replies if "custom" in r]


def _response(domain: Dict[str, Any], name: str) -> str:
    return domain["responses"][name][0]["text"]


def _children(pid: int) -> List[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry))
    return children


def test_server_a_runs_two_sanic_workers(scale_out: ScaleOut) -> None:
    [rasa] = scale_out.stacks["rasa-a"].services
    assert rasa.env["SANIC_WORKERS"] == "2"
    assert len(_children(rasa.process.pid)) == 2, "SANIC_WORKERS=2: two worker processes under server A"
    [single] = scale_out.stacks["rasa-b"].services
    assert _children(single.process.pid) == [], "server B serves in its own process"


def test_a_booking_started_on_one_server_is_finished_on_the_other(
    scale_out: ScaleOut, domain: Dict[str, Any]
) -> None:
    a, b, sender = scale_out.rasa_a, scale_out.rasa_b, uuid.uuid4().hex

    start = scale_out.say(a, sender, "I want to book the free consultation")
    assert {"topic": "book_consultation", "section": ""} in customs(start), texts(start)
    assert _response(domain, "utter_ask_booking_name") in texts(start)

    asked_contact = scale_out.say(b, sender, "Robin")
    assert _response(domain, "utter_ask_booking_contact") in texts(asked_contact), "B continues A's form"

    offer = scale_out.say(a, sender, TYPED_EMAIL)
    slots = [
        button["payload"]
        for reply in offer
        for button in reply.get("buttons", [])
        if "time_choice" in button["payload"] and '"none"' not in button["payload"]
    ]
    assert slots, texts(offer)

    consent = scale_out.say(b, sender, slots[0])
    assert _response(domain, "utter_ask_booking_consent") in texts(consent)
    scale_out.say(a, sender, "/affirm")  # consent
    done = scale_out.say(b, sender, "/affirm")  # confirm the summary

    [booking] = [c["booking"] for c in customs(done) if "booking" in c]
    assert booking["status"] == "requested" and booking["reference"].replace("-", "\u2011") in texts(done)

    # The booking is in the PostgreSQL application database, with everything asked on either server.
    stored = repository.get_booking(booking["reference"], url=scale_out.databases.app_url)
    assert stored is not None
    assert (stored.name, stored.contact, stored.conversation_id) == ("Robin", TYPED_EMAIL, sender)
    assert stored.consent is True and stored.slot_start is not None

    # Rasa's SQL tracker store in PostgreSQL holds the whole conversation, from both servers.
    events = scale_out.tracker_events(sender)
    said = [e.get("text") for e in events if e.get("event") == "user"]
    assert said == [
        "I want to book the free consultation",
        "Robin",
        TYPED_EMAIL,
        slots[0],
        "/affirm",
        "/affirm",
    ]
    slots_set = [(e["name"], e["value"]) for e in events if e.get("event") == "slot"]
    assert ("booking_name", "Robin") in slots_set and ("booking_contact", TYPED_EMAIL) in slots_set
    loops = [e.get("name") for e in events if e.get("event") == "active_loop"]
    assert "booking_form" in loops and loops[-1] is None, "the form ran and was closed"

    # The conversation locks were taken in Redis.
    stats = scale_out.redis.client().info("commandstats")
    assert stats.get("cmdstat_set", {}).get("calls", 0) >= 6, stats


def test_messages_sent_to_both_servers_at_once_are_all_kept(scale_out: ScaleOut) -> None:
    """The lock store orders one conversation's simultaneous messages across servers and workers.

    With Rasa 3.6's own RedisLockStore some of these messages are handled at the same time and their
    events lost from the tracker (haven/plugins/lock_store.py); with AtomicRedisLockStore none are.
    """
    messages = ["/greet", "/what_is_trauma_bond", "/how_to_heal", "/why_logic_fails"]
    servers = [scale_out.rasa_a, scale_out.rasa_b] * 2
    for _ in range(3):
        sender = uuid.uuid4().hex
        with ThreadPoolExecutor(max_workers=len(messages)) as pool:
            replies = list(pool.map(scale_out.say, servers, [sender] * len(messages), messages))
        assert all(replies), "every message got an answer"
        said = [e.get("text") for e in scale_out.tracker_events(sender) if e.get("event") == "user"]
        assert sorted(said) == sorted(messages), "each message is in the tracker exactly once"


def test_nothing_the_visitor_typed_is_in_the_server_logs(scale_out: ScaleOut) -> None:
    for stack in scale_out.stacks.values():
        for log in stack.log_dir.glob("*.log"):
            logged = log.read_text(errors="replace").lower()
            assert TYPED_EMAIL not in logged and "book the free consultation" not in logged, log.name


def test_a_cleared_conversation_is_deleted_from_the_shared_tracker_store(scale_out: ScaleOut) -> None:
    """Clear conversation / Quick exit on one server removes the conversation for every server."""
    sender = uuid.uuid4().hex
    scale_out.say(scale_out.rasa_a, sender, "why do I still miss him after everything he did")
    assert any(e.get("event") == "user" for e in scale_out.tracker_events(sender))
    assert scale_out.forget(scale_out.rasa_b, sender) == 200
    assert scale_out.tracker_events(sender) == [], "nothing of the conversation is left in PostgreSQL"
    # The conversation can start again afresh on either server.
    assert scale_out.say(scale_out.rasa_a, sender, "/greet")
