"""Canvas: an analyst builds a model and predicts with no code (``/studio/canvas``).

Canvas keeps no state of its own: everything it makes is an object every other face
sees, made through the same services as the REST API.

- **Upload** a CSV, in the text encoding chosen (UTF-8 by default, as on the datasets
  page): a dataset (REST twin ``POST /api/v1/datasets``).
- **Prepare**: the first rows, a type per column (number, category, date, ignore) and the
  target; Canvas says what kind of prediction that is. Building with changed types (or
  ignored columns) first makes a new version of the dataset holding the columns as
  chosen (``POST /api/v1/datasets/{name}/versions``, ``column_types``), so what the model
  learnt from is a version anyone can open.
- **Build**: "Quick build" is one LightGBM training job with the default recipe (about a
  minute); "Standard build" is an AutoML job with the time budget chosen (REST twin
  ``POST /api/v1/jobs``). The job carries the tags ``canvas=build`` and
  ``canvas_dataset=NAME``, which is how Canvas lists its builds. A progress bar follows
  the job: the share of rounds done (quick), the share of the budget spent (standard).
- **Results**: the test metric in plain words, column impact, the confusion matrix or the
  residuals, all read from what the job stored (its metrics, its bundle's
  ``evaluation/evaluation.json``, an AutoML job's importance).
- **Predict**: a what-if row (a field per column, filled with each column's typical
  value) or an uploaded CSV, each scored by a batch transform job over the build's model
  (``kind: transform, job: BUILD``): models are never loaded in the server. The batch's
  predictions download as CSV.
- **Share with data science**: registers the build's model as a new version of a model
  group, PendingManualApproval (REST twin ``POST /api/v1/models/{group}/versions``).

Every action needs the ``write`` permission (a viewer sees the pages without their
buttons, and is refused anyway); reading a build needs ``read``.
"""

from __future__ import annotations

import io
import math
import re
import time
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from starlette.datastructures import UploadFile

from shipyard.api._context import Services, services
from shipyard.api._uploads import saved_uploads
from shipyard.automl._analysis import describe_missing_target, left_out
from shipyard.errors import InvalidRequest, NotFound, ShipyardError
from shipyard.store import JobRecord
from shipyard.studio._charts import bar_chart
from shipyard.studio._pages_datasets import ENCODINGS
from shipyard.studio._security import PREFIX
from shipyard.studio._web import (
    ACTIVE,
    BadRequest,
    action_error,
    authorize,
    error_page,
    read_form,
    readable,
    render,
    run,
)

router = APIRouter(include_in_schema=False)
CANVAS = f"{PREFIX}/canvas"
#: The column types an analyst picks from, and the dataset type each one declares.
TYPES = {"number": "float64", "category": "string", "date": "timestamp", "ignore": None}
QUICK_ALGORITHM = "lightgbm"
#: Standard builds' time budgets an analyst picks from (minutes).
BUDGETS = (1, 2, 5, 10, 30)
PREVIEW_ROWS = 20
#: Rows of a batch prediction shown on the page (all of them download).
SHOWN_PREDICTIONS = 20
_NAME = re.compile(r"[^a-z0-9-]+")


# -- helpers ---------------------------------------------------------------------------------
def _kind_of(field: dict[str, Any]) -> str:
    """The Canvas type of a schema column, from the semantic type judged at ingest:
    identifiers and row numbers are ignored (the default recipe drops them anyway); text
    counts as a category (both are words; the recipe tells free text by its content)."""
    semantic = str(field.get("semantic_type") or "")
    if semantic in ("identifier", "row_number"):
        return "ignore"
    if semantic == "datetime":
        return "date"
    if semantic == "numeric":
        return "number"
    if semantic in ("categorical", "boolean", "text"):
        return "category"
    dtype = str(field.get("dtype") or "")
    if dtype.startswith(("timestamp", "date")):
        return "date"
    if dtype.startswith(("int", "uint", "float", "double", "decimal")):
        return "number"
    return "category"


def _builds(svc: Services, dataset: str | None = None) -> list[JobRecord]:
    # A coarse filter in SQL over the stored tags, then the exact check. (Over the spec,
    # which holds no tags, it found nothing: "No builds yet" after every build.)
    jobs = [j for j in svc.jobs.repo.list(limit=500, tags_contains='"canvas": "build"')
            if (j.tags or {}).get("canvas") == "build"]
    if dataset is not None:
        jobs = [j for j in jobs if (j.tags or {}).get("canvas_dataset") == dataset]
    return jobs


