"""AutoML jobs from the client side: the spec of ``kind: automl``, its leaderboard, and
``sy.AutoML``, the SDK's handle on one (docs/automl.md).

The CLI (``shipyard automl``) and the SDK send the same spec through
:func:`automl_spec` and show the same leaderboard rows (:func:`leaderboard_rows`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.automl._analysis import (
    describe_leaks,
    describe_missing_target,
    describe_numbers_as_classes,
)
from shipyard.client._jobs import Job
from shipyard.client._training import add_limits, dataset_ref
from shipyard.errors import InvalidRequest
from shipyard.errors import ShipyardError as ShipyardErrorBase

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client._client import Client
    from shipyard.client._models import ModelVersion

#: ``--mode`` values.
MODES = ("auto", "ensembling", "hpo")


def automl_spec(
    train: Any, target: str, *, test: Any = None, validation: Any = None,
    metric: str | None = None, problem_type: str | None = None, time_budget: float = 300.0,
    mode: str = "auto", max_candidates: int = 200, parallel: int | None = None,
    algorithms: Sequence[str] | str | None = None, split: Sequence[float] | None = None,
    seed: int = 0, experiment: str | None = None, name: str | None = None,
    cpus: int | None = None, memory: str | int | None = None,
    tags: Mapping[str, Any] | None = None, cv_folds: int | None = None,
    sample_rows: int | None = None, prune: bool = True,
    drop: Sequence[str] | str | None = None, keep: Sequence[str] | str | None = None,
) -> dict[str, Any]:
    """The JSON spec of an AutoML job (``POST /jobs`` with ``kind: automl``).

    Args:
        train: the dataset (a name, ``"name:version"`` or a :class:`Dataset`); it is split
            into train, validation (candidates are compared on it) and test (the final
            model is scored on it once) unless ``validation``/``test`` are given.
        target: the column to predict.
        metric: the validation metric to optimise (``roc_auc``, ``accuracy``, ``rmse``…);
            the problem type's usual one by default.
        time_budget: seconds from submit to the final model, everything included.
        mode: ``ensembling`` (a weighted ensemble of the candidates), ``hpo`` (the single
            best tuned candidate) or ``auto`` (ensembling up to 200,000 rows).
        algorithms: the built-in algorithms to use (default: lightgbm, xgboost, catboost,
            random-forest and linear, as suit the problem).
        split: fractions of train, validation and test (default 0.7, 0.2, 0.1).
        cpus, memory: each candidate's resources.
        cv_folds: cross-validate each candidate in this many folds and select on
            out-of-fold predictions (tables up to 20,000 rows; K fits per candidate).
        sample_rows: candidates train on at most this many training rows (sampled) and the
            final model is refit on all of them; by default every row.
        prune: successive halving on rounds: the search's boosting candidates whose
            validation loss lags at a rung are stopped early (default); False trains each
            to its end.
        drop: columns every candidate leaves out (a list, or comma-separated).
        keep: suspected leaks to keep: columns the train version's profile marks as leaks
            of the target (every candidate leaves those out otherwise) that are known at
            prediction time.
    """
    if mode not in MODES:
        raise InvalidRequest(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")
    if not target:
        raise InvalidRequest("An AutoML job needs a target: the column to predict.")
    if train is None or (isinstance(train, str) and not train):
        raise InvalidRequest("An AutoML job needs a train dataset (the 'train' input).")
    inputs = {"train": dataset_ref(train)}
    if validation is not None:
        inputs["validation"] = dataset_ref(validation)
    if test is not None:
        inputs["test"] = dataset_ref(test)
    spec: dict[str, Any] = {"kind": "automl", "inputs": inputs, "target": target,
                            "time_budget": float(time_budget), "mode": mode,
                            "max_candidates": int(max_candidates), "seed": int(seed)}
    if metric:
        spec["metric"] = metric
    if problem_type:
        spec["problem_type"] = problem_type
    if parallel is not None:
        spec["parallel"] = int(parallel)
    if cv_folds is not None:
        spec["cv_folds"] = int(cv_folds)
    if sample_rows is not None:
        spec["sample_rows"] = int(sample_rows)
    if not prune:
        spec["prune"] = False
    for field, value in (("drop", drop), ("keep", keep)):
        names = value.split(",") if isinstance(value, str) else list(value or [])
        if names:
            spec[field] = [str(n).strip() for n in names if str(n).strip()]
    if algorithms:
        names = algorithms.split(",") if isinstance(algorithms, str) else list(algorithms)
        spec["algorithms"] = [a.strip() for a in names if a.strip()]
    if split is not None:
        spec["split"] = {"fractions": [float(f) for f in split]}
    if experiment:
        spec["experiment"] = experiment
    if name:
        spec["name"] = name
    if tags:
        spec["tags"] = {str(k): str(v) for k, v in tags.items()}
    return add_limits(spec, cpus=cpus, memory=memory, max_runtime=None)


def board(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An AutoML job document's leaderboard (``outputs.automl``; empty before its first
    tick)."""
    return dict((doc.get("outputs") or {}).get("automl") or {})


