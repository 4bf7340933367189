"""Haven's processes, for the launcher, the end-to-end tests and the benchmarks: the environment every
server gets (`runtime_env`), the servers and their command lines (`services`), and `Stack`, the
servers as one unit that starts them on given ports, waits until each answers, supervises and stops
them, leaving nothing behind. Each server runs in its own process group and dies with its parent
(PR_SET_PDEATHSIG), so Ctrl-C, a crash or a killed launcher never leaves orphans holding the ports.

Secrets never appear on a command line (issue 12.3): the Rasa API token and the action server's
shared secret travel in the servers' environments (readable only by Haven's user), generated per
launch unless RASA_AUTH_TOKEN / HAVEN_ACTION_TOKEN are set.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional

from haven import yaml_files
from haven.ops import file_modes
from haven.ops.supervisor import RestartPolicy
from haven.plugins import quiet
from haven.settings import ROOT, Settings

MODEL_FILE = "haven.tar.gz"
STOP_GRACE_SECONDS = 15


def runtime_env(settings: Settings, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment every Haven process gets: no telemetry, quiet TensorFlow and no deprecation
    warnings, one BLAS thread. (Haven's code is importable through its editable install, `make install`.)"""
    env = dict(os.environ if base is None else base)
    tf_level = env.get("TF_CPP_MIN_LOG_LEVEL")  # an operator's own level wins over the quiet default
    env.update(settings.rasa_environment())
    env.update(
        TF_CPP_MIN_LOG_LEVEL=tf_level or env["TF_CPP_MIN_LOG_LEVEL"],
        # One BLAS thread: the classifiers' small matrix products gain nothing from a second one,
        # and OpenBLAS's idle threads spin between calls. Measured under make bench's mix on 2
        # cores: the Rasa server's CPU a message 35-44 ms -> 18-21 ms (docs/benchmarks.md).
        OPENBLAS_NUM_THREADS=env.get("OPENBLAS_NUM_THREADS", "1"),
        # A quiet start: no third-party deprecation warnings in the servers (haven/plugins/quiet.py).
        PYTHONWARNINGS=env.get("PYTHONWARNINGS", quiet.QUIET),
        RASA_PORT=str(settings.rasa_port),
        ACTION_PORT=str(settings.action_port),
        SITE_PORT=str(settings.site_port),
        HAVEN_HOST=settings.host,
    )
    return env


@dataclass
class Service:
    name: str
    argv: List[str]
    health_url: str
    env: Dict[str, str] = field(default_factory=dict, repr=False)
    process: Optional[subprocess.Popen] = None
    # Supervision (Stack.supervise): when to restart it, whether it is back, whether we gave up.
    restarts: RestartPolicy = field(default_factory=RestartPolicy, repr=False)
    restart_at: Optional[float] = None
    down_since: Optional[float] = None
    recovering: bool = False
    given_up: bool = False


def cors_origins(settings: Settings) -> List[str]:
    """The browser origins allowed to call the Rasa server: settings.allowed_origins (the site's own
    address unless HAVEN_CORS_ORIGINS lists others)."""
    return settings.allowed_origins


def services(settings: Settings, python: str = sys.executable) -> List[Service]:
    """The servers this launcher starts: all three by default, those named in HAVEN_SERVICES otherwise."""
    model = settings.model_dir / MODEL_FILE if settings.model_dir.is_dir() else settings.model_dir
    # haven.plugins.rasa_server is Rasa's own CLI with one speed fix (the action response schema compiled
    # once);
    # it also turns on the HTTP API behind HAVEN_RASA_API_TOKEN from its environment.
    rasa = [
        python, "-m", "haven.plugins.rasa_server", "run",
        "--model", str(model),
        "--interface", settings.host,
        "--port", str(settings.rasa_port),
        "--credentials", str(ROOT / "credentials.yml"),
        "--endpoints", str(settings.rasa_endpoints),
        "--cors", *cors_origins(settings),
    ]  # fmt: skip
    # The HTTP API (tracker access, model replacement) only ever exists behind a token: RASA_AUTH_TOKEN
    # when set, otherwise a random one for this launch. The website server gets it through its
    # environment (to forget conversations); it never reaches the browser, the logs or a command line.
    token = settings.rasa_auth_token or secrets.token_urlsafe(32)
    # The action server's shared secret (endpoints.yml sends it; haven/plugins/action_server.py checks it).
    action_token = settings.action_token or secrets.token_urlsafe(32)
    policy = dict(limit=settings.restart_limit, window_s=float(settings.restart_window_s))
    every = {
        "actions": Service(
            "action server",
            [python, "-m", "haven.plugins.action_server", "--actions", "actions"]
            + ["--port", str(settings.action_port)],
            f"http://{settings.host}:{settings.action_port}/health",
            {"SANIC_HOST": settings.host, "HAVEN_ACTION_TOKEN": action_token},
            restarts=RestartPolicy(**policy),
        ),
        "website": Service(
            "website",
            [python, "-m", "website"],
            f"http://{settings.host}:{settings.site_port}/health",
            {"HAVEN_RASA_API_TOKEN": token},
            restarts=RestartPolicy(**policy),
        ),
        # Rasa reads SANIC_WORKERS itself; it is set from the settings so a Stack's own env is honoured.
        "rasa": Service(
            "rasa server",
            rasa,
            f"http://{settings.host}:{settings.rasa_port}/",
            {
                "SANIC_WORKERS": str(settings.sanic_workers),
                "HAVEN_RASA_API_TOKEN": token,
                "HAVEN_ACTION_TOKEN": action_token,
            },
            restarts=RestartPolicy(**policy),
        ),
    }
    return [every[name] for name in ("actions", "website", "rasa") if name in settings.services]


