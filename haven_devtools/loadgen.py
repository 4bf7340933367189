"""A load generator for Rasa's REST channel, and the process-memory readings that go with it.

Shared by `scripts/bench.py` (`make bench`), `scripts/profile_turn.py` and `tests/test_load.py`.
Each concurrent *sender* is one visitor after another: it picks a scenario by weight (an article
question, a crisis message, a whole booking, small talk), runs it as one conversation under its own
sender id (`bench-s03-c0012`: sender 3, its 12th conversation), and starts the next one as soon as
it ends. There is no think time, so N senders keep up to N requests in flight: a closed loop.

A request counts as an error unless it returns HTTP 200 with a non-empty list of replies (every
Haven message is answered). After an error that conversation is abandoned and the sender starts a
new one, so one failure does not cascade into a run of out-of-step messages.

    report = asyncio.run(run_load("http://127.0.0.1:5005", senders=20, seconds=30, mix=HAVEN_MIX))
    print(report.summary())

`python -m haven_devtools.loadgen http://127.0.0.1:5005 --senders 20 --seconds 30` does the same from a shell.
Scenario functions only need a `say(text) -> replies` coroutine, so the profiler drives the very same
conversations through an in-process Rasa agent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from haven_devtools import rest_client

Reply = List[Dict[str, Any]]
Say = Callable[[str], Awaitable[Reply]]


# ----------------------------------------------------------------------------------------- scenarios
# Messages in visitors' own words (not copied from the training or held-out data) and button payloads,
# as the widget sends them. Crisis messages are among the e2e tests' own examples.
ARTICLE_QUESTIONS = (
    "why do I still feel attached to him after everything he did?",
    "what is a trauma bond exactly",
    "is what happened to me betrayal trauma?",
    "how are the betrayal and the attachment connected",
    "why am I always on edge and can't stop checking his phone",
    "am I just weak for not leaving?",
    "I know he's bad for me, so why can't I walk away",
    "how do I actually start healing from this",
    "what happens in the free consultation?",
    "/what_is_trauma_bond",
    "/why_still_attached",
    "/how_to_heal",
)
CRISIS_MESSAGES = (
    "honestly everyone would be better off without me",
    "i want to end my life",
    "he said he will kill me if I leave",
    "I've been cutting myself again",
)
SMALL_TALK = (
    "hi",
    "thank you",
    "am I talking to a real person?",
    "what's the weather in Boston tomorrow?",
    "bye",
)
NAMES = ("Robin", "Sky", "Kai", "Ash", "Lee", "Sam")


def _slot_payloads(replies: Reply) -> List[str]:
    return [
        b["payload"]
        for r in replies
        for b in r.get("buttons") or []
        if "time_choice" in b.get("payload", "") and '"none"' not in b["payload"]
    ]


async def article(say: Say, rng: random.Random) -> None:
    """One to three article questions, with "Tell me more" half of the time."""
    await say(rng.choice(ARTICLE_QUESTIONS))
    if rng.random() < 0.5:
        await say("/tell_me_more")
    if rng.random() < 0.3:
        await say(rng.choice(ARTICLE_QUESTIONS))


async def crisis(say: Say, rng: random.Random) -> None:
    """A crisis message (crisis reply, then the safety follow-up action), sometimes one more turn."""
    await say(rng.choice(CRISIS_MESSAGES))
    if rng.random() < 0.5:
        await say(rng.choice(("thank you", "/how_to_heal")))


async def booking(say: Say, rng: random.Random) -> None:
    """A whole booking, six turns: start, name, contact, a time, consent, confirm.

    The time is one of the offered slots picked at random (so 20 senders rarely race for the same
    one); when none is offered any more, a free-text preference, as a visitor would type it.
    """
    await say(rng.choice(("/book_consultation", "I'd like to book the free consultation")))
    name = rng.choice(NAMES)
    await say(name)
    offer = await say(f"{name.lower()}{rng.randrange(1000)}@example.org")
    slots = _slot_payloads(offer)
    await say(rng.choice(slots) if slots else "weekday evenings")
    await say(rng.choice(("/affirm", "yes")))  # consent
    await say("/affirm")  # confirm


async def small_talk(say: Say, rng: random.Random) -> None:
    """A greeting, thanks, a bot challenge, an off-topic question or goodbye (one or two turns)."""
    await say(rng.choice(SMALL_TALK))
    if rng.random() < 0.3:
        await say(rng.choice(SMALL_TALK))


# The stock `rasa init` assistant (moodbot) for the baseline: the same shape of traffic, one to four
# turns per conversation, nothing it was not trained for.
async def mood_unhappy(say: Say, rng: random.Random) -> None:
    await say(rng.choice(("hi", "hello there", "good morning")))
    await say(rng.choice(("I am sad", "very sad", "unhappy", "not good")))
    await say(rng.choice(("yes", "no", "indeed", "never")))
    if rng.random() < 0.5:
        await say(rng.choice(("bye", "goodbye", "see you later")))


async def mood_great(say: Say, rng: random.Random) -> None:
    await say(rng.choice(("hey", "hello", "hi there")))
    await say(rng.choice(("perfect", "great", "I am feeling very good", "amazing")))


async def mood_short(say: Say, rng: random.Random) -> None:
    await say(rng.choice(("are you a bot?", "am I talking to a human?", "bye", "goodbye")))


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: float
    run: Callable[[Say, random.Random], Awaitable[None]]


# Weights chosen so messages split roughly: articles 40%, booking 30%, crisis 10%, small talk 20%.
HAVEN_MIX = (
    Scenario("article", 0.35, article),
    Scenario("booking", 0.10, booking),
    Scenario("crisis", 0.15, crisis),
    Scenario("small_talk", 0.40, small_talk),
)
MOODBOT_MIX = (
    Scenario("mood_unhappy", 0.40, mood_unhappy),
    Scenario("mood_great", 0.30, mood_great),
    Scenario("mood_short", 0.30, mood_short),
)
MIXES = {"haven": HAVEN_MIX, "moodbot": MOODBOT_MIX}


# ----------------------------------------------------------------------------------------- statistics
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Sample:
    scenario: str
    started: float  # time.monotonic()
    latency_ms: float
    error: Optional[str] = None
    in_window: bool = True  # completed before the end of the measured window


@dataclass
class LoadReport:
    """What one load run measured. Only requests that completed inside the window count towards
    throughput and latency; every request (also the ones still in flight at the end) counts for errors."""

    url: str
    mix: str
    senders: int
    seconds: float  # the measured window, wall clock
    requests: int
    errors: int
    conversations: int
    throughput: float  # successful messages per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    by_scenario: Dict[str, Dict[str, float]] = field(default_factory=dict)
    error_samples: List[str] = field(default_factory=list)
    samples: List[Sample] = field(default_factory=list, repr=False)

    def as_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data.pop("samples")
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in data.items()}

    def summary(self) -> str:
        errors = f", {self.errors} ERRORS (e.g. {self.error_samples[0]})" if self.errors else ", no errors"
        return (
            f"{self.senders:>2} sender(s), {self.seconds:.0f}s: {self.throughput:.1f} msg/s, "
            f"p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"max {self.max_ms:.0f} ms; {self.requests} requests, {self.conversations} conversations{errors}"
        )


def make_report(
    url: str, mix: str, senders: int, window: float, samples: List[Sample], conversations: int
) -> LoadReport:
    """Statistics over samples: throughput and latency from the successful requests completed inside
    the window, errors from all."""
    good = [s for s in samples if s.error is None and s.in_window]
    latencies = [s.latency_ms for s in good]
    errors = [s for s in samples if s.error is not None]
    by_scenario: Dict[str, Dict[str, float]] = {}
    for name in sorted({s.scenario for s in good}):
        mine = [s.latency_ms for s in good if s.scenario == name]
        by_scenario[name] = {
            "requests": len(mine),
            "share": round(len(mine) / len(good), 3),
            "p50_ms": round(percentile(mine, 50), 2),
            "p99_ms": round(percentile(mine, 99), 2),
        }
    return LoadReport(
        url=url,
        mix=mix,
        senders=senders,
        seconds=window,
        requests=len(good) + len(errors),
        errors=len(errors),
        conversations=conversations,
        throughput=len(good) / window if window > 0 else math.nan,
        p50_ms=percentile(latencies, 50),
        p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99),
        mean_ms=sum(latencies) / len(latencies) if latencies else math.nan,
        max_ms=max(latencies) if latencies else math.nan,
        by_scenario=by_scenario,
        error_samples=sorted({e.error or "" for e in errors})[:5],
        samples=samples,
    )


def combine(reports: Sequence[LoadReport]) -> LoadReport:
    """One report over several windows of the same load (e.g. rounds interleaved with other runs)."""
    first = reports[0]
    return make_report(
        first.url,
        first.mix,
        first.senders,
        sum(r.seconds for r in reports),
        [s for r in reports for s in r.samples],
        sum(r.conversations for r in reports),
    )


# ----------------------------------------------------------------------------------------- the runner
class _Abandon(Exception):
    """A request failed: the rest of this conversation is skipped."""


async def run_load(
    url: str,
    senders: int,
    seconds: float,
    mix: Sequence[Scenario] = HAVEN_MIX,
    *,
    seed: int = 7,
    timeout: float = 30.0,
    sender_prefix: str = "bench",
    metadata: Optional[Dict[str, Any]] = None,
) -> LoadReport:
    """`senders` concurrent visitors against `url` (the Rasa server's base URL) for `seconds`."""
    import aiohttp  # a Rasa dependency; imported here so the scenarios load without it

    endpoint = rest_client.webhook(url)
    mix_name = next((k for k, v in MIXES.items() if v == tuple(mix)), "custom")
    samples: List[Sample] = []
    conversations = 0
    start = time.monotonic()
    deadline = start + seconds
    weights = [s.weight for s in mix]

    connector = aiohttp.TCPConnector(limit=senders + 2, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def sender(index: int) -> None:
            nonlocal conversations
            rng = random.Random(seed * 1000 + index)
            number = 0
            while time.monotonic() < deadline:
                scenario = rng.choices(mix, weights)[0]
                sender_id = f"{sender_prefix}-s{index:02d}-c{number:04d}"
                number += 1
                conversations += 1

                async def say(text: str, scenario: Scenario = scenario, sender_id: str = sender_id) -> Reply:
                    if time.monotonic() >= deadline:
                        raise _Abandon()
                    body: Dict[str, Any] = {"sender": sender_id, "message": text}
                    if metadata:
                        body["metadata"] = metadata
                    began = time.monotonic()
                    error, replies = None, []
                    try:
                        async with session.post(endpoint, json=body) as response:
                            raw = await response.read()
                            if response.status != 200:
                                error = f"HTTP {response.status}: {raw[:120]!r}"
                            else:
                                replies = json.loads(raw)
                                if not isinstance(replies, list) or not replies:
                                    error = f"no reply to {text[:40]!r}"
                    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                        error = f"{type(exc).__name__}: {exc}"[:160]
                    elapsed = (time.monotonic() - began) * 1000
                    samples.append(Sample(scenario.name, began, elapsed, error))
                    if error:
                        raise _Abandon()
                    return replies

                try:
                    await scenario.run(say, rng)
                except _Abandon:
                    pass

        await asyncio.gather(*(sender(i) for i in range(senders)))
    for sample in samples:
        sample.in_window = sample.started + sample.latency_ms / 1000 <= deadline
    window = min(seconds, max(0.0, time.monotonic() - start))
    return make_report(url, mix_name, senders, window, samples, conversations)


async def wait_for_answer(url: str, timeout: float, interval: float = 0.25, text: str = "hi") -> float:
    """Seconds until the REST channel first answers `text` with a reply (connection errors retried)."""
    import aiohttp

    endpoint = rest_client.webhook(url)
    began = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while time.monotonic() - began < timeout:
            try:
                async with session.post(endpoint, json={"sender": "bench-first", "message": text}) as r:
                    if r.status == 200 and await r.json():
                        return time.monotonic() - began
            except (TimeoutError, aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(interval)
    raise TimeoutError(f"no answer from {endpoint} within {timeout:.0f}s")


# ----------------------------------------------------------------------------------------- memory
def children(pid: int) -> List[int]:
    """Direct children of a process (from /proc; empty when it is gone)."""
    found: List[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return found
    return found


def process_tree(pid: int) -> List[int]:
    """The process and all its descendants (sanic workers are children of the server process)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children(current)
    return tree


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def memory_mb(pid: int) -> Dict[str, float]:
    """Resident memory of a process with its descendants, in MB: `rss` sums VmRSS (counts pages
    shared by forked workers once per process), `pss` shares them out (the honest total)."""
    pids = process_tree(pid)
    return {
        "rss_mb": round(sum(_status_kb(p, "VmRSS") for p in pids) / 1024, 1),
        "pss_mb": round(sum(_pss_kb(p) for p in pids) / 1024, 1),
        "processes": len(pids),
    }


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


# ----------------------------------------------------------------------------------------- CLI
def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Load Rasa's REST channel with concurrent senders.")
    parser.add_argument("url", help="the Rasa server, e.g. http://127.0.0.1:5005")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--mix", choices=sorted(MIXES), default="haven")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    result = asyncio.run(run_load(args.url, args.senders, args.seconds, MIXES[args.mix], seed=args.seed))
    print(json.dumps(result.as_dict(), indent=2) if args.json else result.summary())
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
