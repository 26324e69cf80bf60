"""``sy.Job``: run a script as a job on the server, wait for it, read its logs and metrics."""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.client._logs import TERMINAL, LogReader
from shipyard.client._progress import WaitDisplay
from shipyard.client._training import (
    add_limits,
    dataset_ref,
    flat_metrics,
    nest_metrics,
    training_spec,
)
from shipyard.errors import InvalidRequest, ShipyardError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client._evaluation import Evaluation
    from shipyard.client._models import ModelVersion
    from shipyard.client._schedules import Schedule
    from shipyard.jobs._profile import Profile
    from shipyard.tuning._report import TuningReport

METRIC_COLUMNS = ["name", "value", "step", "timestamp"]


class JobFailed(ShipyardError):
    """A job the caller waited for ended Failed."""

    code = "job_failed"

    def __init__(self, job: Job) -> None:
        super().__init__(failure_sentence(job.id, job.status, job.reason, job.message))
        self.job = job
        self.reason = job.reason


def failure_sentence(job_id: str, status: str | None, reason: str | None,
                     message: str | None) -> str:
    """Why a job ended without completing, in one sentence, and where the rest is.

    ``Job 3f2a failed: train.py:12: KeyError: 'price'. `shipyard jobs logs 3f2a` shows the
    rest.`` The job's message is already one sentence (the runtime writes it); an older
    multi-line one is reduced to its last line, so a traceback is never shown cut mid-frame.
    """
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    detail = lines[-1] if len(lines) > 1 and lines[0].startswith("Traceback") else " ".join(
        lines)
    verb = "failed" if status in (None, "Failed") else f"ended {status}"
    why = f" ({reason})" if reason and reason != "script_error" else ""
    head = f"Job {job_id} {verb}{why}"
    body = f"{head}: {detail.rstrip('.')}" if detail else (
        head if why else f"{head} ({reason or 'unknown reason'})")
    return f"{body}. `shipyard jobs logs {job_id}` shows the rest."


class WaitTimeout(ShipyardError, TimeoutError):
    """A wait ran out of time before the job ended (the job itself goes on)."""

    code = "timeout"


def _metric_points(body: Any) -> list[dict[str, Any]]:
    """Metric points from either a list of points or a ``{name: [points]}`` series map."""
    if isinstance(body, dict) and isinstance(body.get("metrics"), list | dict):
        body = body["metrics"]
    if isinstance(body, dict):
        return [{"name": name, **{c: p.get(c) for c in METRIC_COLUMNS[1:]}}
                for name, points in body.items() for p in points]
    return [{c: p.get(c) for c in METRIC_COLUMNS} for p in body]


def _read_file(path: str | Path, what: str) -> str:
    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidRequest(f"No such {what} file: {str(path)!r}.")
    return p.read_text(encoding="utf-8")


