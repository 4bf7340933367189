"""The launcher as people run it (`python -m haven.ops.launcher`), with its servers crashing (issue 11), plus
what it must never expose (issue 12.2, 12.3) and the files it leaves (issue 11.4).

One launcher for the module, on free ports, with its databases in a private var/ folder:
- kill -9 of the action server: a crisis message still gets the crisis reply at once, and the
  supervisor has the action server back and answering within 30 s;
- kill -9 of the Rasa server: the website keeps answering, Rasa comes back, and a booking started
  before the crash is finished after it (the SQLite tracker store kept the conversation);
- no token or password in any process's command line; the action server refuses requests
  without its secret (401, nothing stored); every file under var/ is owner-only;
- the periodic purge ran at start; Ctrl-C stops everything and frees every port.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from haven import settings as settings_module
from haven.ops import processes
from haven.settings import ROOT
from tests.conftest import launched
from tests.test_conversations import Visitor, customs, texts
from tests.test_faults_e2e import booking_in, booking_up_to_the_summary

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SECRETS = {
    "RASA_AUTH_TOKEN": "supervision-rasa-api-token-0123456789",
    "HAVEN_STAFF_TOKEN": "supervision-staff-token-0123456789",
    "HAVEN_SMTP_PASSWORD": "supervision-smtp-password-0123456789",
}
CRISIS = "I want to kill myself tonight"


class Supervised:
    def __init__(self, process: subprocess.Popen, settings: settings_module.Settings, log: Path, var: Path):
        self.process, self.settings, self.log, self.var = process, settings, log, var
        self.rasa = f"http://127.0.0.1:{settings.rasa_port}"
        self.site = f"http://127.0.0.1:{settings.site_port}"
        self.actions = f"http://127.0.0.1:{settings.action_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> Dict[str, int]:
        """The launcher's servers by name: pid (the current ones, after any restart)."""
        marks = {
            "action server": "haven.plugins.action_server",
            "rasa server": "haven.plugins.rasa_server",
            "website": "website",
        }
        found = {}
        for pid in descendants(self.process.pid):
            if _ppid(pid) != self.process.pid:
                continue
            argv = _cmdline(pid)
            for name, mark in marks.items():
                if mark in argv and "haven.ops.retention" not in argv:
                    found[name] = pid
        return found

    def staff_bookings(self) -> List[str]:
        request = urllib.request.Request(
            f"{self.site}/staff/api/bookings",
            headers={"Authorization": f"Bearer {SECRETS['HAVEN_STAFF_TOKEN']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return [item["reference"] for item in json.loads(response.read())["items"]]


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid: int) -> List[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def descendants(root: int) -> List[int]:
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    parent = {pid: _ppid(pid) for pid in pids}
    found, frontier = [], {root}
    while frontier:
        children = [pid for pid, ppid in parent.items() if ppid in frontier]
        found.extend(children)
        frontier = set(children)
    return found


def answers(url: str) -> bool:
    return processes.answers(url)


def wait_for(check, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"{what} within {timeout:.0f} s"
        time.sleep(0.25)
    return time.monotonic() - began


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    model = ROOT / "models" / processes.MODEL_FILE
    if not model.is_file():
        pytest.fail(f"no trained model at {model}: run the suite through `make test`, which trains it")
    tmp = tmp_path_factory.mktemp("supervised")
    var = tmp / "var"  # created by the servers themselves, as var/ is on a fresh clone
    env = {
        **os.environ,
        **SECRETS,
        "RASA_PORT": str(processes.free_port()),
        "ACTION_PORT": str(processes.free_port()),
        "SITE_PORT": str(processes.free_port()),
        "DATABASE_URL": f"sqlite:///{var / 'haven.db'}",
        "HAVEN_TRACKER_DB": str(var / "rasa-tracker.db"),
        "HAVEN_RATE_LIMIT_PER_MINUTE": "0",
    }
    env.pop("HAVEN_ACTION_TOKEN", None)  # the launcher makes one for this launch
    settings = settings_module.load(env)
    log = tmp / "launcher.log"
    with launched(env, log) as process:
        live = Supervised(process, settings, log, var)
        wait_for(lambda: "Haven is running" in live.output() or process.poll() is not None, 300, "start")
        assert process.poll() is None, live.output()[-3000:]
        yield live
    code = process.returncode
    output = log.read_text(errors="replace")
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "supervision-launcher.log").write_text(output)
    assert code == 0, f"launcher exited with {code}:\n{output[-3000:]}"
    assert "All servers stopped." in output
    for port in (settings.rasa_port, settings.action_port, settings.site_port):
        assert processes.port_is_free("127.0.0.1", port), f"port {port} still held after Ctrl-C"
    for typed in (CRISIS.lower(), "sage@example.org", "why do i still feel attached"):
        assert typed not in output.lower(), f"visitor text in the launcher's output: {typed!r}"


# ----------------------------------------------------------------------------- secrets (issue 12)
def test_no_token_or_password_is_in_any_process_command_line(supervised) -> None:
    children = supervised.children()
    assert set(children) == {"action server", "rasa server", "website"}, children
    with open(f"/proc/{children['action server']}/environ", "rb") as f:
        environ = dict(line.split(b"=", 1) for line in f.read().split(b"\0") if b"=" in line)
    action_token = environ[b"HAVEN_ACTION_TOKEN"].decode()
    assert len(action_token) >= 40, "a random secret per launch"
    secrets = [*SECRETS.values(), action_token]
    processes = [supervised.process.pid, *descendants(supervised.process.pid)]
    assert len(processes) >= 4
    for pid in processes:
        argv = " ".join(_cmdline(pid))
        for secret in secrets:
            assert secret not in argv, f"a secret is on the command line of {pid}: {argv[:80]}…"
        assert "--auth-token" not in argv and "password" not in argv.lower()
    # …and yet the Rasa API is on, behind its token (the website's "forget" needs it).
    api = f"{supervised.rasa}/conversations/nobody/tracker"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(api, timeout=30)
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{api}?token={SECRETS['RASA_AUTH_TOKEN']}", timeout=30) as response:
        assert response.status == 200


def made_up_booking_request(sender: str) -> bytes:
    slots = {
        "booking_consent": True, "booking_confirm": True, "booking_name": "Mallory",
        "booking_contact_method": "email", "booking_contact": "mallory@example.org",
        "booking_time_preference": "mornings", "booking_slot": None, "visitor_timezone": "UTC",
    }  # fmt: skip
    tracker = {
        "sender_id": sender, "slots": slots, "latest_message": {"text": "", "intent": {}, "entities": []},
        "events": [], "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None,
    }  # fmt: skip
    body = {
        "next_action": "action_submit_booking_form",
        "sender_id": sender,
        "tracker": tracker,
        "domain": {},
    }
    return json.dumps(body).encode()


def test_the_action_server_refuses_requests_without_the_secret_and_stores_nothing(supervised) -> None:
    before = supervised.staff_bookings()
    for headers in (
        {"Content-Type": "application/json"},
        {"Content-Type": "text/plain"},  # no CORS preflight from a browser
        {"Content-Type": "application/json", "Authorization": "Bearer guessed"},
    ):
        request = urllib.request.Request(
            f"{supervised.actions}/webhook", data=made_up_booking_request("mallory"), headers=headers
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401, headers
    assert supervised.staff_bookings() == before, "nothing was stored"
    # The same request with the secret is what Rasa sends, and would be served: the 401 was the secret.
    children = supervised.children()
    with open(f"/proc/{children['action server']}/environ", "rb") as f:
        token = dict(x.split(b"=", 1) for x in f.read().split(b"\0") if b"=" in x)[b"HAVEN_ACTION_TOKEN"]
    request = urllib.request.Request(
        f"{supervised.actions}/webhook",
        data=made_up_booking_request("with-secret"),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token.decode()}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert len(supervised.staff_bookings()) == len(before) + 1


# ------------------------------------------------------------------------------ files (issue 11.4)
def test_every_file_under_var_is_owner_only_after_a_conversation_and_a_booking(supervised) -> None:
    visitor = Visitor(supervised)
    assert customs(visitor.say("why do I still feel attached to him?"))
    booking_up_to_the_summary(visitor, "Sage")
    assert booking_in(visitor.say("/affirm"))
    paths = [supervised.var, *supervised.var.rglob("*")]
    assert any(p.name == "haven.db" for p in paths) and any(p.name == "rasa-tracker.db" for p in paths)
    loose = {
        str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}, "files or folders others can read"
    assert stat.S_IMODE(supervised.var.stat().st_mode) == 0o700


def test_the_start_is_quiet(supervised) -> None:
    """Issue 14.7: no third-party deprecation warnings, no per-action or per-plug-in INFO lines."""
    output = supervised.output()
    for noise in ("DeprecationWarning", "Registered function for", "setup plugin"):
        assert noise not in output, f"{noise!r} in the launcher's output"
    assert "Haven is running" in output


def test_the_purge_ran_at_start(supervised) -> None:
    wait_for(lambda: "Purge: done" in supervised.output(), 120, "the first purge")
    assert "Purge: Deleted 0 conversation(s)" in supervised.output()


# ------------------------------------------------------------------------- supervision (issue 11.1)
def test_kill_9_of_the_action_server_crisis_help_at_once_and_it_is_back_within_30_s(supervised) -> None:
    old = supervised.children()["action server"]
    visitor = Visitor(supervised)
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    crisis = visitor.say(CRISIS)
    took = time.monotonic() - killed
    assert {"safety": "crisis", "category": "suicide"} in customs(crisis), texts(crisis)
    assert "988" in texts(crisis)
    assert took < 10, f"the crisis reply took {took:.1f} s"
    wait_for(
        lambda: answers(f"{supervised.actions}/health"),
        30 - (time.monotonic() - killed),
        "action server back",
    )
    back = time.monotonic() - killed
    print(f"\ncrisis reply {took:.2f} s after kill -9 of the action server; back after {back:.1f} s")
    assert supervised.children()["action server"] != old
    topic = Visitor(supervised).say("/why_still_attached")
    assert {"topic": "why_still_attached", "section": ""} in customs(topic), "actions work again"
    assert "The action server was killed by signal 9; restarting it in" in supervised.output()


def test_kill_9_of_rasa_the_website_stays_up_and_the_conversation_continues(supervised) -> None:
    visitor = Visitor(supervised)
    booking_up_to_the_summary(visitor, "Rowan")
    before = set(supervised.staff_bookings())
    os.kill(supervised.children()["rasa server"], signal.SIGKILL)
    killed = time.monotonic()
    checked = 0
    while not answers(f"{supervised.rasa}/"):
        assert answers(f"{supervised.site}/health"), "the website stopped while Rasa was down"
        checked += 1
        assert time.monotonic() - killed < 300, "Rasa did not come back within 300 s"
        time.sleep(1)
    back = time.monotonic() - killed
    print(f"\nRasa answered again {back:.1f} s after kill -9; website answered {checked} checks meanwhile")
    assert checked >= 1
    booking = booking_in(visitor.say("/affirm"))  # the summary's "send it": the form went on where it was
    assert booking, "the conversation did not continue at the summary"
    assert set(supervised.staff_bookings()) == before | {booking["reference"]}
    assert "The rasa server was killed by signal 9; restarting it in" in supervised.output()
    # The launcher polls health on its own beat: its "answering again" line may follow our first answer.
    wait_for(
        lambda: "The rasa server is answering again" in supervised.output(),
        30,
        "the launcher notices Rasa is back",
    )
