"""`make run`: starts Haven's servers (haven/ops/processes.py), prints where they answer, supervises
them until Ctrl-C and stops them all cleanly. HAVEN_SERVICES starts only some of the servers (one
machine of a scale-out deployment, deploy/README.md).

`main()` supervises (issue 11): a server that exits is restarted with backoff (haven/ops/supervisor.py)
while the others keep serving, and given up on after too many crashes in a short window; every
restart is logged (names, exit codes and times, never visitor text). It also runs the retention purge
(haven/ops/retention.py) as a child process every HAVEN_PURGE_INTERVAL_HOURS, and warns at start about
data files other users could read (haven/ops/file_modes.py). Every server creates its files owner-only.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Optional

from haven import settings as settings_module
from haven.ops import file_modes
from haven.ops.processes import Stack, StackError, die_with_parent, runtime_env, signal_group
from haven.settings import ROOT, Settings


def say(message: str) -> None:
    """A supervision line on the launcher's stderr, with the time (never visitor text)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", file=sys.stderr, flush=True)


class PeriodicPurge:
    """`python -m haven.ops.retention` as a child process at start and every `interval_h` hours, on the
    launcher that starts the website (one per deployment); its counts go to the launcher's output."""

    def __init__(self, settings: Settings, python: str = sys.executable):
        self.interval_s = settings.purge_interval_hours * 3600
        self.enabled = self.interval_s > 0 and "website" in settings.services
        self.argv = [python, "-m", "haven.ops.retention"]
        self.env = runtime_env(settings)
        self.process: Optional[subprocess.Popen] = None
        self.next_at = 0.0

    def tick(self, now: float) -> None:
        if not self.enabled:
            return
        if self.process is not None and self.process.poll() is not None:
            if self.process.returncode:
                say(f"The retention purge failed (exit code {self.process.returncode}); see above.")
            self.process = None
        if self.process is None and now >= self.next_at:
            self.next_at = now + self.interval_s
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, preexec_fn=die_with_parent)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                signal_group(self.process, signal.SIGKILL)
                self.process.wait()


def main() -> int:
    file_modes.owner_only()  # var/, the databases and every server's files: 0600 / 0700
    try:
        settings = settings_module.load()
    except ValueError as error:  # a bad setting: one line that names it, no traceback
        print(f"Haven could not start: {error}", file=sys.stderr)
        return 2
    for warning in file_modes.warnings(settings):
        print(warning, file=sys.stderr, flush=True)
    stack = Stack(settings)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    everything = len(stack.services) == len(settings_module.SERVICES)
    if everything:
        print("Starting the action server, the Rasa server and the website server…", flush=True)
    else:
        print(f"Starting: {', '.join(service.name for service in stack.services)}…", flush=True)
    try:
        stack.start()
    except StackError as error:
        print(f"Haven could not start: {error}", file=sys.stderr)
        return 1
    lines = {
        "website": [
            f"  website and chat widget  http://localhost:{settings.site_port}/",
            f"  staff inbox              http://localhost:{settings.site_port}/staff",
        ],
        "rasa": [f"  Rasa server (REST)       http://localhost:{settings.rasa_port}/webhooks/rest/webhook"],
        "actions": [f"  action server            http://localhost:{settings.action_port}/health"],
    }
    shown = [
        line for name in ("website", "rasa", "actions") if name in settings.services for line in lines[name]
    ]
    which = "all three" if everything else "it" if len(stack.services) == 1 else "them"
    print("\nHaven is running:\n" + "\n".join(shown) + f"\nPress Ctrl-C to stop {which}.\n", flush=True)
    code = 0
    purge = PeriodicPurge(settings)
    while not stopping:
        if not stack.supervise(say):
            say("Every server has been given up on; stopping.")
            code = 1
            break
        purge.tick(time.monotonic())
        time.sleep(0.5)
    print("Stopping Haven…", flush=True)
    purge.stop()
    stack.stop()
    print("All servers stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
