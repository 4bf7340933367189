"""`make bench`: Haven's throughput, latency, memory, start-up and training time, next to stock Rasa.

What it runs, in one go (every server on free ports, throw-away databases, loopback only):

  1. training: a full `rasa train --force` of this project into a temporary directory;
  2. Haven, started by the real launcher (`python -m haven.ops.launcher`): seconds from the launcher's
     start to the first answer on the REST channel;
  3. the baseline: the stock `rasa init` assistant (moodbot, created and trained once, cached in
     build/bench-baseline/) served by the same Rasa install with its action server and the same
     server flags, under its own comparable mix (haven_devtools/loadgen.py);
  4. scale-out: Haven with SANIC_WORKERS=2 Rasa workers behind a Redis lock store (and a Redis
     tracker store, which several workers need to share conversations), using Debian's
     redis-server; skipped with the reason when Redis cannot start;
  5. with --stock-rasa, Haven on plain `python -m rasa run` (before haven.plugins.rasa_server's fix).

All of them are started first (one after the other, so each start-up is timed alone), then loaded in
interleaved rounds: every round gives each one a window at 1 sender and a window at 20 senders, in a
rotating order, so a burst of other work on a shared machine hits all of them alike instead of
whichever happened to run then. Windows of the same run and concurrency are then pooled. Resident
memory (RSS, and PSS, from /proc) of every server is read after a warm-up and after all the load.

The load generator runs in this process, the servers in their own. Results are printed, saved as
bench/results-<date>T<time>.json and summarised in docs/benchmarks.md (`--quick` saves nothing unless
`--save` is given). Each window records the CPU that other work on the machine used meanwhile
("others' CPU"): numbers from a shared machine are not comparable with a quiet one.

    scripts/bench.py                 # the full run: about six minutes on 2 cores
    scripts/bench.py --quick         # smoke run: short windows, one round, no training, nothing saved
    scripts/bench.py --stock-rasa    # adds Haven on plain `python -m rasa` (before the fix)
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
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

from haven import settings as settings_module
from haven import yaml_files
from haven.ops import processes
from haven.settings import ROOT
from haven_devtools import loadgen
from haven_devtools.throwaway import ThrowawayRedis

BASELINE_DIR = ROOT / "build" / "bench-baseline"
RESULTS_DIR = ROOT / "bench"  # (a `results/` directory would be git-ignored)
DOC = ROOT / "docs" / "benchmarks.md"
PY = sys.executable
TARGET_THROUGHPUT_RATIO = 1.0  # the understanding issue: at least the stock `rasa init` bot
TARGET_P50_MS = 25.0  # an earlier issue's; the understanding issue allows 40 ms
TARGET_RASA_RSS_GROWTH_MB = 300.0  # the understanding issue: the Rasa server's RSS over the stock bot's
TARGET_TRAINING_S = 180.0  # the understanding issue: full training within 3 minutes
HAVEN_ROWS = ("haven", "haven_stock_rasa", "scale_out")  # whose errors fail the run (not the stock bot's)
SERVER_NAMES = ("action server", "rasa server", "website")


@dataclass
class Options:
    quick: bool
    rounds: int
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
    p.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 3 s windows, no training or save"
    )
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 2, quick 1)")
    p.add_argument(
        "--warmup", type=float, help="seconds of unmeasured load per run first (default 5, quick 2)"
    )
    p.add_argument("--single", type=float, help="seconds at 1 sender per round (default 10, quick 3)")
    p.add_argument("--concurrent", type=float, help="seconds at --senders per round (default 15, quick 3)")
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--workers", type=int, default=2, help="Rasa workers in the scale-out run")
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

    def pick(value: Optional[float], default: float, quick_default: float) -> Any:
        return value if value is not None else (quick_default if quick else default)

    return Options(
        quick=quick,
        rounds=pick(a.rounds, 2, 1),
        warmup=pick(a.warmup, 5, 2),
        single=pick(a.single, 10, 3),
        concurrent=pick(a.concurrent, 15, 3),
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


class Skip(Exception):
    """A run that cannot be measured here; the message says why."""


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
    """CPU used during a window in seconds: by the servers under test, by this process (the load
    generator) and by everything else on the machine (other people's work: the contention note)."""

    def __init__(self, server_pids: Sequence[int]):
        self.pids = list(server_pids)

    def __enter__(self) -> "CpuWindow":
        self.t = time.monotonic()
        self.busy = _system_busy_seconds()
        self.servers = sum(_tree_cpu_seconds(p) for p in self.pids)
        self.me = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        servers = sum(_tree_cpu_seconds(p) for p in self.pids) - self.servers
        me = time.process_time() - self.me
        self.seconds = {
            "wall": time.monotonic() - self.t,
            "servers": servers,
            "loadgen": me,
            "others": max(0.0, _system_busy_seconds() - self.busy - servers - me),
        }


def cores(windows: Sequence[Dict[str, float]]) -> Dict[str, float]:
    wall = sum(w["wall"] for w in windows) or 1e-9
    out = {
        f"{k}_cores": round(sum(w[k] for w in windows) / wall, 2) for k in ("servers", "loadgen", "others")
    }
    return {**out, "cpus": os.cpu_count()}


# ----------------------------------------------------------------------------------------- the runs
@dataclass
class Run:
    """One assistant under test: where it answers, its server processes, and what was measured."""

    key: str
    label: str
    url: str
    mix: Sequence[loadgen.Scenario]
    servers: Dict[str, int]
    stop: Callable[[], None]
    result: Dict[str, Any] = field(default_factory=dict)
    reports: Dict[int, List[loadgen.LoadReport]] = field(default_factory=dict)
    cpu: Dict[int, List[Dict[str, float]]] = field(default_factory=dict)


def _wait_first_answer(url: str, began: float, alive: Callable[[], bool], timeout: float = 400) -> float:
    async def poll() -> float:
        while time.monotonic() - began < timeout:
            if not alive():
                raise Skip(f"a server stopped while starting (waiting for {url})")
            try:
                await loadgen.wait_for_answer(url, timeout=2, interval=0.25)
                return time.monotonic() - began
            except TimeoutError:
                pass
        raise Skip(f"no answer from {url} within {timeout:.0f}s")

    return asyncio.run(poll())


def _ports() -> Dict[str, str]:
    return {name: str(processes.free_port()) for name in ("RASA_PORT", "ACTION_PORT", "SITE_PORT")}


def _haven_env(tmp: Path, name: str) -> Dict[str, str]:
    return {
        **os.environ,
        **_ports(),
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": f"sqlite:///{tmp / (name + '.db')}",
    }


def _launcher_children(pid: int) -> Dict[str, int]:
    found = {}
    for child in loadgen.children(pid):
        line = loadgen.cmdline(child)
        if "rasa_sdk" in line or "haven.plugins.action_server" in line:
            found["action server"] = child
        elif "-m website" in line:
            found["website"] = child
        elif " run " in line:
            found["rasa server"] = child
    return found


def start_haven(tmp: Path) -> Run:
    say("Haven, started by the launcher (python -m haven.ops.launcher)…")
    env = _haven_env(tmp, "haven")
    url = f"http://127.0.0.1:{env['RASA_PORT']}"
    with open(tmp / "launcher.log", "wb") as log:
        began = time.monotonic()
        process = subprocess.Popen(
            [PY, "-m", "haven.ops.launcher"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=processes.die_with_parent,
        )

    def stop() -> None:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: the launcher stops its three servers
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            processes.signal_group(process, signal.SIGKILL)

    try:
        first = _wait_first_answer(url, began, lambda: process.poll() is None)
    except Skip:
        stop()
        raise
    say(f"    launcher start to first answer: {first:.1f} s")
    run = Run("haven", "Haven", url, loadgen.HAVEN_MIX, _launcher_children(process.pid), stop)
    run.result["start_to_first_answer_s"] = round(first, 1)
    return run


def _rasa_service(stack: processes.Stack) -> processes.Service:
    return next(s for s in stack.services if s.name == "rasa server")


def start_stack(
    key: str, label: str, stack: processes.Stack, cleanup: Callable[[], None] = lambda: None
) -> Run:
    def stop() -> None:
        stack.stop()
        cleanup()

    began = time.monotonic()
    try:
        stack.start(timeout=400)
        url = f"http://127.0.0.1:{stack.settings.rasa_port}"
        first = _wait_first_answer(url, began, lambda: stack.failed() is None)
    except (processes.StackError, Skip) as error:
        stop()
        raise Skip(str(error)) from error
    say(f"    start to first answer: {first:.1f} s")
    servers = {s.name: s.process.pid for s in stack.services if s.process}
    run = Run(key, label, url, loadgen.HAVEN_MIX, servers, stop)
    run.result["start_to_first_answer_s"] = round(first, 1)
    return run


def start_haven_stock_rasa(tmp: Path) -> Run:
    say("Haven on plain `python -m rasa run` (Rasa's schema check on every action call: before the fix)…")
    env = _haven_env(tmp, "stock")
    stack = processes.Stack(settings_module.load(env), log_dir=tmp / "stock-logs", env=env)
    rasa = _rasa_service(stack)
    rasa.argv[rasa.argv.index("-m") + 1] = "rasa"
    return start_stack("haven_stock_rasa", "Haven on stock `rasa run`", stack)


# Redis scale-out
def start_redis() -> ThrowawayRedis:
    """A private Redis (haven_devtools/throwaway.py, as the tests use), or Skip with the reason."""
    redis = None
    try:
        redis = ThrowawayRedis(start_timeout=15)
        redis.start()
    except RuntimeError as error:
        if redis is not None:
            redis.stop()
        raise Skip(f"{error} (as root: apt-get install -y redis-server)") from error
    return redis


def scale_out_endpoints(tmp: Path, redis: ThrowawayRedis) -> Path:
    """endpoints.yml plus Redis lock and tracker stores. Several Rasa workers must share both: with
    in-memory stores each worker would see only the turns it handled itself."""
    data = yaml_files.read(ROOT / "endpoints.yml") or {}
    common = {"type": "redis", "url": "127.0.0.1", "port": redis.port, "password": redis.password}
    common["key_prefix"] = "haven-bench"
    data["tracker_store"] = {**common, "db": 0}
    data["lock_store"] = {**common, "db": 1}
    path = tmp / "endpoints.scale-out.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start_scale_out(tmp: Path, workers: int) -> Run:
    say(f"Haven scale-out: SANIC_WORKERS={workers} Rasa workers, Redis lock and tracker stores…")
    redis = start_redis()

    env = _haven_env(tmp, "scale-out")
    stack = processes.Stack(settings_module.load(env), log_dir=tmp / "scale-out-logs", env=env)
    rasa = _rasa_service(stack)
    rasa.argv[rasa.argv.index("--endpoints") + 1] = str(scale_out_endpoints(tmp, redis))
    rasa.env["SANIC_WORKERS"] = str(workers)
    run = start_stack("scale_out", f"Haven, {workers} Rasa workers + Redis", stack, redis.stop)
    run.servers["redis"] = redis.process.pid
    run.result["workers"] = workers
    return run


# The baseline
def ensure_baseline() -> Dict[str, Any]:
    """The stock `rasa init` assistant, created and trained once; reused while its model exists."""
    stamp = BASELINE_DIR / "bench-init.json"
    models = sorted((BASELINE_DIR / "models").glob("*.tar.gz")) if BASELINE_DIR.is_dir() else []
    if models and stamp.is_file():
        return {**json.loads(stamp.read_text()), "model": str(models[-1]), "cached": True}
    say(f"    creating and training the stock `rasa init` assistant in {BASELINE_DIR.relative_to(ROOT)}…")
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
    info = {"init_and_train_seconds": round(time.monotonic() - began, 1)}
    stamp.write_text(json.dumps({**info, "created": datetime.now().isoformat(timespec="seconds")}))
    return {**info, "model": str(models[-1]), "cached": False}


def start_baseline(tmp: Path) -> Run:
    say("Baseline: the stock `rasa init` assistant on the same Rasa install…")
    info = ensure_baseline()
    say(
        f"    model {Path(info['model']).name} ({'cached' if info['cached'] else 'just trained'}; "
        f"`rasa init` with its training took {info['init_and_train_seconds']} s)"
    )
    rasa_port, action_port = processes.free_port(), processes.free_port()
    endpoints, credentials = tmp / "baseline-endpoints.yml", tmp / "baseline-credentials.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n")
    credentials.write_text("rest:\n")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["SANIC_HOST"] = "127.0.0.1"
    env.pop("PYTHONPATH", None)  # its own `actions` package, not Haven's
    # Haven's server flags (CORS, the token-protected HTTP API), so only the assistant differs.
    haven_rasa = next(s for s in processes.services(settings_module.load({})) if s.name == "rasa server")
    argv = haven_rasa.argv
    cors = argv[argv.index("--cors") :]  # the last flags (the API token now travels in the environment)
    rasa_argv = [PY, "-m", "rasa", "run", "--model", info["model"], "--interface", "127.0.0.1"]
    rasa_argv += ["--port", str(rasa_port), "--credentials", str(credentials), "--endpoints", str(endpoints)]
    rasa_argv += [*cors, "--enable-api", "--auth-token", "bench-baseline-token"]
    action_argv = [PY, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)]
    procs: List[subprocess.Popen] = []
    for argv, name in ((action_argv, "actions"), (rasa_argv, "rasa")):
        with open(tmp / f"baseline-{name}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    argv,
                    cwd=BASELINE_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=processes.die_with_parent,
                )
            )
    began = time.monotonic()

    def stop() -> None:
        for process in procs:
            processes.signal_group(process, signal.SIGTERM)
        for process in procs:
            try:
                process.wait(timeout=processes.STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                processes.signal_group(process, signal.SIGKILL)
                process.wait()

    url = f"http://127.0.0.1:{rasa_port}"
    try:
        first = _wait_first_answer(url, began, lambda: all(p.poll() is None for p in procs))
    except Skip:
        stop()
        raise
    say(f"    start to first answer: {first:.1f} s")
    servers = {"action server": procs[0].pid, "rasa server": procs[1].pid}
    run = Run("baseline", "stock `rasa init` bot", url, loadgen.MOODBOT_MIX, servers, stop)
    run.result["start_to_first_answer_s"] = round(first, 1)
    run.result["baseline"] = {k: v for k, v in info.items() if k != "model"}
    return run


# ----------------------------------------------------------------------------------------- measuring
def measure_training(tmp: Path) -> Dict[str, Any]:
    say("Training: `rasa train --force` of this project into a temporary directory…")
    out = tmp / "train"
    log = tmp / "train.log"
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RASA_CACHE_DIRECTORY": str(tmp / "train-cache"),
    }
    argv = [PY, "-m", "rasa", "train", "--out", str(out)]
    argv += ["--fixed-model-name", "bench", "--force"]
    began, busy, before = time.monotonic(), _system_busy_seconds(), os.times()
    with open(log, "wb") as f:
        code = subprocess.call(argv, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - began
    after = os.times()
    # The CPU the machine spent on anything but this training (and this process) meanwhile: the same
    # contention note as the load windows' "others' CPU".
    ours = sum(after[i] - before[i] for i in range(4))  # user, system, children's user and system
    others = max(0.0, _system_busy_seconds() - busy - ours) / max(seconds, 1e-9)
    if code != 0 or not (out / "bench.tar.gz").is_file():
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"training failed (exit {code}):\n{tail}")
    say(f"    {seconds:.1f} s (others' CPU meanwhile {others:.2f} cores)")
    return {"seconds": round(seconds, 1), "others_cores": round(others, 2)}


