"""Pipeline engine overhead and scheduling throughput, on a real server.

1. Overhead: a 5-step chain of no-op processing steps (caching off), from the client's
   POST of the execution to the execution's Completed status seen by the client. Goal:
   under 3 s (the managed service takes minutes per step). Also printed: the same five
   jobs submitted one after another by hand, so the engine's own share shows.
2. Throughput: 100 executions of a 3-step chain started at once; executions per minute
   until the last one ends, and a check that no step was lost or run twice (exactly one
   completed job per step, none failed).

Usage: python benchmarks/bench_pipelines.py [RUNS] [EXECUTIONS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from shipyard.testing import LocalServer

NOOP = {"script": {"filename": "noop.py", "source": "pass\n"}}
DONE = {"Succeeded", "Failed", "Stopped"}


def chain(name: str, n: int) -> dict:
    steps = [{"name": f"s{i}", "type": "processing", "job": NOOP, "cache": False,
              **({"depends_on": [f"s{i - 1}"]} if i else {})} for i in range(n)]
    return {"name": name, "steps": steps}


def wait_execution(client: httpx.Client, ex_id: str, poll: float = 0.01) -> dict:
    while (ex := client.get(f"/api/v1/pipeline-executions/{ex_id}").json())["status"] \
            not in DONE:
        time.sleep(poll)
    return ex


def by_hand(client: httpx.Client, n: int) -> float:
    """The same n jobs, each submitted when the previous one completed."""
    t0 = time.time()
    for _ in range(n):
        job = client.post("/api/v1/jobs", json={"kind": "processing", **NOOP}).json()
        while client.get(f"/api/v1/jobs/{job['id']}").json()["status"] not in (
                "Completed", "Failed", "Stopped"):
            time.sleep(0.01)
    return time.time() - t0


def overhead(client: httpx.Client, runs: int) -> None:
    client.post("/api/v1/pipelines", json=chain("five", 5)).raise_for_status()
    times, hand = [], []
    for i in range(runs + 1):  # the first run warms up and is not counted
        t0 = time.time()
        ex = client.post("/api/v1/pipelines/five/executions", json={}).json()
        done = wait_execution(client, ex["id"])
        if done["status"] != "Succeeded":
            raise SystemExit(f"execution {ex['id']} ended {done['status']}: {done['reason']}")
        if i:
            times.append(time.time() - t0)
            hand.append(by_hand(client, 5))
    print(f"5-step no-op pipeline, start -> Succeeded: p50 {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s over {runs} runs (goal < 3 s)")
    print(f"the same 5 jobs submitted by hand one after another: p50 "
          f"{statistics.median(hand):.2f} s; engine overhead per step ~"
          f"{(statistics.median(times) - statistics.median(hand)) / 5 * 1000:.0f} ms")


def throughput(client: httpx.Client, n: int) -> None:
    client.post("/api/v1/pipelines", json=chain("three", 3)).raise_for_status()
    t0 = time.time()
    ids = [client.post("/api/v1/pipelines/three/executions", json={}).json()["id"]
           for _ in range(n)]
    started = time.time() - t0
    done = [wait_execution(client, i, poll=0.2) for i in ids]
    elapsed = time.time() - t0
    ok = sum(d["status"] == "Succeeded" for d in done)
    jobs = client.get("/api/v1/jobs", params={"limit": 1000}).json()
    mine = [j for j in jobs if (j.get("tags") or {}).get("pipeline") == "three"]
    per_step: dict[tuple[str, str], int] = {}
    for j in mine:
        if j["status"] == "Completed":
            key = (j["tags"]["pipeline_execution"], j["tags"]["pipeline_step"])
            per_step[key] = per_step.get(key, 0) + 1
    lost = 3 * n - len(per_step)
    doubled = sum(c > 1 for c in per_step.values())
    failed = sum(j["status"] != "Completed" for j in mine)
    print(f"{n} executions of a 3-step pipeline started in {started:.1f} s; all ended after "
          f"{elapsed:.1f} s: {ok} succeeded, {n / elapsed * 60:.0f} executions/min, "
          f"{3 * n / elapsed:.1f} steps/s")
    print(f"steps lost: {lost}, run twice: {doubled}, jobs not completed: {failed}")


def main(runs: int = 5, executions: int = 100) -> None:
    with tempfile.TemporaryDirectory() as tmp, LocalServer.start(Path(tmp) / "home") as srv:
        client = srv.client()
        client.timeout = httpx.Timeout(60.0)
        overhead(client, runs)
        throughput(client, executions)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