def leaderboard_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The candidates, best validation metric first (unfinished ones last, by number)."""
    b = board(doc)
    goal = (b.get("objective") or {}).get("direction", "maximize")
    sign = -1.0 if goal == "minimize" else 1.0
    best = (b.get("best") or {}).get("candidate")
    rows = []
    for r in b.get("candidates") or []:
        rows.append({**r, "best": r.get("number") == best})
    return sorted(rows, key=lambda r: (r.get("validation") is None,
                                       -sign * float(r.get("validation") or 0),
                                       r.get("number", 0)))


class AutoML:
    """An AutoML job: ``sy.AutoML("churn", "churn", time_budget=60)`` submits one.

    ``sy.AutoML.get(job_id)`` loads an existing one. Wait for it with :meth:`wait`; then
    :meth:`leaderboard` ranks every candidate, :attr:`test_metrics` is the final model
    scored on test, and :meth:`register` registers the final model (or a candidate).
    :attr:`job` is the job itself (logs, metrics, cancel).
    """

    def __init__(self, train: Any = None, target: str | None = None, *,
                 client: Client | None = None, idempotency_key: str | None = None,
                 **options: Any) -> None:
        from shipyard.client._client import default_client

        if target is None:
            raise InvalidRequest("sy.AutoML(train, target, ...) needs the target column; "
                                 "sy.AutoML.get(job_id) loads an existing AutoML job.")
        c = client or default_client()
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", automl_spec(train, target, **options), headers=headers)
        self.job = Job(doc["id"], client=c, _doc=doc)
        stored = doc.get("spec") or {}
        # What the CLI prints at submit, as warnings a notebook shows once.
        for said in (describe_numbers_as_classes(stored), describe_missing_target(stored),
                     describe_leaks(stored.get("analysis"), sdk=True)):
            if said:
                warnings.warn(said, UserWarning, stacklevel=2)

    @classmethod
    def get(cls, id: str, *, client: Client | None = None) -> AutoML:
        job = Job(id, client=client)
        if job.kind != "automl":
            raise InvalidRequest(f"Job {id} is of kind {job.kind!r}, not an AutoML job; "
                                 "`shipyard jobs list --kind automl` lists those.")
        automl = cls.__new__(cls)
        automl.job = job
        return automl

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def doc(self) -> dict[str, Any]:
        return self.job.doc

    def refresh(self) -> AutoML:
        self.job.refresh()
        return self

    def wait(self, timeout: float | None = None, progress: bool = True,
             raise_on_failure: bool = True) -> AutoML:
        """Block until the job ends (its final model is scored); return self."""
        self.job.wait(timeout=timeout, progress=progress, raise_on_failure=raise_on_failure)
        return self

    def cancel(self) -> AutoML:
        """Stop the search and its candidates."""
        self.job.cancel()
        return self

    @property
    def analysis(self) -> dict[str, Any]:
        """What the job found before training: ``leaks`` (the train version's suspected
        leaks of the target, with reasons), ``dropped`` (every column the candidates left
        out, and why: ``user`` or ``leak``) and ``kept`` (leaks kept with ``keep``)."""
        return dict((self.doc.get("spec") or {}).get("analysis") or {})

    @property
    def board(self) -> dict[str, Any]:
        """The leaderboard document as the server keeps it (``outputs.automl``)."""
        return board(self.doc)

    def leaderboard(self) -> pd.DataFrame:
        """Every candidate, best first: algorithm, validation metric, fit and predict time,
        model size, weight in the final model (renders as a table in Jupyter)."""
        import pandas as pd

        self.refresh()
        rows = leaderboard_rows(self.doc)
        metric = (self.board.get("objective") or {}).get("metric", "validation")
        columns = ["number", "algorithm", "state", "validation", "fit_seconds",
                   "predict_seconds_per_1k_rows", "model_bytes", "weight", "source", "pruned_at",
                   "job_id", "hyperparameters"]
        frame = pd.DataFrame([{k: r.get(k) for k in columns} for r in rows], columns=columns)
        return frame.rename(columns={"validation": metric}).set_index("number")

    def importance(self, method: str | None = None) -> pd.DataFrame:
        """The final model's importance of each raw input column on the test rows, most
        important first: mean |SHAP| (``method="shap"``), or the loss increase when the
        column is shuffled and its std (``"permutation"``). None: the job's headline,
        SHAP when it fitted in the budget; ``frame.attrs["method"]`` says which."""
        import pandas as pd

        headline = self.board.get("importance_method") or "permutation"
        if method not in (None, "shap", "permutation"):
            raise InvalidRequest(f"method must be 'shap' or 'permutation'; got {method!r}.")
        method = method or headline
        if method == headline:
            rows = self.board.get("importance") or []
        elif method == "permutation":
            rows = self.board.get("permutation_importance") or []
        else:
            raise InvalidRequest("This job has no SHAP importance (it did not fit in the "
                                 "time budget); use method='permutation'.")
        columns = ["column", "importance"] + (["std"] if method == "permutation" else [])
        frame = pd.DataFrame(rows, columns=columns).set_index("column")
        frame.attrs["method"] = method
        return frame

    @property
    def test_metrics(self) -> dict[str, float] | None:
        """The final model's metrics on the test split (None until it is Completed)."""
        return self.board.get("test")

    def register(self, group: str, *, override_criteria: str | None = None,
                 card: Mapping[str, str] | None = None, description: str | None = None,
                 candidate: int | None = None) -> ModelVersion:
        """Register the final model (or candidate number ``candidate``) in ``group``."""
        return self.job.register(group, override_criteria=override_criteria, card=card,
                                 description=description, candidate=candidate)

    def __repr__(self) -> str:
        return f"AutoML({self.id!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        from html import escape

        b = self.board
        best = b.get("best") or {}
        test = b.get("test") or {}
        metric = (b.get("objective") or {}).get("metric", "")
        tail = ("; final model on test: " + ", ".join(
            f"{k} {v:.4g}" for k, v in sorted(test.items()) if k != "n_samples")) if test else ""
        head = (f"<p><b>AutoML job {escape(self.id)}</b>: {escape(self.status)}, "
                f"{len(b.get('candidates') or [])} candidates, mode {escape(str(b.get('mode')))}"
                f"; best single: {escape(str(best.get('algorithm')))} {escape(metric)} "
                f"{best.get('validation')}{escape(tail)}</p>")
        try:
            table = self.leaderboard().head(20).to_html()
        except Exception:  # noqa: BLE001 - a display must not raise
            table = ""
        return head + table


