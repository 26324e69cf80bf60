"""The in-job entry of an ``evaluate`` job: a model's metrics on a dataset's rows.

Runs in the job process (``shipyard.jobs.kinds._evaluate_entry:main``): at import it
needs only the runtime contract; when it runs, the bundle loader, pandas and the
training package's scoring (:func:`shipyard.training._metrics.supervised_metrics`, the
function training scores its validation and test splits with). Never the server.

Reads ``input/config/evaluate.json`` (model, target), the bundle in ``input/model/``
(loaded by :func:`shipyard.bundle.load_bundle`: every file's SHA-256 checked, nothing
unpickled) and the Parquet parts of ``input/data/test/``. Rows whose target is missing
(or ±inf) are left out, as training leaves them out, and the log counts them. The
metrics are logged as ``test.<name>`` (``test.roc_auc``, ``test.rmse``, ...) and the whole
evaluation (curves, confusion matrix, residuals) is left in
``output/evaluation/evaluation.json``, with its plots beside it unless ``plots`` is false.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.bundle import InferencePipeline

#: The input channel an evaluate job reads; its metrics are named after it.
CHANNEL = "test"
#: The kind's settings (model, target, dataset), written by the kind module.
CONFIG_NAME = "evaluate.json"
#: What the job leaves besides its metrics, in its ``output/``: the evaluation report and
#: its plots, as a training bundle's ``evaluation/`` folder holds them (so the SDK's
#: ``job.evaluation()`` reads either), the report with the model, dataset, target and rows.
RESULT_DIR = "evaluation"
RESULT_FILE = "evaluation.json"


@dataclass(frozen=True)
class Evaluation:
    """A model's metrics on one dataset's rows, and which rows counted."""

    problem_type: str
    #: Everything :func:`~shipyard.training._metrics.supervised_metrics` measured
    #: (curves, per class, residuals included).
    metrics: dict[str, Any]
    #: The top-level numbers (what is logged as ``test.<name>``).
    scalars: dict[str, float]
    rows: int
    #: Rows left out because their target is missing.
    dropped: int


def evaluate_frame(pipeline: InferencePipeline, frame: pd.DataFrame, target: str,
                   log: Callable[[str], None] = print) -> Evaluation:
    """Score ``pipeline`` on ``frame`` against its column ``target``, as training scores a
    held-out split.

    Raises:
        InvalidRequest: no target column, no row with a target, a row the model cannot
            read, or a class the model does not know.
    """
    from shipyard.evaluation import scalar_metrics
    from shipyard.training._entry import encode_target
    from shipyard.training._metrics import SUPERVISED, supervised_metrics
    from shipyard.training._problem import known_target

    problem_type = str(pipeline.manifest.get("problem_type"))
    if problem_type not in SUPERVISED:
        raise InvalidRequest(f"The model solves a {problem_type} problem; an evaluate job "
                             "scores classifiers and regressors.")
    if target not in frame.columns:
        raise InvalidRequest(f"The input has no target column {target!r}; name the column "
                             "that holds the true values with 'target' (--target on the CLI).")
    classes = list(pipeline.classes or [])
    # A regressor's target by the one number rule: None and "nan" are missing rows (left
    # out below), not values that are "not a number".
    numbers = None if classes else _as_numbers(frame[target], target)
    known = known_target(frame[target] if numbers is None else numbers)
    dropped = int((~known).sum())
    if dropped:
        log(f"[evaluate] {dropped:,} of {len(frame):,} rows have no {target!r} value "
            "(missing or infinite) and are left out, as training leaves them out")
    frame = frame[known].reset_index(drop=True)
    if numbers is not None:
        numbers = numbers[known].reset_index(drop=True)
    if frame.empty:
        raise InvalidRequest(f"No row of the input has a {target!r} value to compare the "
                             "predictions with; evaluate on labelled rows.")
    signature = [str(e["name"]) for e in pipeline.input_signature]
    rows = frame[[n for n in signature if n in frame.columns]]
    pipeline.validate_input(rows)
    y = encode_target(_as_classes(frame[target], classes, target) if numbers is None
                      else numbers, problem_type, classes or None)
    metrics = supervised_metrics(problem_type, pipeline.outputs(rows), y, classes or None)
    scalars = scalar_metrics(metrics)
    return Evaluation(problem_type=problem_type, metrics=metrics, scalars=scalars,
                      rows=len(frame), dropped=dropped)


def _as_classes(y: pd.Series, classes: list[str], target: str) -> pd.Series:
    """The target as the model's class names: a value's text, and a whole number read as a
    float (``1.0``, as a column with missing values holds it) as that of the integer."""
    known = set(classes)

    def name(value: Any) -> str:
        text = str(value)
        if text not in known and isinstance(value, float) and value.is_integer():
            return str(int(value))
        return text

    names = y.map(name)
    unknown = sorted(set(names) - known)
    if unknown:
        rows = int((~names.isin(known)).sum())
        raise InvalidRequest(
            f"The target column {target!r} holds {unknown[:5]} ({rows:,} rows), which the "
            f"model never predicts: its classes are {classes[:10]}. Evaluate on rows of the "
            "classes it was trained on, or name the right column with 'target' (--target on "
            "the CLI).")
    return names


def _as_numbers(y: pd.Series, target: str) -> pd.Series:
    """The target as float64, NaN where it is missing (the one number rule).

    Raises:
        InvalidRequest: a value that is not a number, named.
    """
    import pandas as pd

    from shipyard.features._semantic import parse_numbers

    values, bad = parse_numbers(y)
    if bad.any():
        first = y[bad].iloc[0]
        raise InvalidRequest(f"The target column {target!r} must hold numbers, as the model "
                             f"predicts a number; got {first!r}. Name a numeric column with "
                             "'target' (--target on the CLI).")
    return pd.Series(values, index=y.index, dtype="float64")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{path.name} cannot be read: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path.name} must hold a JSON object.")
    return data


def main(job_dir: Path) -> None:
    """Evaluate the staged model on the ``test`` input; log ``test.*`` and write
    ``output/evaluation.json``. Raises :class:`InvalidRequest` when the rows do not fit."""
    from shipyard import runtime
    from shipyard.bundle import load_bundle
    from shipyard.humanize import number
    from shipyard.training._entry import read_channel

    job_dir = Path(job_dir).resolve()
    # log_metric finds the job's output folder through the contract's variables.
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    (job_dir / c.OUTPUT_DIR).mkdir(parents=True, exist_ok=True)
    config = _read_json(job_dir / c.CONFIG_DIR / CONFIG_NAME)
    with runtime.phase("read"):
        pipeline = load_bundle(job_dir / c.INPUT_MODEL_DIR)
        frame = read_channel(job_dir / c.INPUT_DATA_DIR / CHANNEL)
    target = str(config.get("target") or pipeline.manifest.get("target") or "")
    model = config.get("model")
    print(f"[evaluate] model {model}: {pipeline.manifest.get('problem_type')}, target "
          f"{target!r}; {len(frame):,} rows", flush=True)
    with runtime.phase("evaluate"):
        result = evaluate_frame(pipeline, frame, target,
                                log=lambda line: print(line, flush=True))
    for name, value in result.scalars.items():
        runtime.log_metric(f"{CHANNEL}.{name}", value)
    print(f"[evaluate] {CHANNEL}: " + ", ".join(f"{k} {number(v)}"
                                                for k, v in result.scalars.items()),
          flush=True)
    _write_report(job_dir / c.OUTPUT_DIR / RESULT_DIR, result, plots=config.get("plots")
                  is not False, model=model, dataset=config.get("dataset"), target=target)


def _write_report(folder: Path, result: Evaluation, *, plots: bool, **about: Any) -> None:
    """``evaluation.json`` (the report, and ``about``: model, dataset, target) and, with
    ``plots``, its PNGs, as training renders them."""
    from shipyard import runtime
    from shipyard.evaluation import EvaluationReport

    folder.mkdir(parents=True, exist_ok=True)
    report = EvaluationReport(problem_type=result.problem_type,
                              metrics={CHANNEL: result.metrics})
    doc = {**report.to_dict(), **about, "rows": result.rows, "dropped_rows": result.dropped}
    (folder / RESULT_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True,
                                                 allow_nan=False), encoding="utf-8")
    if plots:
        with runtime.phase("plots"):
            for name, png in report.plots().items():
                (folder / name).write_bytes(png)
