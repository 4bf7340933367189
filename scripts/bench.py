"""`make bench`: Haven's throughput, latency, memory, start-up and training time, next to stock Rasa.

What it runs, in one go (every server on free ports, a throw-away database, loopback only):

  1. training: a full `rasa train --force` of this project into a temporary directory;
  2. Haven, started by the real launcher (`python -m haven.launcher`): seconds from the launcher's
     start to the first answer; then the REST channel under the Haven mix (articles, crisis, whole
     bookings, small talk; haven/loadgen.py) at 1 and at 20 concurrent senders; resident memory of
     the action server, the Rasa server and the website server before and after that load;
  3. the baseline: the stock `rasa init` assistant (moodbot, trained once and cached in
     build/bench-baseline/) served by the same Rasa install with its action server, same flags, under
     its own comparable mix at the same concurrency; the ratios ours/baseline;
  4. scale-out: Haven with SANIC_WORKERS=2 Rasa workers behind a Redis lock store (and Redis tracker
     store, which several workers need to share conversations), using Debian's redis-server; skipped
     with the reason when Redis cannot start.

The load generator runs in this process, the servers in their own. Results are printed, saved as
bench/results/<date>-<time>.json and summarised in docs/benchmarks.md (`--quick` saves nothing unless
`--save` is given). Every run records how busy the machine was with other work during each load
window ("others' CPU"), because numbers from a shared machine are not comparable with a quiet one.

    scripts/bench.py                 # the full run: a few minutes
    scripts/bench.py --quick         # smoke run: short windows, no training, nothing saved
    scripts/bench.py --stock-rasa    # adds a Haven row on plain `python -m rasa` (before the fix)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from haven import launcher, loadgen  # noqa: E402
from haven import settings as settings_module  # noqa: E402
from haven.settings import ROOT  # noqa: E402

BASELINE_DIR = ROOT / "build" / "bench-baseline"
RESULTS_DIR = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PY = sys.executable
TARGET_THROUGHPUT_RATIO = 0.9
TARGET_P50_MS = 25.0


@dataclass
class Options:
    quick: bool
    warmup: float
    single: float
    concurrent: float
    senders: int
    workers: int
    train: bool
    baseline: bool
    scale_out: bool
    stock_rasa: bool
    save: bool
    note: str


def parse(argv: Optional[List[str]] = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s windows, no training, no save")
    p.add_argument("--warmup", type=float, help="seconds of unmeasured load first (default 5, quick 2)")
    p.add_argument("--single", type=float, help="seconds at 1 sender (default 20, quick 3)")
    p.add_argument("--concurrent", type=float, help="seconds at --senders (default 30, quick 3)")
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--workers", type=int, default=2, help="Rasa workers in the scale-out row")
    p.add_argument("--no-train", action="store_true", help="skip the training-time measurement")
    p.add_argument("--train", action="store_true", help="measure training even with --quick")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-scale-out", action="store_true")
    p.add_argument("--stock-rasa", action="store_true", help="also Haven on plain `python -m rasa`")
    p.add_argument("--save", action="store_true", help="save results even with --quick")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--note", default="", help="a remark stored with the results (e.g. 'quiet machine')")
    a = p.parse_args(argv)
    quick = a.quick
    return Options(
        quick=quick,
        warmup=a.warmup if a.warmup is not None else (2 if quick else 5),
        single=a.single if a.single is not None else (3 if quick else 20),
        concurrent=a.concurrent if a.concurrent is not None else (3 if quick else 30),
        senders=a.senders,
        workers=a.workers,
        train=(a.train or not quick) and not a.no_train,
        baseline=not a.no_baseline,
        scale_out=not a.no_scale_out,
        stock_rasa=a.stock_rasa,
        save=(a.save or not quick) and not a.no_save,
        note=a.note,
    )


def say(text: str = "") -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------------------- CPU use
def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _system_busy_seconds() -> float:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _clock_ticks()


def _tree_cpu_seconds(pid: int) -> float:
    total = 0
    for p in loadgen.process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / _clock_ticks()


class CpuWindow:
    """CPU used during a window, in cores: the servers, this process (the load generator) and
    everything else on the machine (other people's work: the contention note for the results)."""

    def __init__(self, server_pids: List[int]):
        self.pids = server_pids

    def __enter__(self) -> "CpuWindow":
        self.t = time.monotonic()
        self.busy = _system_busy_seconds()
        self.servers = sum(_tree_cpu_seconds(p) for p in self.pids)
        self.me = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = max(1e-9, time.monotonic() - self.t)
        busy = _system_busy_seconds() - self.busy
        servers = sum(_tree_cpu_seconds(p) for p in self.pids) - self.servers
        me = time.process_time() - self.me
        self.result = {
            "servers_cores": round(servers / wall, 2),
            "loadgen_cores": round(me / wall, 2),
            "others_cores": round(max(0.0, busy - servers - me) / wall, 2),
            "cpus": os.cpu_count(),
        }


# ----------------------------------------------------------------------------------------- measuring
def measure_load(url: str, mix, opts: Options, servers: Dict[str, int]) -> Dict[str, Any]:
    """Warm-up, memory, 1 sender, `senders` senders, memory again."""
    pids = list(servers.values())
    asyncio.run(loadgen.run_load(url, opts.senders, opts.warmup, mix, seed=1, sender_prefix="warmup"))
    before = {name: loadgen.memory_mb(pid) for name, pid in servers.items()}
    out: Dict[str, Any] = {"memory_before_load": before, "load": {}}
    for senders, seconds, seed in ((1, opts.single, 2), (opts.senders, opts.concurrent, 3)):
        with CpuWindow(pids) as cpu:
            report = asyncio.run(loadgen.run_load(url, senders, seconds, mix, seed=seed))
        say(f"    {report.summary()}")
        say(
            f"      CPU in cores: servers {cpu.result['servers_cores']}, load generator "
            f"{cpu.result['loadgen_cores']}, other work on the machine {cpu.result['others_cores']}"
        )
        out["load"][str(senders)] = {**report.as_dict(), "cpu": cpu.result}
    out["memory_after_load"] = {name: loadgen.memory_mb(pid) for name, pid in servers.items()}
    for name, mem in out["memory_after_load"].items():
        say(
            f"    {name}: RSS {before[name]['rss_mb']:.0f} MB before the load, {mem['rss_mb']:.0f} MB after "
            f"(PSS {mem['pss_mb']:.0f} MB, {mem['processes']} process(es))"
        )
    return out


def measure_training(tmp: Path) -> Dict[str, Any]:
    say("Training: `rasa train --force` of this project into a temporary directory…")
    out = tmp / "train"
    log = tmp / "train.log"
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": str(ROOT),
        "RASA_CACHE_DIRECTORY": str(tmp / "train-cache"),
    }
    argv = [
        PY,
        "-m",
        "rasa",
        "train",
        "--domain",
        "domain",
        "--out",
        str(out),
        "--fixed-model-name",
        "bench",
        "--force",
    ]
    began = time.monotonic()
    with open(log, "wb") as f:
        code = subprocess.call(argv, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - began
    if code != 0 or not (out / "bench.tar.gz").is_file():
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"training failed (exit {code}):\n{tail}")
    say(f"    {seconds:.1f} s")
    return {"seconds": round(seconds, 1)}