def _build(svc: Services, job_id: str) -> JobRecord:
    job = svc.jobs.get(job_id)
    if (job.tags or {}).get("canvas") != "build":
        raise NotFound(f"Job {job_id!r} is not a Canvas build.")
    return job


def _group_name(dataset: str, target: str) -> str:
    name = _NAME.sub("-", f"{dataset}-{target}".lower()).strip("-")
    return (name or "canvas-model")[:60]


def _describe_target(values: pd.Series, target: str) -> dict[str, Any]:
    """What predicting ``target`` is, for people: a category (with its values) or a number."""
    from shipyard.training._problem import infer_problem_type

    known = values.dropna()
    if known.empty:
        raise BadRequest(f"{target!r} is empty in every row; pick another target.")
    if int(known.nunique()) < 2:
        raise BadRequest(f"{target!r} has the same value in every row; there is nothing to "
                         "predict. Pick another target.")
    problem = infer_problem_type(known)
    out: dict[str, Any] = {"target": target, "problem": problem,
                           "missing": int(len(values) - len(known))}
    if problem == "regression":
        out.update(kind="number", low=float(known.min()), high=float(known.max()),
                   median=float(known.median()))
    else:
        shares = known.astype(str).value_counts(normalize=True)
        out.update(kind="category", classes=len(shares),
                   top=[(str(k), float(v)) for k, v in shares.head(8).items()])
    return out


def _table(svc: Services, name: str, version: int | None = None) -> pd.DataFrame:
    return svc.datasets.read_table(name, version).to_pandas()


def _typical(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's typical value (median of a number, most frequent otherwise)."""
    out: dict[str, str] = {}
    for col in frame.columns:
        s = frame[col].dropna()
        if s.empty:
            out[str(col)] = ""
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            value = float(s.median())
            if bool((s == s.round()).all()):
                # Whole numbers (an int64 column, read as float when it has gaps): the
                # median of an even count can fall between two (5930.5), which the
                # column's type refuses when the form is sent as it is.
                value = float(round(value))
            out[str(col)] = str(int(value)) if value.is_integer() else f"{value:.6g}"
        else:
            out[str(col)] = str(s.astype(str).mode().iloc[0])
    return out


def _progress(job: JobRecord, svc: Services) -> float:
    """The share of a build done, 0..1 (the fit's rounds; an AutoML job's budget)."""
    if job.status in ("Completed", "Failed", "Stopped"):
        return 1.0
    if job.kind == "automl":
        budget = float(job.spec.get("time_budget") or 300.0)
        spent = time.time() - job.created_at.timestamp()
        return max(0.0, min(0.99, spent / budget))
    points = svc.jobs.metrics(job.id, "progress").get("progress") or []
    done = float(points[-1]["value"]) if points else 0.0
    return max(0.05 if job.status == "Running" else 0.0, min(0.99, done))


def _evaluation(svc: Services, job: JobRecord) -> dict[str, Any]:
    """The build's evaluation report (its bundle's ``evaluation/evaluation.json``)."""
    from shipyard.jobs import job_model_files, model_job
    from shipyard.safejson import loads
    from shipyard.store import JobRepository

    try:
        repo = JobRepository(svc.jobs.repo.db, svc.jobs.repo.events)
        files = job_model_files(model_job(repo, job, use="shown", pick=""), use="shown")
    except ShipyardError:
        return {}
    entry = next((f for f in files if f["path"].endswith("evaluation/evaluation.json")
                  and int(f.get("size") or 0) < 8 * 1024 * 1024), None)
    if entry is None:
        return {}
    try:
        doc = loads(svc.jobs.artifacts.read_bytes(entry["sha256"]), where="evaluation.json")
    except ShipyardError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _impact(job: JobRecord, svc: Services) -> list[tuple[str, float]]:
    """(column, share of impact), largest first: an AutoML job's importance over the raw
    columns (mean |SHAP|, or permutation importance), else the model's own importance
    shares."""
    automl = (job.outputs or {}).get("automl") or {}
    rows = automl.get("importance") or []
    pairs: list[tuple[str, float]] = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("importance"), int | float):
            pairs.append((str(row.get("column")), float(row["importance"])))
    if pairs:
        return sorted(pairs, key=lambda p: -p[1])[:10]
    # A built-in training job records its model's top importance shares as facts of the
    # platform's own (``system.importance.<feature>``).
    last: dict[str, float] = {}
    for point in svc.jobs.repo.metrics(job.id, system=True):
        if point.name.startswith("system.importance."):
            last[point.name.removeprefix("system.importance.")] = float(point.value)
    return sorted(last.items(), key=lambda p: -p[1])[:10]


