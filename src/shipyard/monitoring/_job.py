"""The entry of a ``monitoring`` job: one run of a monitor, in its own process.

Reads ``input/config/monitoring.json`` (written from the monitor by the server),
the model bundle the endpoint serves in ``input/model/``, and the channels:

- ``baseline``: the monitor's baseline dataset version (normally the training data);
- ``current``: the captured window (inference id, timestamp, inputs, outputs);
- ``ground_truth`` (optional): the labels uploaded for the endpoint.

The baseline is computed here from the baseline rows, the same way (same seed) as
the statistics the server stored when the monitor was created, plus the model's
own outputs on those rows, so prediction drift compares like with like. The
monitor's constraints (as the user edited them) replace the suggested ones. The
report is written to ``output/report.json`` and ``output/report.html``; the drift
share and the model-quality figures are also logged as job metrics.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.humanize import count, number
from shipyard.runtime import _contract as c

#: The baseline rows the model scores for prediction drift, at most (seeded sample).
PREDICTION_SAMPLE_ROWS = 50_000
REPORT_FILE = "report.json"
#: The monitor's run settings, written by the ``monitoring`` job kind.
CONFIG_NAME = "monitoring.json"
HTML_FILE = "report.html"


def _read_channel(job_dir: Path, channel: str) -> Any:
    import pandas as pd
    import pyarrow.parquet as pq

    folder = job_dir / c.INPUT_DATA_DIR / channel
    parts = sorted(folder.glob("*.parquet"))
    if not parts:
        return None
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def baseline_inputs(frame: Any, signature: list[str], exclude: list[str]) -> Any:
    """The baseline columns a monitor watches: the model's inputs, never the target."""
    keep = [n for n in signature if n in frame.columns and n not in exclude]
    return frame[keep]


def check_baseline_columns(columns: list[str], signature: list[str], exclude: list[str], *,
                           baseline: str | None, model: str | None) -> None:
    """Refuse a baseline without a column the served model reads: the job scores it.

    The monitor checked this at create, so a gap means the endpoint was moved to a model
    with other inputs since; without this, the model's own "Column 'x' is missing" reads
    as if the traffic were wrong.

    Raises:
        InvalidRequest: naming the columns and what to do.
    """
    missing = [n for n in signature if n not in columns and n not in exclude]
    if missing:
        shown = ", ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
        raise InvalidRequest(
            f"The baseline {baseline} lacks {len(missing)} of the columns model {model} reads "
            f"({shown}); the endpoint's model has changed since the monitor was made, so "
            "create the monitor again with a baseline of this model's data.")


def model_inputs(pipeline: Any) -> list[str]:
    """The input columns the model reads (the signature without those its recipe drops)."""
    return [str(e["name"]) for e in pipeline.input_signature if e.get("required", True)]


def window_columns(window: Any, inputs: list[str]) -> Any:
    """The window without input columns the model never reads: they raise no alert.

    Kept: the model's inputs (also as the capture's ``input.<name>``), its outputs and
    the capture's own columns. A dataset version checked as a window may hold anything.
    """
    from shipyard.monitoring._common import CAPTURE_META, is_output

    wanted = set(inputs) | {f"input.{n}" for n in inputs} | set(CAPTURE_META)
    return window[[c for c in window.columns if c in wanted or is_output(str(c))]]


def held_out_rows(reference: Any, manifest: dict[str, Any], job_dir: Path) -> Any:
    """The rows of ``reference`` the model never trained on, when it is its training data.

    A model is surer of its own training rows than of anything it will serve, so
    predictions scored on them drift from any honest traffic: a false alarm on the
    first run. When the baseline is the very dataset version the model was trained on
    (same content hash, split by the training job itself), the recorded split is
    reproduced and only its validation and test rows make the baseline. Otherwise (an
    other dataset, or explicit validation/test inputs) every row does.
    """
    from shipyard.evaluation import reproduce_split

    lineage = manifest.get("lineage") or {}
    record = manifest.get("split") or {}
    inputs = json.loads((job_dir / c.INPUTDATA_FILE).read_text(encoding="utf-8"))
    baseline = inputs.get("baseline") or {}
    same = (lineage.get("content_hash") and
            lineage.get("content_hash") == baseline.get("content_hash"))
    if not same or set(lineage.get("inputs") or {}) - {"train"} or not record:
        return reference
    try:
        split = reproduce_split(reference, record)
    except InvalidRequest as exc:
        print(f"baseline: every row (the training split could not be reproduced: "
              f"{exc.message})", flush=True)
        return reference
    held = sorted([*split.validation.tolist(), *split.test.tolist()])
    if not held:
        return reference
    print(f"baseline: the {count(len(held), 'row')} of the training data the model did not "
          "train on (its validation and test splits)", flush=True)
    return reference.iloc[held].reset_index(drop=True)