def _wait_first_answer(url: str, began: float, alive: Callable[[], bool], timeout: float = 300) -> float:
    async def poll() -> float:
        while time.monotonic() - began < timeout:
            if not alive():
                raise SystemExit(f"a server stopped while starting (waiting for {url})")
            try:
                await loadgen.wait_for_answer(url, timeout=2, interval=0.25)
                return time.monotonic() - began
            except TimeoutError:
                pass
        raise SystemExit(f"no answer from {url} within {timeout:.0f}s")

    return asyncio.run(poll())


def _ports() -> Dict[str, str]:
    return {name: str(launcher.free_port()) for name in ("RASA_PORT", "ACTION_PORT", "SITE_PORT")}


def _launcher_children(pid: int) -> Dict[str, int]:
    found = {}
    for child in loadgen.children(pid):
        line = loadgen.cmdline(child)
        if "rasa_sdk" in line:
            found["action server"] = child
        elif "-m website" in line:
            found["website"] = child
        elif " run " in line:
            found["rasa server"] = child
    return found


def run_haven(tmp: Path, opts: Options) -> Dict[str, Any]:
    say("Haven, started by the launcher (python -m haven.launcher)…")
    ports = _ports()
    env = {
        **os.environ,
        **ports,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": f"sqlite:///{tmp / 'haven.db'}",
    }
    url = f"http://127.0.0.1:{ports['RASA_PORT']}"
    log_path = tmp / "launcher.log"
    with open(log_path, "wb") as log:
        began = time.monotonic()
        process = subprocess.Popen(
            [PY, "-m", "haven.launcher"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=launcher._die_with_parent,
        )
        try:
            first = _wait_first_answer(url, began, lambda: process.poll() is None)
            say(f"    launcher start to first answer: {first:.1f} s")
            servers = _launcher_children(process.pid)
            result = {
                "start_to_first_answer_s": round(first, 1),
                **measure_load(url, loadgen.HAVEN_MIX, opts, servers),
            }
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    return result


def _stack(tmp: Path, name: str, extra: Optional[Dict[str, str]] = None) -> launcher.Stack:
    env = {
        **os.environ,
        **_ports(),
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": f"sqlite:///{tmp / (name + '.db')}",
        **(extra or {}),
    }
    return launcher.Stack(settings_module.load(env), log_dir=tmp / f"{name}-logs", env=env)


def _rasa_service(stack: launcher.Stack) -> launcher.Service:
    return next(s for s in stack.services if s.name == "rasa server")


def run_stack(stack: launcher.Stack, opts: Options) -> Dict[str, Any]:
    began = time.monotonic()
    stack.start()
    try:
        url = f"http://127.0.0.1:{stack.settings.rasa_port}"
        first = _wait_first_answer(url, began, lambda: stack.failed() is None)
        say(f"    start to first answer: {first:.1f} s")
        servers = {s.name: s.process.pid for s in stack.services if s.process}
        return {
            "start_to_first_answer_s": round(first, 1),
            **measure_load(url, loadgen.HAVEN_MIX, opts, servers),
        }
    finally:
        stack.stop()


def run_haven_stock_rasa(tmp: Path, opts: Options) -> Dict[str, Any]:
    say("Haven on plain `python -m rasa run` (Rasa's per-call schema check, before the fix)…")
    stack = _stack(tmp, "stock")
    rasa = _rasa_service(stack)
    rasa.argv[rasa.argv.index("-m") + 1] = "rasa"
    return run_stack(stack, opts)


# ----------------------------------------------------------------------------------------- Redis scale-out
class Skip(Exception):
    """A row that cannot be measured here; the message says why."""


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(tmp: Path) -> tuple:
    binary = shutil.which("redis-server")
    if not binary:
        raise Skip("redis-server is not installed (as root: apt-get install -y redis-server)")
    port = launcher.free_port()
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
        "--protected-mode",
        "yes",
    ]
    log = open(tmp / "redis.log", "wb")
    process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=launcher._die_with_parent
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Skip(
                f"redis-server exited with {process.returncode}: "
                f"{(tmp / 'redis.log').read_text(errors='replace')[-300:]}"
            )
        if _redis_ping(port):
            return process, port
        time.sleep(0.1)
    process.kill()
    raise Skip("redis-server did not answer PING within 15 s")