def build_spec(
    kind: str, script: str | Path, *, inputs: Mapping[str, Any] | None = None,
    outputs: str | Sequence[str] | None = None,
    requirements: str | Path | Sequence[str] | None = None,
    hyperparameters: Mapping[str, Any] | None = None, cpus: int | None = None,
    memory: str | int | None = None, max_runtime: float | None = None, retries: int = 0,
    name: str | None = None, environment: Mapping[str, str] | None = None,
    experiment: str | None = None, tags: Mapping[str, Any] | None = None,
    notes: str | None = None, metric_definitions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON job spec of ``POST /jobs`` (see docs/architecture.md), read from local files."""
    if kind == "training":
        raise InvalidRequest("A training job runs a built-in algorithm, not a script: use "
                             "Job.train(algorithm, train, target) (or --kind training "
                             "--algorithm NAME on the CLI).")
    spec: dict[str, Any] = {
        "kind": kind,
        "script": {"filename": Path(script).name, "source": _read_file(script, "script")},
        "retries": retries,
    }
    if name:
        spec["name"] = name
    if requirements is not None:
        if isinstance(requirements, str | Path):
            spec["requirements"] = _read_file(requirements, "requirements")
        else:
            spec["requirements"] = "\n".join(requirements) + "\n"
    if inputs:
        spec["inputs"] = {ch: getattr(ds, "name", ds) for ch, ds in inputs.items()}
    if outputs:
        spec["outputs"] = [outputs] if isinstance(outputs, str) else list(outputs)
    if hyperparameters:
        spec["hyperparameters"] = dict(hyperparameters)
    add_limits(spec, cpus=cpus, memory=memory, max_runtime=max_runtime)
    if environment:
        spec["environment"] = dict(environment)
    if experiment:
        spec["experiment"] = experiment
    if tags:
        spec["tags"] = {str(k): str(v) for k, v in tags.items()}
    if notes is not None:
        spec["notes"] = notes
    if metric_definitions:
        spec["metric_definitions"] = [{"name": k, "regex": v}
                                      for k, v in metric_definitions.items()]
    return spec


def model_ref(value: Any) -> str:
    """``"group:version"`` from such a string or a :class:`ModelVersion`."""
    group, version = getattr(value, "group", None), getattr(value, "version", None)
    if group is not None and version is not None:
        return f"{group}:{int(version)}"
    if not isinstance(value, str) or ":" not in value:
        raise InvalidRequest(f"A model is named like 'churn-model:3' (group:version) or "
                             f"given as a ModelVersion; got {value!r}.")
    return value


def transform_spec(model: Any, data: Any, output: str, *,
                   keep_columns: Sequence[str] | None = None, chunk_rows: int | None = None,
                   cpus: int | None = None, memory: str | int | None = None,
                   max_runtime: float | None = None, name: str | None = None,
                   retries: int = 0, instances: int | None = None) -> dict[str, Any]:
    """The job spec of a batch transform (kind ``transform``)."""
    spec: dict[str, Any] = {"kind": "transform", "model": model_ref(model),
                            "inputs": {"data": dataset_ref(data)}, "outputs": [output]}
    if keep_columns:
        spec["keep_columns"] = list(keep_columns)
    if chunk_rows is not None:
        spec["chunk_rows"] = chunk_rows
    if instances is not None:
        spec["instances"] = instances
    add_limits(spec, cpus=cpus, memory=memory, max_runtime=max_runtime)
    if name:
        spec["name"] = name
    if retries:
        spec["retries"] = retries
    return spec


class Job(Resource):
    """A job on the server: ``sy.Job.run(...)`` submits one, ``sy.Job(id)`` loads one."""

    def __init__(self, id: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.id = id
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/jobs/{quote(self.id, safe='')}{suffix}"

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def get(cls, id: str, *, client: Client | None = None) -> Job:
        return cls(id, client=client)

    @classmethod
    def run(
        cls, kind: str, script: str | Path, *, inputs: Mapping[str, Any] | None = None,
        outputs: str | Sequence[str] | None = None,
        requirements: str | Path | Sequence[str] | None = None,
        hyperparameters: Mapping[str, Any] | None = None, cpus: int | None = None,
        memory: str | int | None = None, max_runtime: float | None = None, retries: int = 0,
        name: str | None = None, idempotency_key: str | None = None,
        environment: Mapping[str, str] | None = None, experiment: str | None = None,
        tags: Mapping[str, Any] | None = None, notes: str | None = None,
        metric_definitions: Mapping[str, str] | None = None, client: Client | None = None,
    ) -> Job:
        """Submit ``script`` (a local .py file) as a job of ``kind`` (processing | script).

        Args:
            inputs: channel → dataset name, ``"name:version"`` or a :class:`Dataset`.
            outputs: datasets a processing job writes (each becomes a new version).
            requirements: a requirements file (or a list of requirement lines); the job
                then runs in a virtual environment built from it.
            memory: a size such as ``"2G"``.
            max_runtime: seconds before the job is stopped as ``max_runtime``.
            idempotency_key: submitting again with the same key returns the same job.
            experiment: an experiment to count the job among its runs (a training script
                that logs ``test.<metric>`` values is judged by its success criteria).
            tags: labels of the job, e.g. ``{"team": "growth"}``.
            metric_definitions: metric name → regular expression over the job's log whose
                one group (or group named ``value``) is the value, e.g.
                ``{"loss": r"loss=([0-9.]+)"}``: for scripts that cannot call ``log_metric``.
        """
        c = client or default_client()
        spec = build_spec(kind, script, inputs=inputs, outputs=outputs,
                          requirements=requirements, hyperparameters=hyperparameters,
                          cpus=cpus, memory=memory, max_runtime=max_runtime, retries=retries,
                          name=name, environment=environment, experiment=experiment,
                          tags=tags, notes=notes, metric_definitions=metric_definitions)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", spec, headers=headers)
        return cls(doc["id"], client=c, _doc=doc)

    @classmethod
    def train(
        cls, algorithm: str, train: Any, target: str | None = None, *, validation: Any = None,
        test: Any = None, split: Sequence[float] = (0.7, 0.2, 0.1), split_method: str = "auto",
        time_column: str | None = None, seed: int = 42,
        hyperparameters: Mapping[str, Any] | None = None, problem_type: str | None = None,
        experiment: str | None = None, tags: Mapping[str, Any] | None = None,
        notes: str | None = None, cpus: int | None = None, memory: str | int | None = None,
        max_runtime: float | None = None, name: str | None = None,
        idempotency_key: str | None = None, client: Client | None = None,
        recipe: Mapping[str, Any] | Any | None = None, drop: Sequence[str] | None = None,
        group_column: str | None = None, instances: int | None = None, retries: int = 0,
        cv_folds: int | None = None,
    ) -> Job:
        """Train a built-in algorithm (``sy.algorithms()`` lists them) as a training job.

        The job splits ``train`` into train/validation/test by ``split`` (unless
        ``validation`` and ``test`` datasets are given), fits, evaluates and saves a
        model bundle; :meth:`evaluation` shows the result and :meth:`register` puts the
        model in the registry.

        Args:
            train: dataset name, ``"name:version"`` or a :class:`Dataset`.
            target: the column to predict (None for clustering, PCA, anomaly detection).
            split: fractions of train, validation and test.
            split_method: auto, random, stratified, time (with ``time_column``) or group
                (with ``group_column``: no group spans two splits).
            problem_type: binary, multiclass or regression (None: inferred from the target).
            experiment: the experiment the run joins (default: the train dataset's name).
            tags: labels of the run; :meth:`tag` adds more later.
            recipe: the feature recipe, fitted on the train split only:
                ``{"extends": "default", "steps": [...], "drop": [...]}`` adds to the
                default recipe; ``{"steps": [...]}`` (or a ``shipyard.features.Recipe``)
                replaces it. See docs/features.md for the order the steps run in.
            drop: columns to leave out of the features (on top of the recipe's).
            instances: workers that train one model together, data parallel (xgboost and
                lightgbm, on a server whose executor is Ray).
            retries: attempts after a lost worker (``worker_lost``); xgboost, lightgbm and
                catboost continue from their last checkpoint.
            cv_folds: cross-validate over the train and validation rows in this many folds
                (2-20); the validation metrics are out of fold (docs/training.md).
        """
        c = client or default_client()
        spec = training_spec(
            algorithm, train, target, validation=validation, test=test, split=split,
            split_method=split_method, time_column=time_column, seed=seed,
            hyperparameters=hyperparameters, problem_type=problem_type, experiment=experiment,
            tags=tags, notes=notes, cpus=cpus, memory=memory, max_runtime=max_runtime, name=name,
            recipe=recipe, drop=drop, group_column=group_column, instances=instances,
            retries=retries, cv_folds=cv_folds)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", spec, headers=headers)
        return cls(doc["id"], client=c, _doc=doc)

    @classmethod
    def tune(
        cls, algorithm: str, train: Any, target: str | None, objective: str, *,
        max_trials: int = 20, parallel: int = 1, strategy: str = "bayesian",
        ranges: Mapping[str, Any] | None = None, max_runtime: float | None = None,
        patience: int | None = None, seed: int = 0, split_seed: int | None = None,
        hyperparameters: Mapping[str, Any] | None = None, warm_start: Sequence[str] = (),
        idempotency_key: str | None = None, client: Client | None = None, **training: Any,
    ) -> Job:
        """Tune a built-in algorithm's hyperparameters (or several algorithms':
        ``"xgboost,lightgbm"``): a tuning job whose trials are
        training jobs, ``parallel`` at a time (docs/tuning.md).

        The objective is a validation metric (``roc_auc``, ``rmse``, ...; the direction
        follows from it); only the best settings are scored on test. :attr:`best` and
        :meth:`trials` show the results; :meth:`register` registers the best model.

        Args:
            strategy: bayesian (TPE), random, grid or hyperband (TPE, and trials whose
                per-round validation loss lags are stopped early).
            ranges: hyperparameter → ``"LOW:HIGH"``, ``"LOW:HIGH:log"``, ``"a,b,c"`` or a
                list, narrowing or adding to the declared search space.
            max_runtime: seconds the study may run.
            patience: stop after this many finished trials in a row without improvement.
            hyperparameters: fixed values for every trial (``ALGORITHM.NAME``: one
                algorithm's, in a study over several).
            warm_start: ids of earlier tuning jobs with the same objective: their trials
                seed the sampler.
            seed: the sampler's seed; ``split_seed``: the split's (every trial's and the
                scoring job's; default 42).
            training: what :meth:`train` takes (validation, test, split, split_method,
                time_column, group_column, recipe, drop, experiment, cpus, memory, ...),
                for every trial and the scoring job: ``split_method="time",
                time_column="date"`` validates and tests on the latest rows.
        """
        from shipyard.client._tuning import tuning_spec

        c = client or default_client()
        spec = tuning_spec(algorithm, train, target, objective, max_trials=max_trials,
                           parallel=parallel, strategy=strategy, ranges=ranges,
                           max_runtime=max_runtime, patience=patience, seed=seed,
                           split_seed=split_seed, hyperparameters=hyperparameters,
                           warm_start=warm_start, **training)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", spec, headers=headers)
        return cls(doc["id"], client=c, _doc=doc)

    @classmethod
    def tune_script(cls, script: str | Path, objective: str, *,
                    idempotency_key: str | None = None, client: Client | None = None,
                    **options: Any) -> Job:
        """Tune a script of yours: each trial runs it with the trial's hyperparameters
        (``shipyard.runtime.hyperparameters()``); the objective is a metric it logs.

        ``options`` are :func:`~shipyard.client._tuning.script_tuning_spec`'s: ``ranges``
        (the whole space), ``direction`` (minimize or maximize), ``inputs``,
        ``requirements``, ``metric_definitions``, ``max_trials``, ``parallel``,
        ``strategy``, ``hyperparameters`` (fixed), ``warm_start``, ``experiment``, ...
        """
        from shipyard.client._tuning import script_tuning_spec

        c = client or default_client()
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", script_tuning_spec(script, objective, **options),
                     headers=headers)
        return cls(doc["id"], client=c, _doc=doc)

    @classmethod
    def transform(
        cls, model: Any, data: Any, output: str, *,
        keep_columns: Sequence[str] | None = None, chunk_rows: int = 10_000,
        cpus: int | None = None, memory: str | int | None = None, name: str | None = None,
        idempotency_key: str | None = None, client: Client | None = None,
        instances: int | None = None,
    ) -> Job:
        """Run a registered model version over a dataset as a batch transform job.

        The job reads ``data`` in chunks of ``chunk_rows`` rows (memory stays bounded)
        and writes dataset ``output``: the ``keep_columns`` of the input, then the
        model's ``prediction`` (and ``probability.<label>``) columns.

        Args:
            model: ``"group:version"`` or a :class:`ModelVersion`.
            data: dataset name, ``"name:version"`` or a :class:`Dataset`.
            output: the predictions dataset (a new version of it).
            keep_columns: input columns copied to the output, e.g. an id; ``["*"]``
                copies every one [default: ``inference_id``, when the input has it].
            instances: Ray instances predicting chunks in parallel (a server whose
                executor is Ray); the output is the same, row for row.
        """
        c = client or default_client()
        spec = transform_spec(model, data, output, keep_columns=keep_columns,
                              chunk_rows=chunk_rows, cpus=cpus, memory=memory, name=name,
                              instances=instances)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", spec, headers=headers)
        return cls(doc["id"], client=c, _doc=doc)

    @classmethod
    def wrangle(
        cls, output: str, *, sql: str | None = None, recipe: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None, target: str | None = None,
        every: str | None = None, cron: str | None = None, schedule: str | None = None,
        cpus: int | None = None, memory: str | int | None = None, name: str | None = None,
        idempotency_key: str | None = None, client: Client | None = None,
    ) -> Job | Schedule:
        """Run a SQL query or a feature recipe as a job writing a new version of ``output``.

        The query sees each input channel as a table of its name and catalog tables
        (``lake.flights``); a recipe is fitted on its one input. With ``every`` ("1h") or
        ``cron`` ("0 6 * * *", UTC) nothing runs now: a :class:`Schedule` (named
        ``schedule``, default ``wrangle-<output>``) submits the job on each run instead.
        """
        from shipyard.client._catalog import wrangle_spec
        from shipyard.client._schedules import Schedule

        c = client or default_client()
        spec = wrangle_spec(output, sql=sql, recipe=recipe, inputs=inputs, target=target,
                            cpus=cpus, memory=memory, name=name)
        if every is not None or cron is not None:
            return Schedule.create(schedule or f"wrangle-{output}", spec, every=every,
                                   cron=cron, client=c)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = c.post("/jobs", spec, headers=headers)
        return cls(doc["id"], client=c, _doc=doc)

    @classmethod
    def list(cls, status: str | None = None, kind: str | None = None, limit: int | None = None,
             *, client: Client | None = None) -> pd.DataFrame:
        """Jobs, newest first, as a DataFrame."""
        import pandas as pd

        docs = (client or default_client()).get("/jobs", status=status, kind=kind, limit=limit)
        columns = ["id", "name", "kind", "status", "reason", "attempts", "created_at",
                   "started_at", "ended_at"]
        return pd.DataFrame([{c: d.get(c) for c in columns} for d in docs], columns=columns)

    # -- state ------------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        """The job document as the server last sent it."""
        return self._doc

    @property
    def status(self) -> str:
        return str(self._doc.get("status"))

    @property
    def reason(self) -> str | None:
        return self._doc.get("reason")

    @property
    def message(self) -> str | None:
        return self._doc.get("message")

    @property
    def kind(self) -> str | None:
        return self._doc.get("kind")

    @property
    def name(self) -> str | None:
        return self._doc.get("name")

    @property
    def experiment(self) -> str | None:
        return self._doc.get("experiment") or (self._doc.get("spec") or {}).get("experiment")

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._doc.get("tags") or {})

    @property
    def notes(self) -> str | None:
        return self._doc.get("notes")

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """The last value of each metric, nested by split: ``{"test": {"roc_auc": 0.84}}``.

        Metrics logged without a split (``rows``) stay at the top level;
        :meth:`metrics` has every point of every series.
        """
        return nest_metrics(self._doc.get("metrics"))

    @property
    def done(self) -> bool:
        """True once the job is Completed, Failed or Stopped (final states)."""
        return self.status in TERMINAL

    def wait(self, timeout: float | None = None, progress: bool = True, logs: bool = False,
             raise_on_failure: bool = True, poll_interval: float = 0.5) -> Job:
        """Block until the job ends; return self.

        Args:
            timeout: seconds to wait at most (:class:`WaitTimeout` after; the job goes on).
            progress: show the status while waiting (a spinner in a terminal, a status
                line in Jupyter).
            logs: stream the job's log while waiting.
            raise_on_failure: raise :class:`JobFailed` if the job ends Failed.
        """
        start = time.monotonic()
        reader = LogReader(self.client, self.id) if logs else None
        with WaitDisplay(enabled=progress) as display:
            while True:
                if reader:
                    display.log(reader.read())
                self.refresh()
                display.update(self._doc, time.monotonic() - start)
                if self.done:
                    if reader:
                        display.log(reader.read())
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise WaitTimeout(
                        f"Job {self.id} is still {self.status} after {timeout:g} s; "
                        "wait again or cancel it."
                    )
                time.sleep(poll_interval)
        if raise_on_failure and self.status == "Failed":
            raise JobFailed(self)
        return self

    # -- results ----------------------------------------------------------------------------
    def logs(self, offset: int = 0) -> str:
        """The job's whole log so far (stdout and stderr of every attempt)."""
        return LogReader(self.client, self.id, offset).read(max_requests=10_000)

    def metrics(self) -> pd.DataFrame:
        """Every metric the job logged: columns name, value, step, timestamp."""
        import pandas as pd

        rows = _metric_points(self.client.get(self._path("/metrics")))
        frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
        frame = frame.sort_values(["timestamp"], kind="stable", ignore_index=True)
        # Seconds since the epoch as the job logged them → times a person can read.
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
        return frame

    def findings(self) -> builtins.list[dict[str, Any]]:
        """What the job's debugger rules found so far: ``{rule, action, message, params,
        at}`` each, oldest first (``rules`` in the spec; training has default rules)."""
        return list(self.client.get(self._path()).get("findings") or [])

    def profile(self) -> Profile:
        """The job's resource profile (live while it runs): CPU, memory and I/O over time,
        the seconds of each phase, and findings. Renders in Jupyter with its plots;
        ``.to_dict()`` has the figures, ``render_html(profile)`` a whole page."""
        from shipyard.jobs._profile import Profile

        return Profile.from_dict(self.client.get(self._path("/profile")))

    @property
    def best(self) -> dict[str, Any] | None:
        """A tuning job's best trial: its job id, hyperparameters, validation metrics, and
        its test metrics once the study is over (None before any trial completed)."""
        return self.refresh()._doc.get("best")

    def trials(self) -> pd.DataFrame:
        """A tuning job's trials: number, job_id, state, objective, duration_seconds, best,
        and a column per searched hyperparameter."""
        import pandas as pd

        from shipyard.client._tuning import trial_rows

        return pd.DataFrame(trial_rows(self.refresh()._doc))

    def tuning_report(self) -> TuningReport:
        """A tuning job's report: objective over trials, hyperparameter importances
        (fANOVA), parallel coordinates and the trials. Renders in Jupyter;
        ``.render_html()`` is one offline page, ``.plots()`` the PNGs (base64).

        Raises:
            InvalidRequest: the job is not a tuning job.
        """
        from shipyard.tuning._report import TuningReport

        doc = self.refresh()._doc
        if doc.get("kind") != "tuning":
            raise InvalidRequest(f"Job {self.id} is a {doc.get('kind')} job, not a tuning "
                                 "job: it has no tuning report.")
        return TuningReport.from_job(doc)

    def evaluation(self) -> Evaluation:
        """The evaluation a training or evaluate job saved: metrics per split and its plots.

        Raises:
            NotFound: the job saved no evaluation (not a Completed training or evaluate job).
        """
        from shipyard.client._evaluation import load_evaluation

        return load_evaluation(self.client, self.id, self.artifacts())

    # -- tags, notes, registration ----------------------------------------------------------
    def tag(self, **tags: Any) -> Job:
        """Add or change tags of the job (merged into its tags; values become strings)."""
        self._doc = self.client.patch(self._path(),
                                      {"tags": {k: str(v) for k, v in tags.items()}})
        return self

    def set_notes(self, text: str) -> Job:
        """Replace the job's notes; return self."""
        self._doc = self.client.patch(self._path(), {"notes": text})
        return self

    def register(self, group: str, *, override_criteria: str | None = None,
                 card: Mapping[str, str] | None = None,
                 description: str | None = None,
                 candidate: int | None = None) -> ModelVersion:
        """Register this job's model as a new version of model group ``group`` (an AutoML
        job's final model, or with ``candidate`` its candidate of that number).

        The version waits for approval (PendingManualApproval). If the job's experiment
        has success criteria the job does not meet, registering raises
        :class:`CriteriaNotMet` unless ``override_criteria`` gives the reason to go on
        (recorded on the version and its card).

        Args:
            card: model card fields: intended_use, limitations, ethical_considerations,
                caveats.
        """
        from shipyard.client._models import register

        return register(self.client, group, self.id, override_criteria=override_criteria,
                        card=dict(card) if card else None, description=description,
                        candidate=candidate)

    def cancel(self) -> Job:
        """Ask the server to stop the job (Pending jobs stop at once); return self."""
        self._doc = self.client.post(self._path("/cancel"))
        return self

    def resume(self) -> Job:
        """Start a Failed or Stopped job again as a new attempt, from its last checkpoint
        (``checkpoints/``, see ``shipyard.runtime.checkpoint_dir``); return self."""
        self._doc = self.client.post(self._path("/resume"))
        return self

    def artifacts(self) -> builtins.list[dict[str, Any]]:
        """The files the job left (model, outputs, log), each with its ``path``."""
        body = self.client.get(self._path("/artifacts"))
        if isinstance(body, dict):
            return list(body.get("files") or body.get("artifacts") or [])
        return list(body)

    def download(self, path: str, dest: str | Path = ".") -> Path:
        """Download artifact ``path`` to ``dest`` (a file, or a folder to keep its name in)."""
        target = Path(dest).expanduser()
        if target.is_dir():
            target = target / Path(path).name
        self.client.download(self._path(f"/artifacts/{quote(path)}"), target,
                             what=f"{path!r} of job {self.id}")
        return target

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"<Job {self.id} {self.kind} {self.status}{reason}>"

    def _repr_html_(self) -> str:
        raw = self._doc.get("metrics")
        last = flat_metrics(raw) if isinstance(raw, dict) else None
        if last is None:
            last = {}
            try:
                for row in self.metrics().itertuples(index=False):
                    last[str(row.name)] = row.value
            except ShipyardError:
                pass
        return _render.job_html(self._doc, last)