def _ports(settings: Settings) -> List[int]:
    port_of = {"actions": settings.action_port, "rasa": settings.rasa_port, "website": settings.site_port}
    return [port_of[name] for name in ("actions", "website", "rasa") if name in settings.services]


#: Endpoint types Rasa keeps in one process's memory (its defaults when a store is not configured).
_IN_MEMORY = {None, "", "in_memory"}


def _store_types(endpoints: Path, env: Dict[str, str]) -> Dict[str, Optional[str]]:
    """The `type` of the lock store and the tracker store in a Rasa endpoints file (None: default)."""
    import yaml

    try:
        content = yaml_files.read(endpoints) or {}
    except (OSError, yaml.YAMLError) as error:
        raise StackError(f"cannot read the Rasa endpoints file {endpoints}: {error}") from error
    types: Dict[str, Optional[str]] = {}
    for store in ("lock_store", "tracker_store"):
        section = content.get(store) if isinstance(content, dict) else None
        raw = section.get("type") if isinstance(section, dict) else None
        if isinstance(raw, str) and "$" in raw:
            raw = _expand(raw, env)
        types[store] = raw.strip().lower() if isinstance(raw, str) else None
    return types


def _expand(value: str, env: Dict[str, str]) -> str:
    """`${NAME}` and `$NAME` from env, as Rasa expands them (unknown names are left as they are)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), value)


def check_endpoints(settings: Settings, env: Dict[str, str]) -> None:
    """The endpoints file exists, and several Sanic workers share their locks and conversations.

    Rasa itself quietly falls back to one worker with the in-memory lock store, and would lose
    conversations between workers with the in-memory tracker store; both are refused here instead.
    """
    if "rasa" not in settings.services:
        return
    endpoints = settings.rasa_endpoints
    if not endpoints.is_file():
        raise StackError(f"no Rasa endpoints file at {endpoints} (HAVEN_RASA_ENDPOINTS)")
    if settings.sanic_workers == 1:
        return
    types = _store_types(endpoints, env)
    in_memory = [store for store, kind in types.items() if kind in _IN_MEMORY]
    if in_memory:
        raise StackError(
            f"SANIC_WORKERS={settings.sanic_workers} needs a shared lock store and tracker store, but "
            f"{' and '.join(in_memory)} in {endpoints} keep(s) state in one process's memory; use "
            "deploy/endpoints.scale-out.yml (HAVEN_RASA_ENDPOINTS) or SANIC_WORKERS=1"
        )


def check_secrets(settings: Settings) -> None:
    """A launcher that starts the Rasa server or the action server without the other cannot share a
    per-launch secret with it: the same HAVEN_ACTION_TOKEN must then be set on every machine."""
    alone = ("rasa" in settings.services) != ("actions" in settings.services)
    if alone and not settings.action_token:
        raise StackError(
            "HAVEN_ACTION_TOKEN must be set (the same long random value for the Rasa servers and the "
            "action servers) when this launcher starts only one of them (deploy/README.md)"
        )


def die_with_parent() -> None:
    """Runs in the child before exec: own process group, owner-only files, and SIGTERM if the
    launcher dies."""
    os.setsid()
    os.umask(file_modes.OWNER_ONLY_UMASK)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


#: Ports free_port() has handed out in this process. The kernel may hand the same free port to
#: two bind(0) calls in a row, and a caller that asks for three ports before starting anything
#: would then give two servers one port (CI saw it once: one stand-in server exited, its health
#: check answered by the other).
_HANDED_OUT: set = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, and one this process has not handed out before."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


class StackError(RuntimeError):
    """A server could not start; the message says which and why."""


class Stack:
    """The three servers as one unit: start() waits for health, stop() leaves nothing behind."""

    def __init__(
        self,
        settings: Settings,
        log_dir: Optional[Path] = None,
        python: str = sys.executable,
        env: Optional[Dict[str, str]] = None,
    ):
        """`env`: the environment the servers start from (default: this process's)."""
        self.settings = settings
        self.log_dir = log_dir
        self.env = env
        self.services = services(settings, python)
        self._logs: List[IO[bytes]] = []
        self._log_of: Dict[str, IO[bytes]] = {}
        self._env: Dict[str, str] = {}

    def start(self, timeout: float = 240.0) -> None:
        self.spawn()
        self.wait_until_ready(timeout)

    def spawn(self) -> None:
        """Checks the ports, the model and the endpoints file, then starts the servers (no waiting).

        The servers die with the *thread* that spawned them (PR_SET_PDEATHSIG), so call this from
        a thread that outlives them, such as the main thread; wait_until_ready() may run anywhere.
        """
        s = self.settings
        model = s.model_dir / MODEL_FILE if s.model_dir.is_dir() else s.model_dir
        if "rasa" in s.services and not model.is_file():
            raise StackError(f"no trained model at {model}: run `make train` first")
        ports = _ports(s)
        shared = sorted({p for p in ports if ports.count(p) > 1})
        if shared:
            raise StackError(
                f"port(s) {shared} are set for more than one server; each needs its own "
                "(ACTION_PORT, SITE_PORT and RASA_PORT must differ)"
            )
        busy = [p for p in ports if not port_is_free(s.host, p)]
        if busy:
            raise StackError(
                f"port(s) {busy} on {s.host} are already in use; stop what uses them or set "
                "ACTION_PORT / SITE_PORT / RASA_PORT"
            )
        env = runtime_env(s, self.env)
        check_endpoints(s, env)
        check_secrets(s)
        self._env = env
        for service in self.services:
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_dir / f"{service.name.replace(' ', '-')}.log", "wb")
                self._logs.append(out)
                self._log_of[service.name] = out
            self._popen(service)

    def _popen(self, service: Service) -> None:
        out = self._log_of.get(service.name)
        service.process = subprocess.Popen(
            service.argv,
            cwd=ROOT,
            env={**self._env, **service.env},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            preexec_fn=die_with_parent,
        )

    def wait_until_ready(self, timeout: float = 240.0) -> None:
        """Returns when every server answers its health check; stops them all on a failure."""
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while True:
            pending = [service for service in pending if not answers(service.health_url)]
            # Every server, not only the pending ones: one that answered may have answered through a
            # port another process holds, and then exited.
            exited = self.failed()
            if exited is not None:
                code = exited.process.poll()
                self.stop()
                raise StackError(f"the {exited.name} exited with code {code} while starting{self._hint()}")
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(x.name for x in pending)
                self.stop()
                raise StackError(f"timed out after {timeout:.0f}s waiting for: {names}{self._hint()}")
            time.sleep(0.5)

    def _hint(self) -> str:
        return f" (logs in {self.log_dir})" if self.log_dir else " (see the output above)"

    def failed(self) -> Optional[Service]:
        """The first service that has exited, if any."""
        return next((s for s in self.services if s.process and s.process.poll() is not None), None)

    def supervise(self, say: Callable[[str], None], now: Optional[float] = None) -> bool:
        """One round of supervision; call it every half second or so from the thread that spawned
        the servers. Restarts what exited (after its backoff), reports when it answers again, and
        gives up on a server that crashed too often. False when every server was given up on."""
        now = time.monotonic() if now is None else now
        for service in self.services:
            if service.given_up or service.process is None:
                continue
            code = service.process.poll()
            if code is not None and service.restart_at is None:
                signal_group(service.process, signal.SIGKILL)  # its workers, so the port is free
                service.down_since = service.down_since or now
                delay = service.restarts.crashed(now)
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                if delay is None:
                    service.given_up = True
                    say(
                        f"The {service.name} {how} and has crashed {service.restarts.recent} times in "
                        f"{service.restarts.window_s / 60:.0f} minutes; Haven has stopped restarting it. "
                        f"The other servers keep running.{self._hint()} Restart Haven once it is fixed."
                    )
                    continue
                service.restart_at = now + delay
                say(
                    f"The {service.name} {how}; restarting it in {delay:.0f} s "
                    f"(crash {service.restarts.recent} of at most {service.restarts.limit} in "
                    f"{service.restarts.window_s / 60:.0f} minutes). The other servers keep running."
                )
            elif service.restart_at is not None and now >= service.restart_at:
                service.restart_at = None
                service.recovering = True
                self._popen(service)
                say(f"Restarted the {service.name} (pid {service.process.pid}).")
            elif service.recovering and code is None and answers(service.health_url):
                service.recovering = False
                down = now - (service.down_since or now)
                service.down_since = None
                say(f"The {service.name} is answering again ({down:.0f} s after it stopped).")
        return not all(service.given_up for service in self.services)

    def stop(self) -> None:
        running = [s.process for s in self.services if s.process and s.process.poll() is None]
        for process in running:
            signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
        for process in (s.process for s in self.services if s.process):
            signal_group(process, signal.SIGKILL)  # grandchildren (sanic workers) of a group leader
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