def memory(run: Run) -> Dict[str, Dict[str, float]]:
    return {name: loadgen.memory_mb(pid) for name, pid in run.servers.items()}


def measure(runs: List[Run], opts: Options) -> None:
    """Warm-up each, then interleaved rounds of 1-sender and N-sender windows, then memory."""
    for run in runs:
        asyncio.run(
            loadgen.run_load(run.url, opts.senders, opts.warmup, run.mix, seed=1, sender_prefix="warmup")
        )
        run.result["memory_before_load"] = memory(run)
    for number in range(opts.rounds):
        order = runs[number % len(runs) :] + runs[: number % len(runs)]
        for senders, seconds in ((1, opts.single), (opts.senders, opts.concurrent)):
            for run in order:
                with CpuWindow(list(run.servers.values())) as cpu:
                    report = asyncio.run(
                        loadgen.run_load(
                            run.url,
                            senders,
                            seconds,
                            run.mix,
                            seed=100 * number + senders,
                            sender_prefix=f"r{number}",
                        )
                    )
                run.reports.setdefault(senders, []).append(report)
                run.cpu.setdefault(senders, []).append(cpu.seconds)
                say(
                    f"  round {number + 1}, {run.label}: {report.summary()}; others' CPU "
                    f"{cpu.seconds['others'] / cpu.seconds['wall']:.2f} cores"
                )
    for run in runs:
        run.result["load"] = {
            str(n): {**loadgen.combine(reports).as_dict(), "cpu": cores(run.cpu[n])}
            for n, reports in run.reports.items()
        }
        run.result["memory_after_load"] = after = memory(run)
        before = run.result["memory_before_load"]
        for name, mem in after.items():
            say(
                f"  {run.label}, {name}: RSS {before[name]['rss_mb']:.0f} MB after the warm-up, "
                f"{mem['rss_mb']:.0f} MB after the load (PSS {mem['pss_mb']:.0f} MB, "
                f"{mem['processes']} process(es))"
            )


