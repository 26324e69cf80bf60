"""The entry of an ``explain`` job: SHAP values of a model on a dataset, in its own process.

Reads ``input/config/explain.json`` (``{"rows": 1000, "local_rows": 5, "seed": 0}``,
every key optional), the dataset from ``input/data/dataset/*.parquet`` (the model's
target column dropped when present) and the model bundle from ``input/model/``.
Writes ``output/report.json`` and ``output/report.html`` and logs ``explain.rows``,
``explain.columns`` and ``explain.seconds`` as job metrics. A long KernelSHAP run
prints its progress every few seconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import InvalidRequest
from shipyard.humanize import count, duration, number
from shipyard.runtime import _contract as c

if TYPE_CHECKING:
    import pandas as pd

CONFIG_NAME = "explain.json"
CHANNEL = "dataset"
REPORT_FILE = "report.json"
HTML_FILE = "report.html"
#: Seconds between two progress lines, at least.
PROGRESS_SECONDS = 5.0


def _read_dataset(job_dir: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    parts = sorted((job_dir / c.INPUT_DATA_DIR / CHANNEL).glob("*.parquet"))
    if not parts:
        raise InvalidRequest(f"The explain job needs the {CHANNEL!r} channel: no Parquet file "
                             f"in {c.INPUT_DATA_DIR}/{CHANNEL}/.")
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def progress_printer(every: float = PROGRESS_SECONDS,
                     clock: Callable[[], float] = time.monotonic) -> Callable[[int, int], None]:
    """A progress callback that prints a line at most every ``every`` seconds (and the last),
    with the time the rows left should take at the pace so far: a KernelSHAP run of a wide
    model can take many minutes, and its user should know whether to wait or to ask for
    fewer rows."""
    started = clock()
    last = [started]

    def report(done: int, total: int) -> None:
        now = clock()
        if now - last[0] >= every or (done == total and now - started >= every):
            last[0] = now
            left = (total - done) * (now - started) / done if 0 < done < total else 0.0
            eta = f"; about {duration(left)} left" if left > 0 else ""
            print(f"explained {number(done)} of {count(total, 'row')} "
                  f"({now - started:.0f} s{eta})", flush=True)

    return report


def main(job_dir: Path) -> None:
    """Run one explain job; raise :class:`InvalidRequest` when the inputs do not fit."""
    from shipyard import runtime
    from shipyard.bundle import load_bundle
    from shipyard.explanations._html import render_html
    from shipyard.explanations._report import ReportConfig, build_report

    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    out = job_dir / c.OUTPUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    config_file = job_dir / c.CONFIG_DIR / CONFIG_NAME
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() \
            else {}
    except ValueError as exc:
        raise InvalidRequest(f"{CONFIG_NAME} is not valid JSON: {exc}.") from None
    # What the explain job kind adds besides the settings: the model and dataset it names.
    model_ref, dataset = raw.pop("model", None), raw.pop("dataset", None)
    config = ReportConfig.from_dict(raw)
    pipeline = load_bundle(job_dir / c.INPUT_MODEL_DIR)
    df = _read_dataset(job_dir)
    framework = pipeline.manifest.get("framework")
    name = framework.get("name") if isinstance(framework, dict) else framework
    print(f"explaining {count(min(config.rows, len(df)), 'row')} of {number(len(df))} with "
          f"the {name} {pipeline.task} model", flush=True)
    report = build_report(pipeline, df, config, progress=progress_printer())
    x = report.explanation
    print(f"{x.method} SHAP in the {x.output_space} space: "
          f"{count(len(x), 'row')} in {report.seconds:.1f} s; top columns "
          + ", ".join(col for col, _ in x.global_importance()[:5]), flush=True)
    doc = report.to_dict()
    doc["model"] = {"ref": model_ref, **(doc.get("model") or {})}
    doc["dataset"] = dataset
    tmp = out / (REPORT_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
    os.replace(tmp, out / REPORT_FILE)
    (out / HTML_FILE).write_text(render_html(report), encoding="utf-8")
    runtime.log_metric("explain.rows", float(len(x)))
    runtime.log_metric("explain.columns", float(len(x.columns)))
    runtime.log_metric("explain.seconds", float(report.seconds))