def main(job_dir: Path) -> None:
    """Run one monitoring pass; raise :class:`InvalidRequest` when the inputs do not fit."""
    import numpy as np
    import pandas as pd

    from shipyard import runtime
    from shipyard.bundle import load_bundle
    from shipyard.monitoring._baseline import compute_baseline
    from shipyard.monitoring._common import as_served
    from shipyard.monitoring._drift import DriftOptions
    from shipyard.monitoring._html import render_html
    from shipyard.monitoring._model_quality import MetricThreshold, model_quality
    from shipyard.monitoring._report import MonitoringReport, build_report

    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    out = job_dir / c.OUTPUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    config = json.loads((job_dir / c.CONFIG_DIR / CONFIG_NAME).read_text(encoding="utf-8"))
    pipeline = load_bundle(job_dir / c.INPUT_MODEL_DIR)
    signature = model_inputs(pipeline)
    labels_only = bool(config.get("labels_only"))

    reference = _read_channel(job_dir, "baseline")
    window = _read_channel(job_dir, "current")
    if reference is None or window is None:
        raise InvalidRequest("The monitoring job needs the baseline and current channels.")
    if labels_only:
        print(f"monitor {config.get('monitor')}: no new traffic; scoring the labels uploaded "
              f"since the last run, model {config.get('model')}", flush=True)
        window = window.iloc[0:0]
    else:
        print(f"monitor {config.get('monitor')}: baseline {count(len(reference), 'row')}, "
              f"window {count(len(window), 'row')}, model {config.get('model')}", flush=True)

    if "prediction" not in window.columns and len(window):
        # A dataset version, not a capture: the model scores it, for prediction drift.
        exclude = list(config.get("exclude") or [])
        inputs = baseline_inputs(window, signature, exclude)
        window = pd.concat([as_served(window.drop(columns=exclude, errors="ignore"),
                                      pipeline.input_signature).reset_index(drop=True),
                            _model_outputs(pipeline, inputs)], axis=1)
    window = window_columns(window, signature)
    baseline = None
    if not labels_only:
        check_baseline_columns(list(reference.columns), signature,
                               list(config.get("exclude") or []),
                               baseline=config.get("baseline_dataset"), model=config.get("model"))
        held = held_out_rows(reference, dict(pipeline.manifest), job_dir)
        base = baseline_inputs(held, signature, list(config.get("exclude") or []))
        if len(base) > PREDICTION_SAMPLE_ROWS:
            base = base.sample(PREDICTION_SAMPLE_ROWS, random_state=0).reset_index(drop=True)
        outputs = _model_outputs(pipeline, base)
        # Compared as the instances capture inputs (two-state columns as 1.0/0.0).
        served = as_served(base, pipeline.input_signature).reset_index(drop=True)
        baseline = compute_baseline(pd.concat([served, outputs], axis=1))
        if config.get("constraints"):
            baseline = baseline.with_constraints(merge_constraints(
                config["constraints"], baseline.constraints, list(outputs.columns)))

    quality = None
    truth = _read_channel(job_dir, "ground_truth")
    problem = config.get("problem_type")
    scored = _read_channel(job_dir, "predictions")
    scored = window if scored is None else scored
    if truth is not None and problem and len(scored):
        thresholds = [MetricThreshold(**t) for t in config["thresholds"]] \
            if config.get("thresholds") else None
        quality = model_quality(
            scored, truth, problem_type=problem, labels=config.get("classes") or None,
            key=config.get("label_key") or "inference_id",
            label_column=config.get("label_column") or "label",
            window=config.get("quality_window") or "1D",
            baseline_metrics=config.get("baseline_metrics") or None, thresholds=thresholds,
            min_rows=int(config.get("min_labelled_rows") or 30))
        print(f"model quality: {number(quality.n_matched)} of "
              f"{count(len(scored), 'prediction')} labelled",
              flush=True)

    bias_doc, attribution_doc, extra_alerts = None, None, []
    if config.get("bias") and truth is not None and not labels_only and baseline is not None:
        from shipyard.monitoring._explain_drift import bias_drift
        from shipyard.monitoring._model_quality import join_ground_truth

        label = pipeline.manifest.get("target")
        held_rows = held.sample(min(len(held), PREDICTION_SAMPLE_ROWS), random_state=0)
        joined = join_ground_truth(scored, truth, key=config.get("label_key") or "inference_id",
                                   label_column=config.get("label_column") or "label") \
            if len(scored) else scored
        if label and label in held_rows.columns:
            with runtime.phase("bias_drift"):
                bias_doc, found = bias_drift(
                    config["bias"], baseline=held_rows.reset_index(drop=True),
                    baseline_predicted=pipeline.predict(held_rows)["prediction"].to_numpy(),
                    label=label, window=joined.reset_index(drop=True),
                    min_rows=int(config.get("min_labelled_rows") or 30))
            extra_alerts += found
    if config.get("attribution") and baseline is not None and len(window):
        from shipyard.monitoring._explain_drift import attribution_drift

        live = pd.DataFrame({n: window[n] if n in window.columns else window[f"input.{n}"]
                             for n in signature
                             if n in window.columns or f"input.{n}" in window.columns})
        with runtime.phase("attribution_drift"):
            attribution_doc, found = attribution_drift(
                config["attribution"], pipeline=pipeline, baseline=base.reset_index(drop=True),
                window=live.reset_index(drop=True))
        print(f"attribution drift: NDCG {attribution_doc.get('ndcg')}", flush=True)
        extra_alerts += found

    meta = {k: config.get(k) for k in ("monitor", "endpoint", "model", "window_start",
                                       "window_end", "baseline_dataset")}
    if baseline is None:
        # No traffic to test for drift or quality: the labels that arrived are the news.
        meta["note"] = "no new traffic since the last run; labels uploaded since are scored"
        report = MonitoringReport(
            created_at=datetime.now(UTC).isoformat(), n_baseline_rows=len(reference),
            n_current_rows=0, model_quality=quality,
            alerts=tuple(quality.alerts) if quality else (), meta=meta)
    else:
        report = build_report(baseline, window,
                              drift=DriftOptions.from_dict(config.get("drift")),
                              model_quality=quality, meta=meta)
    if bias_doc is not None or attribution_doc is not None:
        from dataclasses import replace

        report = replace(report, bias_drift=bias_doc, attribution_drift=attribution_doc,
                         alerts=(*report.alerts, *extra_alerts))
    doc = report.to_dict()
    tmp = out / (REPORT_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, default=_json_default), encoding="utf-8")
    os.replace(tmp, out / REPORT_FILE)
    (out / HTML_FILE).write_text(
        render_html(report, title=f"Monitor {config.get('monitor')}"), encoding="utf-8")
    drift = report.drift
    if drift is not None:
        runtime.log_metric("drift_share", float(drift.share_drifted))
    if quality is not None:
        for name, value in (quality.overall or {}).items():
            if isinstance(value, int | float) and np.isfinite(value):
                runtime.log_metric(name, float(value))
    for alert in report.alerts:
        print(f"ALERT {alert.kind}: {alert.message}", flush=True)
    print(count(len(report.alerts), "alert"), flush=True)


def merge_constraints(user: dict[str, Any], suggested: dict[str, Any],
                      outputs: list[str]) -> dict[str, Any]:
    """The monitor's constraints (as the user edited them) for its columns, plus the model
    outputs' kind and presence: their distribution is prediction drift's business, so they
    get no range or category domain here."""
    columns = dict(user.get("columns") or {})
    known = suggested.get("columns", {})
    if known:
        # A column the baseline no longer watches (one the model never reads) is not checked.
        columns = {name: entry for name, entry in columns.items() if name in known}
    for name in outputs:
        if name not in columns and name in suggested.get("columns", {}):
            entry = suggested["columns"][name]
            columns[name] = {k: v for k, v in entry.items()
                             if k not in ("min", "max", "allowed")}
    return {**user, "columns": columns}


def _model_outputs(pipeline: Any, rows: Any) -> Any:
    """The model's outputs on ``rows``, named as capture names them (prediction, probability.*)."""
    return pipeline.predict(rows).reset_index(drop=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