def _plain(job: JobRecord, svc: Services, target: str) -> list[str]:
    """The test metrics in plain words."""
    summary = svc.jobs.metrics_summary(job.id)
    said = []
    if "test.accuracy" in summary:
        said.append(f"Predicts {target} correctly {summary['test.accuracy']:.0%} of the time "
                    "on rows it never saw while learning.")
    if "test.roc_auc" in summary:
        said.append(f"Ranks a random positive row above a random negative one "
                    f"{summary['test.roc_auc']:.0%} of the time (ROC AUC "
                    f"{summary['test.roc_auc']:.3f}).")
    if "test.mae" in summary:
        said.append(f"Its predictions of {target} are off by {readable(summary['test.mae'])} "
                    "on average on rows it never saw while learning.")
    if "test.r2" in summary:
        said.append(f"It explains {max(summary['test.r2'], 0):.0%} of the variation in "
                    f"{target} (R² {summary['test.r2']:.3f}).")
    return said


def _cautions(job: JobRecord, evaluation: dict[str, Any]) -> list[str]:
    """What the build warned about, as the CLI prints it: rows with no target left out,
    then the final model's warnings (chance level, too few test rows, near perfect).
    An AutoML build's are in its outputs, a quick build's in its evaluation report."""
    said = [describe_missing_target(job.spec)]
    board = (job.outputs or {}).get("automl") or {}
    said += [str(w) for w in board.get("warnings") or []]
    said += [str(w) for w in evaluation.get("warnings") or []]
    return [w for w in dict.fromkeys(said) if w]


def _confusion(evaluation: dict[str, Any]) -> dict[str, Any] | None:
    metrics = (evaluation.get("metrics") or {}).get("test") or {}
    cm = metrics.get("confusion_matrix") if isinstance(metrics, dict) else None
    if isinstance(cm, dict) and isinstance(cm.get("matrix"), list):
        return {"labels": [str(x) for x in cm.get("labels") or []], "matrix": cm["matrix"]}
    return None


def _residuals(evaluation: dict[str, Any]) -> list[tuple[str, float]]:
    metrics = (evaluation.get("metrics") or {}).get("test") or {}
    hist = ((metrics.get("residuals") or {}).get("histogram") or {}) \
        if isinstance(metrics, dict) else {}
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    if len(edges) != len(counts) + 1:
        return []
    return [(f"{edges[i]:,.3g} to {edges[i + 1]:,.3g}", float(c)) for i, c in enumerate(counts)]


