"""Faults through the real servers: the action server stopped and started again, the Rasa server
killed mid-conversation, the SQLite database locked by another writer (briefly, and for longer than
the retries), and PostgreSQL down and back. The visitor always gets an answer, crisis help never
depends on the action server, and no booking is lost: it is saved once the database is back, or
the visitor is told plainly to try again with every answer kept."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from haven import settings as settings_module
from haven.ops import processes
from haven.settings import ROOT
from tests.test_conversations import Visitor, buttons, customs, texts

pytestmark = [pytest.mark.e2e, pytest.mark.model]
STAFF_TOKEN = "faults-staff-token-0123456789abcdef0123"
KIND = "part of me isn't working right now"
TRY_AGAIN = "couldn't save your request just now"


class FaultStack:
    """The three servers through processes.Stack, with one of them stoppable and restartable."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        env = {
            "RASA_PORT": str(processes.free_port()), "ACTION_PORT": str(processes.free_port()),
            "SITE_PORT": str(processes.free_port()), "HAVEN_STAFF_TOKEN": STAFF_TOKEN,
            "RASA_AUTH_TOKEN": "faults-api-token", "DATABASE_URL": database_url,
            "HAVEN_TRACKER_DB": str(tmp / "rasa-tracker.db"),
        }  # fmt: skip
        self.settings = settings_module.load(env)
        self.log_dir = tmp / "logs"
        self.stack = processes.Stack(self.settings, log_dir=self.log_dir, env={**os.environ, **env})
        self.rasa = f"http://127.0.0.1:{self.settings.rasa_port}"
        self.site = f"http://127.0.0.1:{self.settings.site_port}"
        self.restarts = 0

    def service(self, name: str) -> processes.Service:
        return next(s for s in self.stack.services if s.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash or the OOM killer would: no chance to clean up."""
        process = self.service(name).process
        assert process is not None and process.poll() is None, f"the {name} is not running"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def start(self, name: str, timeout: float = 240) -> None:
        """Starts one stopped server again, exactly as the launcher started it."""
        service = self.service(name)
        self.restarts += 1
        log = open(self.log_dir / f"{name.replace(' ', '-')}-restart-{self.restarts}.log", "wb")
        self.stack._logs.append(log)  # closed by Stack.stop()
        env = {**processes.runtime_env(self.settings, self.stack.env), **service.env}
        service.process = subprocess.Popen(
            service.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=processes.die_with_parent,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not processes.answers(service.health_url):
            assert service.process.poll() is None, f"the {name} exited while restarting"
            assert time.monotonic() < deadline, f"the {name} did not come back"
            time.sleep(0.5)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def staff(self, path: str) -> tuple:
        request = urllib.request.Request(
            f"{self.site}{path}", headers={"Authorization": f"Bearer {STAFF_TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def booking_references(self) -> List[str]:
        status, body = self.staff("/staff/api/bookings")
        assert status == 200, body
        return [item["reference"] for item in body["items"]]


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory) -> Iterator[FaultStack]:
    tmp = tmp_path_factory.mktemp("faults")
    stack = FaultStack(tmp, f"sqlite:///{tmp / 'haven.db'}")
    stack.stack.start()
    try:
        yield stack
    finally:
        stack.stack.stop()


def booking_up_to_the_summary(visitor: Visitor, name: str) -> List[Dict[str, Any]]:
    """Name, contact, first offered time, consent: the next answer (/affirm) sends the booking."""
    visitor.say("/book_consultation")
    visitor.say(name)
    offer = visitor.say(f"{name.lower()}@example.org")
    slots = [b for b in buttons(offer) if "time_choice" in b["payload"] and '"none"' not in b["payload"]]
    assert slots, texts(offer)
    visitor.say(slots[0]["payload"])
    summary = visitor.say("/affirm")  # consent
    assert any(b["payload"] == "/affirm" for b in buttons(summary)), texts(summary)
    return summary


def booking_in(replies) -> Optional[Dict[str, Any]]:
    found = [c["booking"] for c in customs(replies) if "booking" in c]
    return found[0] if found else None


# --------------------------------------------------------------------------- the action server


def test_with_the_action_server_down_every_message_still_gets_a_kind_answer(sqlite_stack) -> None:
    visitor = Visitor(sqlite_stack)
    assert {"topic": "why_still_attached", "section": ""} in customs(
        visitor.say("why do I still feel attached?")
    )
    sqlite_stack.kill("action server")
    try:
        topic = visitor.say("what is a trauma bond?")
        assert KIND in texts(topic) and not customs(topic), "a kind message, not silence"
        started = visitor.say("/book_consultation")
        assert KIND in texts(started), "a half answer (no first question) is followed by the kind message"
        crisis = Visitor(sqlite_stack).say("I want to kill myself")
        assert {"safety": "crisis", "category": "suicide"} in customs(crisis)
        assert "988" in texts(crisis) and KIND not in texts(crisis), "crisis help stands alone"
        assert "not a therapist" in texts(visitor.say("hi")), "domain replies need no action server"
    finally:
        sqlite_stack.start("action server")
    assert {"topic": "what_is_trauma_bond", "section": "What Is a Trauma Bond?"} in customs(
        visitor.say("/what_is_trauma_bond")
    ), "answers come back with the action server"


def test_a_booking_survives_the_action_server_crashing_in_the_middle(sqlite_stack) -> None:
    visitor = Visitor(sqlite_stack)
    visitor.say("/book_consultation")
    visitor.say("Morgan")
    sqlite_stack.kill("action server")
    try:
        down = visitor.say("morgan@example.org")
        assert KIND in texts(down)
    finally:
        sqlite_stack.start("action server")
    # The Rasa server kept the conversation: the form goes on from the contact question.
    offer = visitor.say("morgan@example.org")
    slots = [b for b in buttons(offer) if "time_choice" in b["payload"] and '"none"' not in b["payload"]]
    assert slots, texts(offer)
    visitor.say(slots[0]["payload"])
    visitor.say("/affirm")
    booking = booking_in(visitor.say("/affirm"))
    assert booking and booking["reference"] in sqlite_stack.booking_references()


# --------------------------------------------------------------------------- the Rasa server


def test_killing_the_rasa_server_mid_booking_loses_neither_the_conversation_nor_the_booking(
    sqlite_stack,
) -> None:
    before = set(sqlite_stack.booking_references())
    visitor = Visitor(sqlite_stack)
    booking_up_to_the_summary(visitor, "Rowan")
    sqlite_stack.kill("rasa server")
    with pytest.raises(urllib.error.URLError):
        visitor.say("/affirm")  # the server is gone: the client sees a connection error, not a lie
    assert set(sqlite_stack.booking_references()) == before, "no half-made booking was stored"
    sqlite_stack.start("rasa server")
    # The conversation is in the SQLite tracker store: the restarted server carries on at the summary.
    booking = booking_in(visitor.say("/affirm"))
    assert booking and booking["reference"] in sqlite_stack.booking_references()
    assert set(sqlite_stack.booking_references()) == before | {booking["reference"]}


# --------------------------------------------------------------------------- the database


def hold_sqlite_lock(stack: FaultStack) -> sqlite3.Connection:
    """Another writer holding the database: BEGIN EXCLUSIVE on its own connection."""
    path = stack.settings.database_url[len("sqlite:///") :]
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    locker.execute("BEGIN EXCLUSIVE")
    return locker


def test_a_booking_waits_out_a_briefly_locked_database(sqlite_stack) -> None:
    visitor = Visitor(sqlite_stack)
    booking_up_to_the_summary(visitor, "Sasha")
    locker = hold_sqlite_lock(sqlite_stack)
    release = threading.Timer(3.0, locker.rollback)
    release.start()
    try:
        started = time.monotonic()
        done = visitor.say("/affirm")
        waited = time.monotonic() - started
    finally:
        release.join()
        locker.close()
    print(f"\nbooking saved after waiting {waited:.1f}s for a 3 s lock")
    booking = booking_in(done)
    assert booking, texts(done)
    assert waited >= 2.5, "it did wait for the lock"
    assert booking["reference"] in sqlite_stack.booking_references()


def test_a_database_locked_past_the_retries_asks_to_try_again_and_keeps_every_answer(sqlite_stack) -> None:
    visitor = Visitor(sqlite_stack)
    booking_up_to_the_summary(visitor, "Tamsin")
    locker = hold_sqlite_lock(sqlite_stack)
    try:
        started = time.monotonic()
        refused = visitor.say("/affirm")
        waited = time.monotonic() - started
    finally:
        locker.rollback()
        locker.close()
    print(f"\n'please try again' after {waited:.1f}s of a held lock")
    assert TRY_AGAIN in texts(refused) and booking_in(refused) is None
    assert any(b["payload"] == "/affirm" for b in buttons(refused)), "asked to confirm again"
    assert "Tamsin" in texts(refused), "every answer kept"
    assert waited < 30, "no hang"
    booking = booking_in(visitor.say("/affirm"))
    assert booking and booking["reference"] in sqlite_stack.booking_references()


def test_the_servers_logged_no_visitor_details(sqlite_stack) -> None:
    logged = sqlite_stack.logs()
    for typed in ("morgan@example.org", "rowan@example.org", "I want to kill myself", "why do I still feel"):
        assert typed not in logged, typed


# --------------------------------------------------------------------------- PostgreSQL down


@pytest.fixture(scope="module")
def postgres_stack(tmp_path_factory) -> Iterator[tuple]:
    from haven_devtools.throwaway import ThrowawayPostgres
    from tests.throwaway import running

    with running(ThrowawayPostgres, "a PostgreSQL server", "HAVEN_REQUIRE_POSTGRES") as (server, url):
        stack = FaultStack(tmp_path_factory.mktemp("faults-pg"), url)
        try:
            stack.stack.start()
            yield stack, server
        finally:
            stack.stack.stop()


def _pg_ctl(server, *args: str) -> None:
    result = server._run("pg_ctl", "-D", str(server.data), *args)
    assert result.returncode == 0, result.stderr


def test_postgresql_down_gives_try_again_then_the_booking_is_saved(postgres_stack) -> None:
    stack, server = postgres_stack
    visitor = Visitor(stack)
    booking_up_to_the_summary(visitor, "Quinn")
    options = (
        f"-p {server.port} -k {server.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c max_connections=120"
    )
    _pg_ctl(server, "-m", "immediate", "-w", "stop")
    try:
        started = time.monotonic()
        refused = visitor.say("/affirm")
        waited = time.monotonic() - started
        assert TRY_AGAIN in texts(refused) and booking_in(refused) is None, texts(refused)
        assert waited < 45, "no hang"
        status, body = stack.staff("/staff/api/bookings")
        assert status == 503 and "try again" in body["error"], "the inbox says so calmly, no 500"
        crisis = Visitor(stack).say("I want to end my life")
        assert {"safety": "crisis", "category": "suicide"} in customs(crisis), "crisis help needs no database"
    finally:
        _pg_ctl(server, "-o", options, "-l", str(server.log), "-w", "-t", "60", "start")
    print(f"\n'please try again' after {waited:.1f}s with PostgreSQL down")
    again = visitor.say("/affirm")
    booking = booking_in(again)
    assert booking, f"the same answers, sent again once the database is back: {texts(again)}"
    assert booking["reference"] in stack.booking_references()