# ----------------------------------------------------------------------------------------- reporting
def machine() -> Dict[str, Any]:
    def first(cmd: List[str]) -> str:
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), platform.processor()
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
        # Code only: the results and this page change with every run.
        "uncommitted_changes": bool(
            first(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs", ":!bench"])
        ),
    }


def _load(row: Optional[Dict[str, Any]], senders: int) -> Optional[Dict[str, Any]]:
    return (row.get("load") or {}).get(str(senders)) if row and "skipped" not in row else None


def comparison(results: Dict[str, Any], senders: int) -> Dict[str, Any]:
    ours, base = results.get("haven"), results.get("baseline")
    out: Dict[str, Any] = {}
    h1, hn = _load(ours, 1), _load(ours, senders)
    b1, bn = _load(base, 1), _load(base, senders)
    if h1:
        out["p50_ms_1_sender"] = h1["p50_ms"]
        out["p50_target_ms"] = TARGET_P50_MS
        out["p50_target_met"] = h1["p50_ms"] < TARGET_P50_MS
    if hn and bn:
        ratio = hn["throughput"] / bn["throughput"]
        out["throughput_ratio"] = round(ratio, 2)
        out["throughput_ratio_target"] = TARGET_THROUGHPUT_RATIO
        out["throughput_target_met"] = ratio >= TARGET_THROUGHPUT_RATIO
        out["p99_ratio"] = round(hn["p99_ms"] / bn["p99_ms"], 2)
    if h1 and b1:
        out["p50_ratio_1_sender"] = round(h1["p50_ms"] / b1["p50_ms"], 2)
        out["throughput_ratio_1_sender"] = round(h1["throughput"] / b1["throughput"], 2)
    stock = _load(results.get("haven_stock_rasa"), senders)
    if hn and stock:
        out["throughput_ratio_fix_vs_stock_rasa"] = round(hn["throughput"] / stock["throughput"], 2)
    ours_rss, base_rss = _rasa_rss(ours), _rasa_rss(base)
    if ours_rss is not None and base_rss is not None:
        out["rasa_rss_growth_mb"] = round(ours_rss - base_rss, 1)
        out["rasa_rss_growth_target_mb"] = TARGET_RASA_RSS_GROWTH_MB
        out["rasa_rss_growth_target_met"] = ours_rss - base_rss <= TARGET_RASA_RSS_GROWTH_MB
    seconds = (results.get("training") or {}).get("seconds")
    if seconds is not None:
        out["training_target_s"] = TARGET_TRAINING_S
        out["training_target_met"] = seconds <= TARGET_TRAINING_S
    return out