def scale_out_endpoints(tmp: Path, redis_port: int) -> Path:
    """endpoints.yml plus Redis lock and tracker stores (several Rasa workers must share both: with
    in-memory stores each worker would see only the turns it handled itself)."""
    data = yaml.safe_load((ROOT / "endpoints.yml").read_text()) or {}
    common = {"type": "redis", "url": "127.0.0.1", "port": redis_port, "key_prefix": "haven-bench"}
    data["tracker_store"] = {**common, "db": 0}
    data["lock_store"] = {**common, "db": 1}
    path = tmp / "endpoints.scale-out.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_scale_out(tmp: Path, opts: Options) -> Dict[str, Any]:
    say(f"Haven scale-out: SANIC_WORKERS={opts.workers} Rasa workers, Redis lock and tracker stores…")
    try:
        redis, port = start_redis(tmp)
    except Skip as reason:
        say(f"    skipped: {reason}")
        return {"skipped": str(reason)}
    try:
        stack = _stack(tmp, "scale-out")
        rasa = _rasa_service(stack)
        rasa.argv[rasa.argv.index("--endpoints") + 1] = str(scale_out_endpoints(tmp, port))
        rasa.env["SANIC_WORKERS"] = str(opts.workers)
        result = run_stack(stack, opts)
        result["workers"] = opts.workers
        result["redis_memory"] = loadgen.memory_mb(redis.pid)
        return result
    finally:
        redis.terminate()
        redis.wait(timeout=10)