def _as_text(table: pa.Table) -> pa.Table:
    """Every column as text (missing values stay missing), cast by Arrow column by column
    (no Python object per value: a large table stays cheap)."""
    import pyarrow.compute as pc

    columns = {}
    for name in table.column_names:
        column = table.column(name)
        try:
            columns[name] = pc.cast(column, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. a nested type
            columns[name] = pa.array([None if v is None else str(v)
                                      for v in column.to_pylist()], pa.string())
    return pa.table(columns)


def _dataset_of(job: JobRecord) -> tuple[str, int]:
    ref = (job.spec.get("inputs") or {}).get("train") or {}
    return str(ref.get("dataset")), int(ref.get("version") or 1)


async def _one_file(request: Request, missing: str) -> tuple[Any, UploadFile]:
    """The multipart form of an upload and its one file (``missing``: what to say when
    there is none)."""
    from starlette.exceptions import HTTPException

    try:
        form = await request.form(max_files=1, max_fields=5)
    except HTTPException as exc:  # not a multipart form, or too many parts
        raise BadRequest(f"The upload is not a form with one file: {exc.detail}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise BadRequest(missing)
    return form, upload


# -- pages -----------------------------------------------------------------------------------
@router.get(CANVAS)
def canvas_home(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """Start: upload a CSV; the builds so far."""
    return render(request, "canvas/home.html", builds=_builds(svc)[:50], encodings=ENCODINGS)


@router.post(CANVAS + "/upload")
async def canvas_upload(request: Request, svc: Services = Depends(services)) -> Response:
    """A CSV becomes a dataset (REST twin: ``POST /api/v1/datasets``)."""
    try:
        who = authorize(request, svc, "write")
        form, upload = await _one_file(request, "Choose a CSV file to upload.")
        name = str(form.get("name") or "").strip() or _NAME.sub(
            "-", str(upload.filename).rsplit(".", 1)[0].lower()).strip("-")
        # The same select as the datasets page's upload: a CSV saved by Excel in Western
        # Europe is Windows-1252, which the ingest refuses as UTF-8 unless it is named.
        encoding = str(form.get("encoding") or "").strip() or None
        with saved_uploads([upload], svc.settings.tmp_dir) as saved:
            rec = await run(lambda: svc.datasets.ingest(name, saved, mode="create",
                                                        actor=who.name, encoding=encoding))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204,
                    headers={"HX-Redirect": f"{CANVAS}/data/{rec.dataset}"})


@router.get(CANVAS + "/data/{name}")
def canvas_prepare(request: Request, name: str,
                   svc: Services = Depends(services)) -> HTMLResponse:
    """The data: first rows, a type per column, the target, and the build buttons."""
    try:
        rec = svc.datasets.version(name)
        head = svc.datasets.head(name, rec.version, n=PREVIEW_ROWS).to_pylist()
    except ShipyardError as exc:
        return error_page(request, exc)
    columns = [{"name": str(f["name"]), "kind": _kind_of(f), "type": str(f.get("dtype"))}
               for f in rec.schema]
    rows = [["" if r.get(c["name"]) is None else str(r.get(c["name"]))[:60] for c in columns]
            for r in head]
    return render(request, "canvas/prepare.html", rec=rec, columns=columns, rows=rows,
                  types=list(TYPES), budgets=BUDGETS, builds=_builds(svc, name)[:10])


@router.get(CANVAS + "/data/{name}/target")
def canvas_target(request: Request, name: str, target: str = "",
                  svc: Services = Depends(services)) -> HTMLResponse:
    """What predicting the ``target`` column is (a fragment)."""
    column = target
    try:
        rec = svc.datasets.version(name)
        if column not in {str(f["name"]) for f in rec.schema}:
            raise BadRequest(f"{name} has no column {column!r}.")
        values = svc.datasets.read_table(name, rec.version).column(column).to_pandas()
        about = _describe_target(values, column)
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "canvas/_target.html", about=about)


@router.post(CANVAS + "/data/{name}/build")
async def canvas_build(request: Request, name: str,
                       svc: Services = Depends(services)) -> Response:
    """Quick or standard build (REST twins: ``POST /api/v1/datasets/{name}/versions`` when
    the types changed, then ``POST /api/v1/jobs``)."""
    try:
        form = await read_form(request)
        who = authorize(request, svc, "write")
        job = await run(lambda: _submit_build(svc, name, form, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Redirect": f"{CANVAS}/builds/{job['id']}"})


def _submit_build(svc: Services, name: str, form: dict[str, str], actor: str) -> dict[str, Any]:
    rec = svc.datasets.version(name)
    schema = {str(f["name"]): f for f in rec.schema}
    target = form.get("target", "")
    if target not in schema:
        raise BadRequest("Pick the column to predict (the target).")
    chosen = {col: form.get(f"type.{col}", _kind_of(f)) for col, f in schema.items()}
    bad = sorted(col for col, kind in chosen.items() if kind not in TYPES)
    if bad:
        raise BadRequest(f"Unknown column type for {bad[0]!r}; use number, category, date or "
                         "ignore.")
    if chosen[target] == "ignore":
        raise BadRequest(f"The target {target!r} cannot be ignored; pick another type for it.")
    build = form.get("build", "quick")
    if build not in ("quick", "standard"):
        raise BadRequest("Choose a quick or a standard build.")
    _describe_target(svc.datasets.read_table(name, rec.version).column(target).to_pandas(),
                     target)  # refuses an empty or constant target before anything is made
    version = rec.version
    changed = {col: kind for col, kind in chosen.items() if kind != _kind_of(schema[col])}
    if changed:
        version = _retype(svc, name, rec.version, chosen, actor)
    tags = {"canvas": "build", "canvas_dataset": name}
    body: dict[str, Any] = {"inputs": {"train": f"{name}:{version}"}, "target": target,
                            "tags": tags, "name": f"canvas-{name}"[:100]}
    if build == "quick":
        body.update(kind="training", algorithm=QUICK_ALGORITHM)
    else:
        try:
            minutes = float(form.get("budget") or 5)
        except ValueError:
            raise BadRequest("The time budget is a number of minutes.") from None
        if minutes not in BUDGETS:
            raise BadRequest(f"Choose a time budget of {', '.join(map(str, BUDGETS))} minutes.")
        body.update(kind="automl", time_budget=minutes * 60)
    job, _ = svc.jobs.submit(body, actor, None)
    return {"id": job.id}


def _retype(svc: Services, name: str, version: int, chosen: dict[str, str],
            actor: str) -> int:
    """A new version of ``name`` with the columns as chosen: ignored ones left out, the
    others declared number, category or date. Values that do not fit their new type are
    the ingest's own 400, naming the column."""
    table = svc.datasets.read_table(name, version)
    keep = [c for c in table.column_names if chosen.get(c) != "ignore"]
    table = table.select(keep)
    # Everything as text: the declared types decide, as they do for an uploaded CSV.
    text = _as_text(table)
    types = {c: str(TYPES[chosen[c]]) for c in keep if TYPES.get(chosen[c])}
    buffer = io.BytesIO()
    pacsv.write_csv(text, buffer)
    tmp = svc.settings.tmp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(dir=tmp, prefix="canvas-") as work:
        path = Path(work) / "data.csv"
        path.write_bytes(buffer.getvalue())
        rec = svc.datasets.ingest(name, [(f"{name}.csv", path)], mode="replace",
                                  column_types=types, actor=actor,
                                  description="Canvas: columns retyped for a build")
    return rec.version


@router.get(CANVAS + "/builds/{job_id}")
def canvas_build_page(request: Request, job_id: str,
                      svc: Services = Depends(services)) -> HTMLResponse:
    """A build: its progress, then its results, what-if, batch predictions and sharing."""
    try:
        job = _build(svc, job_id)
    except ShipyardError as exc:
        return error_page(request, exc)
    dataset, version = _dataset_of(job)
    target = str(job.spec.get("target") or "")
    context: dict[str, Any] = {"job": job, "dataset": dataset, "version": version,
                               "target": target, "done": job.status == "Completed",
                               "active": job.status in ACTIVE or job.status == "Pending",
                               "progress": _progress(job, svc),
                               "leaks": left_out(job.spec.get("analysis"))}
    if job.status == "Completed":
        evaluation = _evaluation(svc, job)
        impact = _impact(job, svc)
        confusion = _confusion(evaluation)
        residuals = _residuals(evaluation)
        frame = _table(svc, dataset, version)
        inputs = [c for c in frame.columns if c != target]
        context.update(
            plain=_plain(job, svc, target), cautions=_cautions(job, evaluation),
            impact=Markup(bar_chart(impact)) if impact else "",  # noqa: S704 - drawn here
            confusion=confusion,
            residuals=Markup(bar_chart(residuals)) if residuals else "",  # noqa: S704
            fields=[(c, v) for c, v in _typical(frame[inputs]).items()],
            group=_group_name(dataset, target))
    return render(request, "canvas/build.html", encodings=ENCODINGS, **context)


@router.get(CANVAS + "/builds/{job_id}/progress")
def canvas_progress(request: Request, job_id: str,
                    svc: Services = Depends(services)) -> HTMLResponse:
    """The progress bar (a fragment polled while the build runs; the page reloads at the
    end to show the results)."""
    try:
        job = _build(svc, job_id)
    except ShipyardError as exc:
        return action_error(exc)
    page = render(request, "canvas/_progress.html", job=job, progress=_progress(job, svc),
                  active=job.status in ACTIVE or job.status == "Pending")
    if job.status not in ACTIVE and job.status != "Pending":
        page.headers["HX-Refresh"] = "true"
    return page


@router.post(CANVAS + "/builds/{job_id}/predict")
async def canvas_what_if(request: Request, job_id: str,
                         svc: Services = Depends(services)) -> Response:
    """One row's prediction: a one-row dataset scored by a batch transform over the build's
    model (REST twins: ``POST /api/v1/datasets``, ``POST /api/v1/jobs``)."""
    try:
        form = await read_form(request)
        who = authorize(request, svc, "write")
        scoring = await run(lambda: _what_if(svc, job_id, form, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "canvas/_prediction.html", scoring=scoring, rows=None,
                  build=job_id, done=False)


def _what_if(svc: Services, job_id: str, form: dict[str, str], actor: str) -> str:
    job = _build(svc, job_id)
    if job.status != "Completed":
        raise BadRequest("The build has not finished; predict once it has.")
    dataset, version = _dataset_of(job)
    target = str(job.spec.get("target") or "")
    schema = [str(f["name"]) for f in svc.datasets.version(dataset, version).schema
              if str(f["name"]) != target]
    row = {c: form.get(f"field.{c}", "").strip() for c in schema}
    types = {str(f["name"]): str(f.get("dtype")) for f in
             svc.datasets.version(dataset, version).schema if str(f["name"]) in row}
    for column, value in row.items():
        _check_field(column, value, types.get(column, ""))
    text = pa.table({c: pa.array([row[c] if row[c] != "" else None], pa.string())
                     for c in schema})
    return _score(svc, job, text, types, actor, "whatif")


def _check_field(column: str, value: str, dtype: str) -> None:
    """A what-if field that its column's type refuses is a 400 naming the field (the
    ingest would name a file the analyst never saw and suggest retyping the column)."""
    if not value:
        return
    if dtype.startswith(("int", "uint")):
        try:
            int(value)
        except ValueError:
            raise BadRequest(f"What if: {column} takes a whole number, such as "
                             f"{_whole(value)}; got {value!r}.") from None
    elif dtype in ("double", "float", "float64", "float32", "halffloat"):
        try:
            float(value)
        except ValueError:
            raise BadRequest(f"What if: {column} takes a number, such as 1.5; "
                             f"got {value!r}.") from None


def _whole(value: str) -> str:
    """A whole number near ``value`` for a message, or 12 when it is no number at all."""
    try:
        return str(round(float(value)))
    except (ValueError, OverflowError):
        return "12"


def _score(svc: Services, job: JobRecord, text: pa.Table, types: dict[str, str],
           actor: str, what: str) -> str:
    """Store ``text`` as a version of the build's scoring dataset (typed as the training
    data) and submit a transform over the build's model; the transform job's id."""
    import tempfile
    from pathlib import Path

    from shipyard.datasets._types import DECLARED_TYPES

    declared = {c: t for c, t in types.items() if t in DECLARED_TYPES}
    buffer = io.BytesIO()
    pacsv.write_csv(text, buffer)
    name = f"canvas-{what}-{job.id.removeprefix('job-')}"[:60]
    tmp = svc.settings.tmp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp, prefix="canvas-") as work:
        path = Path(work) / "rows.csv"
        path.write_bytes(buffer.getvalue())
        rec = svc.datasets.ingest(name, [("rows.csv", path)], mode="replace",
                                  column_types=declared, actor=actor,
                                  description=f"Canvas: rows scored by build {job.id}")
    keep = [c for c in text.column_names] if what == "batch" else []
    scored, _ = svc.jobs.submit({
        "kind": "transform", "job": job.id, "inputs": {"data": f"{name}:{rec.version}"},
        "outputs": [f"{name}-scored"], "keep_columns": keep,
        "tags": {"canvas": what, "canvas_build": job.id}}, actor, None)
    return str(scored.id)


@router.post(CANVAS + "/builds/{job_id}/batch/upload")
async def canvas_batch(request: Request, job_id: str,
                       svc: Services = Depends(services)) -> Response:
    """A CSV of rows scored by a batch transform over the build's model (REST twins:
    ``POST /api/v1/datasets``, ``POST /api/v1/jobs``)."""
    try:
        who = authorize(request, svc, "write")
        form, upload = await _one_file(request, "Choose a CSV file of rows to predict.")
        encoding = str(form.get("encoding") or "").strip()
        with saved_uploads([upload], svc.settings.tmp_dir) as saved:
            scoring = await run(lambda: _batch(svc, job_id, saved[0][1], encoding, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "canvas/_prediction.html", scoring=scoring, rows=None,
                  build=job_id, done=False)


def _batch(svc: Services, job_id: str, path: Any, encoding: str, actor: str) -> str:
    job = _build(svc, job_id)
    if job.status != "Completed":
        raise BadRequest("The build has not finished; predict once it has.")
    dataset, version = _dataset_of(job)
    text = _as_text(_read_rows(path, encoding))
    types = {str(f["name"]): str(f.get("dtype"))
             for f in svc.datasets.version(dataset, version).schema}
    return _score(svc, job, text, {c: t for c, t in types.items() if c in text.column_names},
                  actor, "batch")


def _read_rows(path: Any, encoding: str) -> pa.Table:
    """A CSV of rows to predict, decoded from ``encoding`` (one of the select's; ``""`` is
    UTF-8). Arrow keeps a column whose bytes are not UTF-8 as binary, which would be scored
    as the text of its bytes (``"b'Ch\\xe8que'"``): such a file is refused, naming it."""
    offered = {value: text for value, text in ENCODINGS}
    if encoding not in offered:
        raise BadRequest(f"Unknown text encoding {encoding!r}; choose one of: "
                         f"{', '.join(offered.values())}.")
    try:
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(
            encoding=encoding or "utf-8"), convert_options=pacsv.ConvertOptions(
            column_types=None, strings_can_be_null=True))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"That file is not a CSV Canvas can read: {exc}") from None
    binary = [f.name for f in table.schema
              if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if binary:
        raise InvalidRequest(
            f"That file is not valid {offered[encoding].split(' (')[0]}: column {binary[0]!r} "
            "holds bytes it cannot decode (was it saved as Windows-1252 by Excel?). Choose the "
            "file's text encoding, or save it as UTF-8, and predict again.")
    return table


@router.get(CANVAS + "/predictions/{scoring_id}")
def canvas_prediction(request: Request, scoring_id: str,
                      svc: Services = Depends(services)) -> HTMLResponse:
    """A what-if or batch scoring: polled until its transform job ends, then its rows."""
    try:
        job = svc.jobs.get(scoring_id)
        if (job.tags or {}).get("canvas") not in ("whatif", "batch"):
            raise NotFound(f"Job {scoring_id!r} is not a Canvas prediction.")
    except ShipyardError as exc:
        return action_error(exc)
    rows = None
    columns: list[str] = []
    if job.status == "Completed":
        out = next(iter(((job.outputs or {}).get("datasets") or {}).items()), None)
        if out is not None:
            table = svc.datasets.head(out[0], int(out[1]["version"]), n=SHOWN_PREDICTIONS)
            columns = table.column_names
            rows = [[_show(r.get(c)) for c in columns] for r in table.to_pylist()]
    return render(request, "canvas/_prediction.html", scoring=scoring_id, job=job,
                  rows=rows, columns=columns, build=(job.tags or {}).get("canvas_build"),
                  done=job.status not in ACTIVE and job.status != "Pending",
                  batch=(job.tags or {}).get("canvas") == "batch")


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else ""
    return "" if value is None else str(value)


@router.get(CANVAS + "/predictions/{scoring_id}/download")
def canvas_download(request: Request, scoring_id: str,
                    svc: Services = Depends(services)) -> Response:
    """The batch predictions as CSV (REST twin: ``GET /api/v1/datasets/{name}/download``)."""
    try:
        job = svc.jobs.get(scoring_id)
        if (job.tags or {}).get("canvas") != "batch" or job.status != "Completed":
            raise NotFound(f"Job {scoring_id!r} holds no Canvas batch predictions.")
        name, ref = next(iter(((job.outputs or {}).get("datasets") or {}).items()))
        out = svc.datasets.download(name, int(ref["version"]), "csv")
    except (ShipyardError, StopIteration) as exc:
        return action_error(exc if isinstance(exc, ShipyardError)
                            else NotFound("No predictions were stored."))
    return StreamingResponse(out.chunks, media_type=out.media_type, headers={
        "Content-Disposition": f'attachment; filename="{out.filename}"'})


@router.post(CANVAS + "/builds/{job_id}/share")
async def canvas_share(request: Request, job_id: str,
                       svc: Services = Depends(services)) -> Response:
    """Register the build's model for data scientists to review, PendingManualApproval
    (REST twin: ``POST /api/v1/models/{group}/versions``)."""
    try:
        form = await read_form(request)
        who = authorize(request, svc, "write")
        job = _build(svc, job_id)
        group = (form.get("group") or "").strip()
        if not group:
            raise BadRequest("Name the model group to share it in.")
        rec = await run(lambda: svc.registry.register(
            group, job.id, who.name, description=f"Built in Canvas from {_dataset_of(job)[0]}"))
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "canvas/_shared.html", rec=rec)
