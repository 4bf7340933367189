"""Where a Haven turn's time goes: the Rasa agent in this process, timed piece by piece.

Loads models/haven.tar.gz into an in-process Rasa agent (the same code `rasa run` serves), starts the
real action server (its own process, a throw-away SQLite database), and plays the load generator's
Haven conversations one after another (haven_devtools/loadgen.py: articles, crisis, bookings, small talk).
Timers wrap:

  - every graph node (each NLU component, each policy, the prediction selection), by node name;
  - NLU parsing as a whole, each policy prediction, each custom-action call split into building the
    request (tracker and domain as JSON), the HTTP round trip (action server included) and Rasa's
    check of the response against its JSON schema;
  - the tracker store.

Afterwards each custom-action request seen is replayed once straight into rasa_sdk's ActionExecutor
in this process, which times the actions themselves (content lookup, database access) without HTTP;
each action's first request is played once before, untimed, so what an action loads on its first call
(the knowledge base, the FAQ's vectors) is not averaged into its time per call.

    scripts/profile_turn.py                    # 300 conversations, with the launcher's Rasa fix
    scripts/profile_turn.py --stock-rasa       # without it (Rasa 3.6 as shipped)
    scripts/profile_turn.py --compare          # every conversation twice, without and with the fix
    scripts/profile_turn.py --cprofile out.prof  # plus a cProfile of the whole run (snakeviz, pstats)

Timings are wall-clock per turn, sequential, so other work on the machine inflates them; the shares
are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from haven.ops import processes
from haven.settings import ROOT
from haven_devtools import loadgen

# Wall times by variant ("stock" or "fixed" Rasa response check), then by what was timed.
TIMES: Dict[str, Dict[str, List[float]]] = defaultdict(lambda: defaultdict(list))
CAPTURED: List[Tuple[str, Dict[str, Any]]] = []  # (variant, action server request)
VARIANT = ["fixed"]  # the variant the current conversation runs under


def timed(owner: Any, attribute: str, label: Callable[..., str] | str) -> None:
    """Wraps owner.attribute (sync or async) to add its wall time to TIMES[variant][label]."""
    original = getattr(owner, attribute)
    name = label if callable(label) else (lambda *a, **k: label)

    def record(began: float, args: Any, kwargs: Any) -> None:
        TIMES[VARIANT[0]][name(*args, **kwargs)].append(time.perf_counter() - began)

    if asyncio.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                record(began, args, kwargs)

    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(began, args, kwargs)

    setattr(owner, attribute, wrapper)


def instrument() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.engine.graph import GraphNode
    from rasa.utils.endpoints import EndpointConfig

    timed(Agent, "handle_message", "turn (Agent.handle_message)")
    timed(MessageProcessor, "parse_message", "NLU: parse (whole pipeline)")
    timed(MessageProcessor, "_predict_next_with_tracker", "policies: one prediction (whole graph)")
    timed(MessageProcessor, "_run_action", "actions: run one (any kind)")
    timed(RemoteAction, "run", "custom action: whole call")
    timed(RemoteAction, "_action_call_format", "custom action: build request (tracker, domain)")
    timed(RemoteAction, "_validate_action_result", "custom action: response schema check")
    timed(EndpointConfig, "request", "custom action: HTTP round trip (action server incl.)")
    timed(InMemoryTrackerStore, "retrieve", "tracker store: retrieve")
    timed(InMemoryTrackerStore, "save", "tracker store: save")
    timed(GraphNode, "__call__", lambda self, *a, **k: f"graph node: {self._node_name}")

    original = EndpointConfig.request

    async def capture(self: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("json"), dict) and "next_action" in kwargs["json"]:
            CAPTURED.append((VARIANT[0], json.loads(json.dumps(kwargs["json"]))))
        return await original(self, *args, **kwargs)

    EndpointConfig.request = capture  # type: ignore[method-assign]


def start_action_server(tmp: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "SANIC_HOST": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=open(tmp / "actions.log", "wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=processes.die_with_parent,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit((tmp / "actions.log").read_text()[-2000:]) from None
            time.sleep(0.3)
    raise SystemExit("the action server did not start")


async def play(agent: Any, conversations: int, seed: int, variants: Dict[str, Callable]) -> Dict:
    """Plays the conversations; each one once under every variant, with the same random choices, so
    the variants see the very same messages under the same machine load."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    per_kind: Dict[str, Dict[str, List[float]]] = {v: defaultdict(list) for v in variants}
    weights = [s.weight for s in loadgen.HAVEN_MIX]
    for number in range(conversations):
        for variant, check in variants.items():
            VARIANT[0] = variant
            RemoteAction._validate_action_result = check
            rng = random.Random(seed * 100_000 + number)
            scenario = rng.choices(loadgen.HAVEN_MIX, weights)[0]
            sender = f"profile-{variant}-{number:04d}"

            async def say(
                text: str, kind: str = scenario.name, sender: str = sender, v: str = variant
            ) -> Any:
                channel = CollectingOutputChannel()
                began = time.perf_counter()
                await agent.handle_message(UserMessage(text, channel, sender))
                per_kind[v][kind].append(time.perf_counter() - began)
                return channel.messages

            await scenario.run(say, rng)
    return per_kind