# ----------------------------------------------------------------------------------------- baseline
def ensure_baseline() -> Dict[str, Any]:
    """The stock `rasa init` assistant, created and trained once; reused while its model exists."""
    stamp = BASELINE_DIR / "bench-init.json"
    models = sorted((BASELINE_DIR / "models").glob("*.tar.gz")) if BASELINE_DIR.is_dir() else []
    if models and stamp.is_file():
        return {**json.loads(stamp.read_text()), "model": str(models[-1]), "cached": True}
    say(
        f"  creating and training the stock `rasa init` assistant in {BASELINE_DIR.relative_to(ROOT)} (once)…"
    )
    shutil.rmtree(BASELINE_DIR, ignore_errors=True)
    BASELINE_DIR.mkdir(parents=True)
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RASA_CACHE_DIRECTORY": str(BASELINE_DIR / ".rasa" / "cache"),
    }
    env.pop("PYTHONPATH", None)
    began = time.monotonic()
    with open(BASELINE_DIR.parent / "bench-baseline-init.log", "wb") as log:
        code = subprocess.call(
            [PY, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(BASELINE_DIR)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    models = sorted((BASELINE_DIR / "models").glob("*.tar.gz"))
    if code != 0 or not models:
        raise Skip(f"`rasa init` failed (exit {code}); see build/bench-baseline-init.log")
    info = {
        "init_and_train_seconds": round(time.monotonic() - began, 1),
        "created": datetime.now().isoformat(),
    }
    stamp.write_text(json.dumps(info))
    return {**info, "model": str(models[-1]), "cached": False}


class Processes:
    """A few server processes (own process groups, die with this process), health-checked."""

    def __init__(self) -> None:
        self.procs: List[subprocess.Popen] = []

    def start(self, argv: List[str], cwd: Path, env: Dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "wb") as out:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=launcher._die_with_parent,
            )
        self.procs.append(process)
        return process

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for process in self.procs:
            launcher._signal_group(process, signal.SIGTERM)
        for process in self.procs:
            try:
                process.wait(timeout=launcher.STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            launcher._signal_group(process, signal.SIGKILL)
            process.wait()


def run_baseline(tmp: Path, opts: Options) -> Dict[str, Any]:
    say("Baseline: the stock `rasa init` assistant on the same Rasa install…")
    try:
        info = ensure_baseline()
    except Skip as reason:
        say(f"    skipped: {reason}")
        return {"skipped": str(reason)}
    say(
        f"    model {Path(info['model']).name} ({'cached' if info['cached'] else 'just trained'}; "
        f"init and training took {info['init_and_train_seconds']} s)"
    )
    rasa_port, action_port = launcher.free_port(), launcher.free_port()
    endpoints, credentials = tmp / "baseline-endpoints.yml", tmp / "baseline-credentials.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n")
    credentials.write_text("rest:\n")
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SANIC_HOST": "127.0.0.1",
    }
    env.pop("PYTHONPATH", None)  # its own `actions` package, not Haven's
    # The same server flags as Haven's Rasa (launcher.services), so only the assistant differs.
    haven_rasa = next(s for s in launcher.services(settings_module.load({})) if s.name == "rasa server")
    argv = haven_rasa.argv
    cors = argv[argv.index("--cors") : argv.index("--enable-api")]
    rasa_argv = [
        PY,
        "-m",
        "rasa",
        "run",
        "--model",
        info["model"],
        "--interface",
        "127.0.0.1",
        "--port",
        str(rasa_port),
        "--credentials",
        str(credentials),
        "--endpoints",
        str(endpoints),
        *cors,
        "--enable-api",
        "--auth-token",
        "bench-baseline-token",
    ]
    procs = Processes()
    began = time.monotonic()
    try:
        action = procs.start(
            [PY, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
            BASELINE_DIR,
            env,
            tmp / "baseline-actions.log",
        )
        rasa = procs.start(rasa_argv, BASELINE_DIR, env, tmp / "baseline-rasa.log")
        url = f"http://127.0.0.1:{rasa_port}"
        first = _wait_first_answer(url, began, procs.alive)
        say(f"    start to first answer: {first:.1f} s")
        servers = {"action server": action.pid, "rasa server": rasa.pid}
        result = {
            "start_to_first_answer_s": round(first, 1),
            **measure_load(url, loadgen.MOODBOT_MIX, opts, servers),
        }
    finally:
        procs.stop()
    return {**result, "baseline": {k: v for k, v in info.items() if k != "model"}}


# ----------------------------------------------------------------------------------------- reporting
def machine() -> Dict[str, Any]:
    def first(cmd: List[str]) -> str:
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import rasa

    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "commit": first(["git", "rev-parse", "--short", "HEAD"]),
        "uncommitted_changes": bool(first(["git", "status", "--porcelain", "--untracked-files=no"])),
    }