#: The notebooks :func:`write_notebooks` writes, in this order.
NOTEBOOKS = ("exploration.ipynb", "candidates.ipynb")


def write_notebooks(client: Client, job_id: str, out: Any, top: int = 3, *,
                    overwrite: bool = False) -> list[Any]:
    """Write an AutoML job's exploration and candidate notebooks into folder ``out``
    (created); return their paths. See :mod:`shipyard.automl._notebooks`.

    Raises:
        InvalidRequest: ``out`` is a file, or already holds one of the notebooks and
            ``overwrite`` is false (it may be another job's, or hold the user's edits and
            outputs), or the job is no AutoML job with a completed candidate.
    """
    import json
    from pathlib import Path
    from urllib.parse import quote

    import nbformat

    from shipyard.automl._notebooks import candidates_notebook, exploration_notebook
    from shipyard.client._datasets import Dataset

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidRequest(f"{folder} is a file; give a folder as out (--out on the "
                             "CLI).")
    there = [name for name in NOTEBOOKS if (folder / name).exists()]
    if there and not overwrite:
        raise InvalidRequest(f"{folder} already holds {' and '.join(there)}; give another "
                             "out folder, or overwrite=True to replace them (--out, --force "
                             "on the CLI).")
    job = client.get(f"/jobs/{quote(job_id, safe='')}")
    if job.get("kind") != "automl":
        raise InvalidRequest(f"Job {job_id} is of kind {job.get('kind')!r}, not an AutoML job; "
                             "`shipyard jobs list --kind automl` lists those.")
    b = board(job)
    rows = [r for r in leaderboard_rows(job) if r.get("validation") is not None]
    if not rows:
        raise InvalidRequest(f"AutoML job {job_id} has no completed candidate yet; write its "
                             "notebooks once one has completed.")
    members = set((b.get("ensemble") or {}).get("members") or [])
    candidates = [client.get(f"/jobs/{quote(r['job_id'], safe='')}")
                  for i, r in enumerate(rows) if i < top or r["job_id"] in members]
    best = (b.get("best") or {}).get("job_id") or rows[0]["job_id"]

    def artifact(path: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads(client.fetch(f"/jobs/{quote(best, safe='')}/artifacts/"
                                                f"{path}")))
        except (ShipyardErrorBase, ValueError):
            return None

    recipe, manifest = artifact("model/recipe.json"), artifact("model/MODEL.json") or {}
    spec = job["spec"]
    train = spec["inputs"]["train"]
    try:
        profile = Dataset(train["dataset"], client=client).profile(
            target=spec["target"], version=int(train["version"])).to_dict()
    except ShipyardErrorBase:
        profile = None
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in zip(NOTEBOOKS, (
            exploration_notebook(
                job, profile, recipe, (manifest.get("training") or {}).get("notes") or []),
            candidates_notebook(job, candidates, top)), strict=True):
        path = folder / name
        nbformat.write(nb, str(path))
        written.append(path)
    return written