async def replay_actions(variant: str) -> Dict[str, List[float]]:
    """Each action request of one variant once more, straight into rasa_sdk's executor (no HTTP), after
    one untimed call of each action."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    times: Dict[str, List[float]] = defaultdict(list)
    calls = [call for seen, call in CAPTURED if seen == variant]
    first = {call["next_action"]: call for call in reversed(calls)}
    for call in first.values():  # warm-up: loads on first use, not counted
        await executor.run(json.loads(json.dumps(call)))
    for call in calls:
        began = time.perf_counter()
        await executor.run(call)
        times[call["next_action"]].append(time.perf_counter() - began)
    return times


def table(title: str, rows: Dict[str, List[float]], turns: int, total: float) -> None:
    print(f"\n{title}")
    print(f"  {'what':64s} {'calls/turn':>10s} {'ms/call':>8s} {'ms/turn':>8s} {'share':>6s}")
    for name, values in sorted(rows.items(), key=lambda kv: -sum(kv[1])):
        per_turn = sum(values) / turns * 1000
        print(
            f"  {name[:64]:64s} {len(values) / turns:10.2f} {sum(values) / len(values) * 1000:8.2f} "
            f"{per_turn:8.2f} {per_turn / total * 100 if total else 0:5.1f}%"
        )


def report(variant: str, per_kind: Dict[str, List[float]], trackers: Dict[str, str]) -> float:
    times = TIMES[variant]
    turns = sum(len(v) for v in per_kind.values())
    total = sum(times["turn (Agent.handle_message)"]) / turns * 1000
    label = "stock Rasa 3.6 response check" if variant == "stock" else "with haven.plugins.rasa_server's fix"
    load = os.getloadavg()[0]
    print(f"\n=== {label}: {turns} turns, {total:.1f} ms per turn on average (load average {load:.2f})")
    print(
        "Per conversation kind, ms per turn: "
        + ", ".join(
            f"{k} {sum(v) / len(v) * 1000:.1f} "
            f"(p50 {loadgen.percentile([x * 1000 for x in v], 50):.1f}, n={len(v)})"
            for k, v in sorted(per_kind.items())
        )
    )
    sizes = [len(v) for k, v in trackers.items() if k.startswith(f"profile-{variant}-")]
    if sizes:
        print(
            f"In-memory tracker store: {sum(sizes) / len(sizes) / 1024:.1f} KB of JSON per conversation "
            f"on average (largest {max(sizes) / 1024:.1f} KB), kept for the process's life."
        )
    stages = {k: v for k, v in times.items() if not k.startswith("graph node")}
    nodes = {k: v for k, v in times.items() if k.startswith("graph node")}
    table("Stages (inclusive: a whole call contains its parts)", stages, turns, total)
    table("Graph nodes (NLU components and policies)", nodes, turns, total)
    return total


async def main_async(args: argparse.Namespace, tmp: Path) -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    from haven.plugins.rasa_server import install_action_response_validator

    port = processes.free_port()
    os.environ["HAVEN_ACTION_URL"] = f"http://127.0.0.1:{port}/webhook"
    # endpoints.yml sends the token and the action server checks it (both read it from the environment)
    os.environ.setdefault("HAVEN_ACTION_TOKEN", secrets.token_urlsafe(32))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'profile.db'}"
    os.environ["HAVEN_TRACKER_DB"] = str(tmp / "tracker.db")  # endpoints.yml's SQL tracker store, throw-away
    server = start_action_server(tmp, port)
    try:
        endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
        agent = await load_agent(model_path=str(ROOT / "models" / processes.MODEL_FILE), endpoints=endpoints)
        instrument()  # times the stock check...
        stock = RemoteAction._validate_action_result
        install_action_response_validator()
        timed(RemoteAction, "_validate_action_result", "custom action: response schema check")  # ...and ours
        fixed = RemoteAction._validate_action_result
        if args.compare:
            variants = {"stock": stock, "fixed": fixed}
        else:
            variants = {"stock": stock} if args.stock_rasa else {"fixed": fixed}
        await play(agent, 10, seed=1, variants=variants)  # warm-up, not counted
        TIMES.clear()
        CAPTURED.clear()
        profiler = cProfile.Profile() if args.cprofile else None
        if profiler:
            profiler.enable()
        per_kind = await play(agent, args.conversations, seed=2, variants=variants)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
    finally:
        server.terminate()
        server.wait(timeout=30)
    store = agent.tracker_store
    trackers = getattr(getattr(store, "_tracker_store", store), "store", {})
    totals = {variant: report(variant, per_kind[variant], trackers) for variant in variants}
    turns = sum(len(v) for v in per_kind[next(iter(variants))].values())
    action_times = await replay_actions(next(iter(variants)))
    table(
        "The actions themselves, replayed in-process (rasa_sdk executor, no HTTP)",
        action_times,
        turns,
        totals[next(iter(variants))],
    )
    if args.compare:
        print(
            f"\nSame {turns} turns: {totals['stock']:.1f} ms per turn with the stock check, "
            f"{totals['fixed']:.1f} ms with the fix ({totals['stock'] / totals['fixed']:.2f}x)."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--stock-rasa", action="store_true", help="leave Rasa's response check as shipped")
    parser.add_argument("--compare", action="store_true", help="every conversation with and without the fix")
    parser.add_argument("--cprofile", help="write a cProfile of the measured conversations to this file")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.ERROR)
    configure_structlog(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="haven-profile-") as tmp:
        asyncio.run(main_async(args, Path(tmp)))


if __name__ == "__main__":
    main()