def _load(row: Dict[str, Any], senders: int) -> Optional[Dict[str, Any]]:
    return (row.get("load") or {}).get(str(senders)) if row and "skipped" not in row else None


def comparison(results: Dict[str, Any], senders: int) -> Dict[str, Any]:
    ours, base = results.get("haven"), results.get("baseline")
    out: Dict[str, Any] = {}
    h1, hn = _load(ours, 1), _load(ours, senders)
    if h1:
        out["p50_ms_1_sender"] = h1["p50_ms"]
        out["p50_target_ms"] = TARGET_P50_MS
        out["p50_target_met"] = h1["p50_ms"] < TARGET_P50_MS
    b1, bn = _load(base, 1), _load(base, senders)
    if hn and bn:
        ratio = hn["throughput"] / bn["throughput"]
        out["throughput_ratio"] = round(ratio, 2)
        out["throughput_ratio_target"] = TARGET_THROUGHPUT_RATIO
        out["throughput_target_met"] = ratio >= TARGET_THROUGHPUT_RATIO
        out["p99_ratio"] = round(hn["p99_ms"] / bn["p99_ms"], 2)
    if h1 and b1:
        out["p50_ratio_1_sender"] = round(h1["p50_ms"] / b1["p50_ms"], 2)
        out["throughput_ratio_1_sender"] = round(h1["throughput"] / b1["throughput"], 2)
    return out


ROWS = (
    ("haven", "Haven"),
    ("haven_stock_rasa", "Haven, stock Rasa validation"),
    ("baseline", "stock `rasa init` bot"),
    ("scale_out", "Haven, 2 Rasa workers + Redis"),
)


