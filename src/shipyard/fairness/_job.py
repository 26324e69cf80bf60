"""The entry of a bias job: the bias metrics of a dataset and, given a model, of its predictions.

Reads, in the job's working folder:

- ``input/config/bias.json``: the :class:`BiasConfig` as JSON (label, positive,
  label_threshold, facet, facet_values, facet_threshold, group);
- ``input/data/dataset/*.parquet``: the rows;
- ``input/model/`` (optional): a model bundle. When it holds one, the model predicts
  every row and the post-training metrics are computed too; predicted labels follow
  the label's rule (a regression's prediction is positive above ``label_threshold``),
  and the flip test finds neighbours on the model's input columns.

Writes ``output/report.json`` (:meth:`BiasReport.to_dict` plus the model) and
``output/report.html``, and logs every defined metric of the first facet split as a job
metric (``bias.pre.CI``, ``bias.post.DPPL``, …). Bad settings or data raise
:class:`~shipyard.errors.InvalidRequest`, which the bootstrap reports as an input error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.humanize import count, number
from shipyard.runtime import _contract as c

CONFIG_NAME = "bias.json"
CHANNEL = "dataset"
REPORT_FILE = "report.json"
HTML_FILE = "report.html"
METRIC_PREFIX = "bias"


def read_config(job_dir: Path) -> dict[str, Any]:
    """``input/config/bias.json`` as a dict.

    Raises:
        InvalidRequest: the file is missing or not a JSON object.
    """
    path = job_dir / c.CONFIG_DIR / CONFIG_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidRequest(f"The bias job needs its settings in {c.CONFIG_DIR}/"
                             f"{CONFIG_NAME}; the file is missing.") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{c.CONFIG_DIR}/{CONFIG_NAME} is not valid JSON: {exc}.") \
            from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{c.CONFIG_DIR}/{CONFIG_NAME} must hold a JSON object; got "
                             f"{type(data).__name__}.")
    return data


def read_rows(job_dir: Path) -> Any:
    """Every Parquet part of the ``dataset`` channel, in order, as one DataFrame."""
    import pandas as pd
    import pyarrow.parquet as pq

    parts = sorted((job_dir / c.INPUT_DATA_DIR / CHANNEL).glob("*.parquet"))
    if not parts:
        raise InvalidRequest(f"The bias job's {CHANNEL!r} channel holds no Parquet files.")
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def main(job_dir: Path) -> None:
    """Run one bias analysis in ``job_dir``; raise :class:`InvalidRequest` on bad input."""
    from shipyard import runtime
    from shipyard.fairness._config import BiasConfig
    from shipyard.fairness._html import render_html
    from shipyard.fairness._report import bias_report

    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    out = job_dir / c.OUTPUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    settings = read_config(job_dir)
    # What the bias job kind adds besides the config: the model and dataset it names.
    model_ref = settings.pop("model", None)
    dataset = settings.pop("dataset", None)
    config = BiasConfig.from_dict(settings)
    df = read_rows(job_dir)
    print(f"bias: {count(len(df), 'row')}, label {config.label!r}, facet "
          f"{config.facet!r}", flush=True)

    predicted, features, model = None, None, None
    model_dir = job_dir / c.INPUT_MODEL_DIR
    from shipyard.bundle import MANIFEST

    if (model_dir / MANIFEST).is_file():
        from shipyard.bundle import load_bundle

        pipeline = load_bundle(model_dir)
        model = {k: pipeline.manifest.get(k) for k in ("task", "framework", "target")}
        if pipeline.task not in ("classification", "regression"):
            raise InvalidRequest(f"Post-training bias needs a classification or regression "
                                 f"model; this one is {pipeline.task!r}.")
        with runtime.phase("predict"):
            predicted = pipeline.predict(df)["prediction"].to_numpy()
        features = [str(e["name"]) for e in pipeline.input_signature
                    if e.get("required", True) and e["name"] in df.columns]
        print(f"model: {pipeline.task}, {count(len(predicted), 'prediction')}", flush=True)

    with runtime.phase("metrics"):
        report = bias_report(df, config, predicted, features=features)
    doc = report.to_dict()
    doc["model"] = None if model is None else {"ref": model_ref, **model}
    doc["dataset"] = dataset
    tmp = out / (REPORT_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
    os.replace(tmp, out / REPORT_FILE)
    title = f"Bias report: {config.facet} ({config.label})"
    (out / HTML_FILE).write_text(render_html(report, title=title), encoding="utf-8")

    if report.n_rows != report.n_used:
        print(f"dropped {count(report.n_rows - report.n_used, 'row')} missing the label, "
              "facet or prediction", flush=True)
    first = report.facets[0]
    for stage, values in (("pre", first.pre), ("post", first.post or ())):
        for v in values:
            if v.value is not None:
                runtime.log_metric(f"{METRIC_PREFIX}.{stage}.{v.code}", v.value)
    for f in report.facets:
        shown = ", ".join(f"{v.code} {number(round(v.value, 4))}"
                          for v in (*f.pre, *(f.post or ())) if v.value is not None
                          and v.code in ("CI", "DPL", "DPPL", "DI"))
        print(f"{f.facet}: {shown}", flush=True)
    for note in report.notes:
        print(f"note: {note}", flush=True)