def _rasa_rss(row: Optional[Dict[str, Any]]) -> Optional[float]:
    """The Rasa server's RSS after the load, in MB (None when the run was skipped or not measured)."""
    if not row or "skipped" in row:
        return None
    return ((row.get("memory_after_load") or {}).get("rasa server") or {}).get("rss_mb")


def exit_status(results: Dict[str, Any], senders: int) -> int:
    """1 when one of Haven's own runs lost a reply, else 0. The stock bot's errors are its own (it drops
    a reply now and then at 20 senders): the table shows them, and they say nothing about Haven."""
    return int(
        any((_load(results.get(k), n) or {}).get("errors", 0) for k in HAVEN_ROWS for n in (1, senders))
    )


ROWS = ("haven", "haven_stock_rasa", "baseline", "scale_out")


def _fmt(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(results: Dict[str, Any]) -> str:
    n = results["options"]["senders"]
    lines = [
        f"| run | msg/s, 1 sender | p50 / p99 ms, 1 sender | msg/s, {n} senders | p50 / p99 ms, {n} senders "
        "| errors | start to first answer | RSS after load, MB (action / Rasa / website) | others' CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in ROWS:
        row = results.get(key)
        if row is None:
            continue
        label = row.get("label", key)
        if "skipped" in row:
            lines.append(f"| {label} | skipped: {row['skipped']} | | | | | | | |")
            continue
        one, many = _load(row, 1) or {}, _load(row, n) or {}
        mem = row.get("memory_after_load", {})
        rss = " / ".join(_fmt((mem.get(name) or {}).get("rss_mb"), 0) for name in SERVER_NAMES)
        errors = (one.get("errors") or 0) + (many.get("errors") or 0)
        others = (many.get("cpu") or {}).get("others_cores")
        lines.append(
            f"| {label} | {_fmt(one.get('throughput'))} "
            f"| {_fmt(one.get('p50_ms'))} / {_fmt(one.get('p99_ms'))} "
            f"| {_fmt(many.get('throughput'))} | {_fmt(many.get('p50_ms'))} / {_fmt(many.get('p99_ms'))} "
            f"| {errors} | {_fmt(row.get('start_to_first_answer_s'))} s | {rss} "
            f"| {_fmt(others, 2)} of {results['machine']['cpus']} |"
        )
    c = results.get("comparison") or {}
    notes = []
    if "throughput_ratio" in c:
        met = "met" if c["throughput_target_met"] else "NOT met"
        notes.append(
            f"throughput at {n} senders, Haven / baseline: **{c['throughput_ratio']:.2f}** "
            f"(target ≥ {TARGET_THROUGHPUT_RATIO}: {met})"
        )
    if "p50_ms_1_sender" in c:
        met = "met" if c["p50_target_met"] else "NOT met"
        notes.append(
            f"p50 at 1 sender: **{c['p50_ms_1_sender']:.1f} ms** (target < {TARGET_P50_MS:.0f} ms: {met})"
        )
    if "p50_ratio_1_sender" in c:
        notes.append(f"p50 at 1 sender, Haven / baseline: {c['p50_ratio_1_sender']:.2f}")
    if "throughput_ratio_fix_vs_stock_rasa" in c:
        notes.append(
            f"throughput at {n} senders, Haven / Haven on stock `rasa run`: "
            f"{c['throughput_ratio_fix_vs_stock_rasa']:.2f}"
        )
    if "rasa_rss_growth_mb" in c:
        met = "met" if c["rasa_rss_growth_target_met"] else "NOT met"
        notes.append(
            f"Rasa server RSS after the load, Haven − baseline: **{c['rasa_rss_growth_mb']:+.0f} MB** "
            f"(target ≤ +{TARGET_RASA_RSS_GROWTH_MB:.0f} MB: {met})"
        )
    train = results.get("training") or {}
    if train.get("seconds") is not None:
        met = "met" if c.get("training_target_met") else "NOT met"
        notes.append(
            f"full training (`rasa train --force`): **{train['seconds']:.0f} s** "
            f"(target ≤ {TARGET_TRAINING_S:.0f} s: {met}; others' CPU meanwhile "
            f"{_fmt(train.get('others_cores'), 2)} of {results['machine']['cpus']})"
        )
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {x}" for x in notes) + "\n"


def save(results: Dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"results-{results['started'][:16].replace(':', '')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    update_doc(results, path)
    return path


def update_doc(results: Dict[str, Any], path: Path) -> None:
    """Replaces the block between the result markers in docs/benchmarks.md and adds a history line."""
    if not DOC.is_file():
        return
    text = DOC.read_text()
    m, o = results["machine"], results["options"]
    when = results["started"][:16].replace("T", " ")
    header = (
        f"Latest run: {when}, commit {m['commit']}"
        f"{' with uncommitted changes' if m['uncommitted_changes'] else ''}, {m['cpus']} × {m['cpu']}, "
        f"load average {m['load_average_at_start'][0]} at the start; {o['rounds']} interleaved round(s) of "
        f"{o['single']:.0f} s at 1 sender and {o['concurrent']:.0f} s at {o['senders']} senders per run"
        f"{'; ' + results['note'] if results.get('note') else ''}. "
        f"Raw numbers: `{path.relative_to(ROOT)}`.\n\n"
    )
    block = header + markdown_table(results)
    text = re.sub(
        r"(<!-- results:begin -->\n).*?(<!-- results:end -->)",
        lambda x: x.group(1) + block + x.group(2),
        text,
        flags=re.S,
    )
    c, n = results.get("comparison") or {}, o["senders"]
    hn = _load(results.get("haven"), n) or {}
    line = (
        f"| {when} | {m['commit']} | {_fmt(hn.get('throughput'))} | {_fmt(c.get('throughput_ratio'), 2)} "
        f"| {_fmt(c.get('p50_ms_1_sender'))} | {_fmt((hn.get('cpu') or {}).get('others_cores'), 2)} "
        f"| {results.get('note') or ''} |\n"
    )
    text = text.replace("<!-- history:end -->", line + "<!-- history:end -->")
    DOC.write_text(text)


def main(argv: Optional[List[str]] = None) -> int:
    opts = parse(argv)
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    started = datetime.now().isoformat(timespec="seconds")
    info = machine()
    say(
        f"make bench{' (quick)' if opts.quick else ''}: {info['cpus']} × {info['cpu']}, load average "
        f"{info['load_average_at_start']} at the start (other work on the machine makes every number worse)"
    )
    results: Dict[str, Any] = {
        "started": started,
        "note": opts.note,
        "machine": info,
        "options": {k: v for k, v in vars(opts).items() if k != "note"},
    }
    runs: List[Run] = []
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as name:
        tmp = Path(name)
        try:
            if opts.train:
                results["training"] = measure_training(tmp)
            starters = [("haven", lambda: start_haven(tmp))]
            if opts.stock_rasa:
                starters.append(("haven_stock_rasa", lambda: start_haven_stock_rasa(tmp)))
            if opts.baseline:
                starters.append(("baseline", lambda: start_baseline(tmp)))
            if opts.scale_out:
                starters.append(("scale_out", lambda: start_scale_out(tmp, opts.workers)))
            for key, start in starters:
                try:
                    runs.append(start())
                except Skip as reason:
                    say(f"    skipped: {reason}")
                    results[key] = {"skipped": str(reason)}
            if not runs or runs[0].key != "haven":
                raise SystemExit("Haven itself did not start; nothing to measure")
            say(
                f"Load: {opts.rounds} interleaved round(s); each run gets {opts.single:.0f} s at 1 sender "
                f"and {opts.concurrent:.0f} s at {opts.senders} senders per round, after "
                f"{opts.warmup:.0f} s of warm-up."
            )
            measure(runs, opts)
        finally:
            for run in reversed(runs):
                run.stop()
    for run in runs:
        results[run.key] = {"label": run.label, **run.result}
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    results["comparison"] = comparison(results, opts.senders)
    say("\n" + markdown_table(results))
    if opts.save:
        say(f"Saved {save(results).relative_to(ROOT)} and updated {DOC.relative_to(ROOT)}.")
    return exit_status(results, opts.senders)


if __name__ == "__main__":
    sys.exit(main())