def _fmt(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(results: Dict[str, Any]) -> str:
    senders = results["options"]["senders"]
    lines = [
        f"| run | msg/s, 1 sender | p50 / p99 ms, 1 sender | msg/s, {senders} senders "
        f"| p50 / p99 ms, {senders} senders | errors | start to first answer | RSS after load, MB "
        f"(action / Rasa / website) | others' CPU during the {senders}-sender window |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in ROWS:
        row = results.get(key)
        if row is None:
            continue
        if "skipped" in row:
            lines.append(f"| {label} | skipped: {row['skipped']} | | | | | | | |")
            continue
        one, many = _load(row, 1) or {}, _load(row, senders) or {}
        mem = row.get("memory_after_load", {})
        rss = " / ".join(
            _fmt((mem.get(n) or {}).get("rss_mb"), 0) for n in ("action server", "rasa server", "website")
        )
        errors = (one.get("errors") or 0) + (many.get("errors") or 0)
        others = (many.get("cpu") or {}).get("others_cores")
        lines.append(
            f"| {label} | {_fmt(one.get('throughput'))} "
            f"| {_fmt(one.get('p50_ms'))} / {_fmt(one.get('p99_ms'))} "
            f"| {_fmt(many.get('throughput'))} | {_fmt(many.get('p50_ms'))} / {_fmt(many.get('p99_ms'))} "
            f"| {errors} | {_fmt(row.get('start_to_first_answer_s'))} s | {rss} | {_fmt(others, 2)} of "
            f"{results['machine']['cpus']} cores |"
        )
    c = results.get("comparison") or {}
    train = results.get("training") or {}
    notes = []
    if "throughput_ratio" in c:
        notes.append(
            f"throughput at {senders} senders, Haven / baseline: **{c['throughput_ratio']:.2f}** "
            f"(target ≥ {TARGET_THROUGHPUT_RATIO}: {'met' if c['throughput_target_met'] else 'NOT met'})"
        )
    if "p50_ms_1_sender" in c:
        notes.append(
            f"p50 at 1 sender: **{c['p50_ms_1_sender']:.1f} ms** (target < {TARGET_P50_MS:.0f} ms: "
            f"{'met' if c['p50_target_met'] else 'NOT met'})"
        )
    if "p50_ratio_1_sender" in c:
        notes.append(f"p50 at 1 sender, Haven / baseline: {c['p50_ratio_1_sender']:.2f}")
    if train.get("seconds") is not None:
        notes.append(f"full training (`rasa train --force`): **{train['seconds']:.0f} s**")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def print_summary(results: Dict[str, Any]) -> None:
    say("\n" + "=" * 100)
    say(markdown_table(results))


def save(results: Dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{results['started'][:16].replace(':', '')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    update_doc(results, path)
    return path


def update_doc(results: Dict[str, Any], path: Path) -> None:
    """Replaces the block between the result markers in docs/benchmarks.md and adds a history line."""
    if not DOC.is_file():
        return
    text = DOC.read_text()
    m = results["machine"]
    header = (
        f"Latest run: {results['started'][:16].replace('T', ' ')}, commit {m['commit']}"
        f"{' (with uncommitted changes)' if m['uncommitted_changes'] else ''}, {m['cpus']} × {m['cpu']}, "
        f"load average {m['load_average_at_start'][0]} at the start"
        f"{'; ' + results['note'] if results.get('note') else ''}. Raw numbers: "
        f"`{path.relative_to(ROOT)}`.\n\n"
    )
    block = header + markdown_table(results)
    text = re.sub(
        r"(<!-- results:begin -->\n).*?(<!-- results:end -->)",
        lambda x: x.group(1) + block + x.group(2),
        text,
        flags=re.S,
    )
    c, senders = results.get("comparison") or {}, results["options"]["senders"]
    hn = _load(results.get("haven"), senders) or {}
    line = (
        f"| {results['started'][:16].replace('T', ' ')} | {m['commit']} | {_fmt(hn.get('throughput'))} "
        f"| {_fmt(c.get('throughput_ratio'), 2)} | {_fmt(c.get('p50_ms_1_sender'))} "
        f"| {_fmt((hn.get('cpu') or {}).get('others_cores'), 2)} | {results.get('note') or ''} |\n"
    )
    text = text.replace("<!-- history:end -->", line + "<!-- history:end -->")
    DOC.write_text(text)


def main(argv: Optional[List[str]] = None) -> int:
    opts = parse(argv)
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    started = datetime.now().isoformat(timespec="seconds")
    info = machine()
    say(
        f"make bench{' --quick' if opts.quick else ''}: {info['cpus']} × {info['cpu']}, load average "
        f"{info['load_average_at_start']} at the start (other work on the machine makes every number worse)"
    )
    results: Dict[str, Any] = {
        "started": started,
        "note": opts.note,
        "machine": info,
        "options": {k: v for k, v in vars(opts).items() if k != "note"},
    }
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as name:
        tmp = Path(name)
        if opts.train:
            results["training"] = measure_training(tmp)
        results["haven"] = run_haven(tmp, opts)
        if opts.stock_rasa:
            results["haven_stock_rasa"] = run_haven_stock_rasa(tmp, opts)
        if opts.baseline:
            results["baseline"] = run_baseline(tmp, opts)
        if opts.scale_out:
            results["scale_out"] = run_scale_out(tmp, opts)
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    results["comparison"] = comparison(results, opts.senders)
    print_summary(results)
    if opts.save:
        say(f"Saved {save(results).relative_to(ROOT)} and updated {DOC.relative_to(ROOT)}.")
    errors = sum(
        (_load(results.get(k), n) or {}).get("errors", 0) for k, _ in ROWS for n in (1, opts.senders)
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
