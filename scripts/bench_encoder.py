"""`make bench-encoder`: the sentence encoder's speed, load time and memory, per runtime and core count.

For each runtime (the shipped onnxruntime graph, the numpy reference, and with --tf a TensorFlow 2.12
tf.function of the same forward pass, measured only to compare) and each thread count (1 and 2 by
default), a fresh worker process (so load time and memory are its own) prints:

  - load: seconds from importing haven.encoder to a ready encoder (hash check included), and resident
    memory after it (RSS now and at its peak);
  - ms/message, median and p95, for one message of 10, 22, 64, 143 and 256 positions ([CLS] and [SEP]
    included), and per message in a batch of 32 such messages;
  - one chunked message: 100 000 characters of prose, and 10 000 emoji (with spaces, so they are words),
    through chunks() + encode_chunks(): ms per message and the number of chunks.

The cache is off (cache_size=0) so every call computes. Numbers only, nothing is asserted: the tests
check correctness, and the numbers and the choice they led to are in docs/sentence-encoder.md.

    scripts/bench_encoder.py                    # onnx and reference, 1 and 2 threads
    scripts/bench_encoder.py --tf --threads 1 2 4
    scripts/bench_encoder.py --quick            # fewer repeats
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
POSITIONS = (10, 22, 64, 143, 256)
WORDS = "she said that the long winter had finally ended and the garden was green again".split()
PROSE = (
    "I went for a long walk by the river this morning and the light on the water was beautiful. "
    "Afterwards I made pancakes with blueberries and lemon, which my grandmother used to make for us. "
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def text_of_positions(encoder, positions: int, salt: int = 0) -> str:
    words = [WORDS[(i + salt) % len(WORDS)] for i in range(positions - 2)]
    text = " ".join(words)
    assert encoder.token_count(text) == positions - 2
    return text


def timed(function, repeats: int) -> List[float]:
    function()  # warm-up (first-run allocations, the graph's shape specialisation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times_ms: List[float], per: int = 1) -> Dict[str, float]:
    ordered = sorted(t / per for t in times_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


def tf_runner(weights, threads: int):
    """The forward pass of haven/encoder/reference.py as a TensorFlow 2.12 tf.function (bench only)."""
    import tensorflow as tf

    from haven_devtools.tf_encoder import forward

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    w = {name: tf.constant(value) for name, value in weights.items() if value.dtype.kind == "f"}
    spec = tf.TensorSpec([None, None], tf.int64)
    run = tf.function(forward(w), input_signature=[spec, spec])
    return lambda ids, mask: run(ids, mask).numpy()


def worker(runtime: str, threads: int, quick: bool) -> Dict:
    """Measures one runtime at one thread count in this process; returns the numbers."""
    start = time.perf_counter()
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)  # numpy's BLAS, for the reference (and anything else using it)
    from haven.encoder import Encoder

    if runtime == "tf":
        encoder = Encoder(runtime="reference", cache_size=0)
        from haven.encoder.weights import load_weights

        encoder._run = tf_runner(load_weights(encoder.model_dir / "model.safetensors"), threads)
        encoder.encode(["warm up the tf.function"])
    else:
        encoder = Encoder(runtime=runtime, cache_size=0, threads=threads)
    result: Dict = {
        "runtime": runtime,
        "threads": threads,
        "load_s": round(time.perf_counter() - start, 2),
        "rss_after_load_mb": round(rss_mb()),
    }
    slow = runtime == "reference"
    single_repeats = (5 if quick else 15) if slow else (10 if quick else 50)
    batch_repeats = (1 if quick else 3) if slow else (3 if quick else 10)
    for positions in POSITIONS:
        text = text_of_positions(encoder, positions)
        result[f"single_{positions}"] = summary(timed(lambda t=text: encoder.encode([t]), single_repeats))
        batch = [text_of_positions(encoder, positions, salt) for salt in range(32)]
        result[f"batch32_{positions}"] = summary(
            timed(lambda b=batch: encoder.encode(b), batch_repeats), per=32
        )
    long_inputs = {"chunked_100k_chars": (PROSE * 600)[:100_000], "chunked_10k_emoji": "😢 " * 10_000}
    for name, text in long_inputs.items():
        result[name] = summary(timed(lambda t=text: encoder.encode_chunks(t), 2 if slow else 10))
        result[name]["chunks"] = len(encoder.chunks(text))
    result["peak_rss_mb"] = round(peak_rss_mb())
    return result


def print_table(results: List[Dict]) -> None:
    columns = [f"{r['runtime']}/{r['threads']}t" for r in results]
    print(f"{'ms per message (median / p95)':34}" + "".join(f"{c:>20}" for c in columns))
    rows = [f"single_{p}" for p in POSITIONS] + [f"batch32_{p}" for p in POSITIONS]
    rows += ["chunked_100k_chars", "chunked_10k_emoji"]
    for row in rows:
        label = row.replace("single_", "1 message, ").replace("batch32_", "batch of 32, per message, ")
        label = label + " pos" if row[-1].isdigit() else label
        cells = []
        for r in results:
            m = r[row]
            extra = f" ({m['chunks']}ch)" if "chunks" in m else ""
            cells.append(f"{m['median']:.1f} / {m['p95']:.1f}{extra}")
        print(f"{label:34}" + "".join(f"{c:>20}" for c in cells))
    for key, label in (
        ("load_s", "load (s)"),
        ("rss_after_load_mb", "RSS after load (MB)"),
        ("peak_rss_mb", "peak RSS (MB)"),
    ):
        print(f"{label:34}" + "".join(f"{r[key]:>20}" for r in results))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--runtimes", nargs="+", default=["onnx", "reference"], choices=["onnx", "reference", "tf"]
    )
    parser.add_argument("--tf", action="store_true", help="also measure the TensorFlow variant")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", nargs=2, metavar=("RUNTIME", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.quick)))
        return 0
    runtimes = args.runtimes + (["tf"] if args.tf and "tf" not in args.runtimes else [])
    results = []
    for runtime in runtimes:
        for threads in args.threads:
            command = [sys.executable, __file__, "--worker", runtime, str(threads)] + (
                ["--quick"] if args.quick else []
            )
            print(f"measuring {runtime} on {threads} thread(s)…", file=sys.stderr, flush=True)
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
