"""The job service: submit, look at, cancel jobs, and read what they left behind.

It never runs a job itself: it records the wish (a Pending job, a Stopping job)
and wakes the :class:`~shipyard.jobs.Supervisor`, which does the work.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from shipyard.artifacts import ArtifactStore
from shipyard.datasets import parse_ref
from shipyard.errors import InvalidRequest, NotFound
from shipyard.jobs import _states as st
from shipyard.jobs._spec import (
    DEFAULT_CHUNK_ROWS,
    KINDS,
    TRANSFORM_CHANNEL,
    JobSpec,
    parse_model_ref,
    parse_spec,
)
from shipyard.runtime import _contract as c
from shipyard.settings import Settings
from shipyard.store import (
    Database,
    EventLog,
    ExperimentRepository,
    JobRecord,
    JobRepository,
    MetricPoint,
    RegistryRepository,
    canonical_hash,
    iso,
    utcnow,
)

#: The most log bytes one call returns; a client follows a log by calling again.
MAX_LOG_CHUNK = 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255
#: Training submits are checked on the whole dataset up to this many rows, else a sample.
TRAINING_SAMPLE_ROWS = 200_000
TRAINING_FIELDS = ("algorithm", "target", "problem_type", "split", "recipe")


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex[:16]}"


class JobService:
    """Jobs as a resource: the API's side of the job lifecycle."""

    def __init__(self, db: Database, events: EventLog, artifacts: ArtifactStore, datasets: Any,
                 settings: Settings) -> None:
        self.repo = JobRepository(db, events)
        self.experiments = ExperimentRepository(db, events)
        self.models = RegistryRepository(db, events)
        self.events = events
        self.artifacts = artifacts
        self.datasets = datasets
        self.settings = settings
        #: The catalog a wrangle job's query may read tables of (set by the server).
        self.catalog: Any = None
        #: Set on every submit and cancel so the supervisor acts at once instead of at its
        #: next poll.
        self.wakeup = threading.Event()

    # -- submit ---------------------------------------------------------------------------
    def submit(self, body: Any, actor: str | None,
               idempotency_key: str | None = None) -> tuple[JobRecord, bool]:
        """Validate and record a job; return it and whether it is new.

        The same ``idempotency_key`` with the same body returns the job it made;
        with another body it raises :class:`~shipyard.errors.Conflict`.

        Raises:
            InvalidRequest: the spec is invalid. NotFound: an input dataset does not exist.
        """
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(
                f"An Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters; got "
                f"{len(idempotency_key)}."
            )
        spec = parse_spec(body)
        stored = self._stored_spec(spec)
        experiment = spec.experiment
        if spec.kind == "training":
            self._check_training(spec, stored)
            experiment = experiment or stored["inputs"]["train"]["dataset"]
        elif spec.kind == "transform":
            self._check_transform(spec, stored)
        elif spec.kind == "monitoring":
            self._pin_model(spec, stored)
        elif spec.kind == "wrangle":
            from shipyard.catalog import plan_wrangle

            plan_wrangle(spec, stored, self.catalog, self.datasets)
        if experiment and self.experiments.find(experiment) is None:
            self.experiments.upsert(experiment, actor)
        job, created = self.repo.create(
            new_job_id(), spec.kind, stored, name=spec.name, max_attempts=spec.max_attempts,
            actor=actor, initial_status=st.PENDING,
            idempotency=(idempotency_key, canonical_hash(body)) if idempotency_key else None,
            experiment=experiment, tags=spec.tags, notes=spec.notes,
        )
        if created:
            self.wakeup.set()
        return job, created

    def _stored_spec(self, spec: JobSpec) -> dict[str, Any]:
        """The spec as kept on the job: sources by SHA-256, inputs pinned to a version."""
        inputs = {}
        for channel, ref in spec.inputs.items():
            name, version = parse_ref(ref)
            try:
                rec = self.datasets.version(name, version)
            except NotFound as exc:
                raise NotFound(f"Input {channel!r}: {exc.message}") from None
            inputs[channel] = {"dataset": rec.dataset, "version": rec.version,
                               "content_hash": rec.content_hash}
        script = None
        if spec.script is not None:
            blob = self.artifacts.put_bytes(spec.script.source.encode())
            script = {"filename": spec.script.filename, "sha256": blob.sha256,
                      "size": blob.size}
        requirements = None
        if spec.requirements:
            req = self.artifacts.put_bytes(spec.requirements.encode())
            requirements = {"sha256": req.sha256, "size": req.size}
        resources = spec.resources
        return {
            "kind": spec.kind,
            "name": spec.name,
            "script": script,
            "requirements": requirements,
            "inputs": inputs,
            "outputs": list(spec.outputs),
            "hyperparameters": spec.hyperparameters,
            "resources": {"cpus": resources.cpus, "memory": resources.memory,
                          "memory_bytes": resources.memory_bytes},
            "max_runtime_seconds": spec.max_runtime_seconds,
            "retries": spec.retries,
            "grace_period_seconds": spec.grace_period_seconds,
            "environment": spec.environment,
            "metric_definitions": [d.model_dump() for d in spec.metric_definitions],
            **({k: getattr(spec, k) for k in TRAINING_FIELDS} if spec.kind == "training" else {}),
            **({"keep_columns": list(spec.keep_columns or []),
                "chunk_rows": spec.chunk_rows or DEFAULT_CHUNK_ROWS}
               if spec.kind == "transform" else {}),
            **({"monitor": spec.monitor} if spec.kind == "monitoring" else {}),
        }

    def _check_transform(self, spec: JobSpec, stored: dict[str, Any]) -> None:
        """Refuse a transform job that cannot work (4xx, nothing started); pin its model.

        The stored spec names the model version and every file of its bundle by SHA-256,
        so the executor needs no registry and a retry runs the very same bundle.
        """
        self._pin_model(spec, stored)
        data = stored["inputs"][TRANSFORM_CHANNEL]
        rec = self.datasets.version(data["dataset"], data["version"])
        columns = [str(col["name"]) for col in rec.schema]
        for name in stored["keep_columns"]:
            if name not in columns:
                raise InvalidRequest(
                    f"keep_columns: {data['dataset']}:{data['version']} has no column "
                    f"{name!r}; its columns are {columns}.")
            if name == "prediction" or name.startswith("probability."):
                raise InvalidRequest(
                    f"keep_columns: {name!r} would clash with the model's output columns; "
                    "rename it in the dataset first.")

    def _pin_model(self, spec: JobSpec, stored: dict[str, Any]) -> None:
        """Name the model version and every file of its bundle by SHA-256 in the stored spec."""
        group, number = parse_model_ref(spec.model or "")
        version = self.models.get(group, number)  # NotFound → 404
        files = (version.bundle or {}).get("files") or []
        if not any(f.get("path") == "MODEL.json" for f in files):
            raise InvalidRequest(f"Model {group}:{number} has no MODEL.json in its bundle; "
                                 f"only a bundle of a built-in training job can run a "
                                 f"{spec.kind} job.")
        stored["model"] = {"group": group, "version": number,
                           "files": [{"path": f["path"], "sha256": f["sha256"],
                                      "size": f["size"]} for f in files]}

    def _check_training(self, spec: JobSpec, stored: dict[str, Any]) -> None:
        """Refuse a training job that cannot work before it exists (4xx, nothing started).

        Fills the algorithm's defaults into the stored hyperparameters, so runs compare.
        """
        from shipyard.evaluation import SplitSpec
        from shipyard.features import UserRecipe
        from shipyard.training import (
            check_training_columns,
            check_training_data,
            get_algorithm,
            validate_hyperparameters,
        )

        algorithm = spec.algorithm or ""
        stored["hyperparameters"] = validate_hyperparameters(algorithm, spec.hyperparameters)
        recipe = UserRecipe.from_dict(spec.recipe) if spec.recipe is not None else None
        if spec.split is not None:
            if set(spec.inputs) >= {"validation", "test"}:
                raise InvalidRequest("Give either validation and test datasets or a split, "
                                     "not both.")
            SplitSpec.from_dict(spec.split)
        train = stored["inputs"]["train"]
        version = self.datasets.version(train["dataset"], train["version"])
        held_out = {f"{r['dataset']}:{r['version']}": _column_names(
            self.datasets.version(r["dataset"], r["version"]))
            for ch, r in stored["inputs"].items() if ch != "train"}
        check_training_columns(
            _column_names(version), f"{train['dataset']}:{train['version']}",
            target=spec.target, supervised=get_algorithm(algorithm).info.supervised,
            split=spec.split, recipe=recipe, others=held_out)
        # The job reads its size threshold from its config (jobs see no SHIPYARD_* variables).
        stored["bundle_size_warning"] = self.settings.bundle_size_warning
        for col in version.schema:
            if version.num_rows and col.get("missing") == version.num_rows:
                raise InvalidRequest(
                    f"Column {col['name']!r} of {train['dataset']}:{train['version']} is missing "
                    "in every row; drop it (a processing job) or fill it before training.")
        rows = TRAINING_SAMPLE_ROWS if version.num_rows > TRAINING_SAMPLE_ROWS else None
        table = (self.datasets.head(train["dataset"], train["version"], n=rows) if rows
                 else self.datasets.read_table(train["dataset"], train["version"]))
        check_training_data(table.to_pandas(), spec.target, algorithm, spec.problem_type)

    # -- read -----------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        return self.repo.get(job_id)

    def list(self, status: str | None = None, kind: str | None = None,
             limit: int = 100) -> list[JobRecord]:
        statuses = None
        if status:
            statuses = [s.strip() for s in status.split(",") if s.strip()]
            bad = [s for s in statuses if s not in st.STATUSES]
            if bad:
                raise InvalidRequest(f"Unknown job status {bad[0]!r}; use one of: "
                                     f"{', '.join(st.STATUSES)}.")
        if kind and kind not in KINDS:
            raise InvalidRequest(f"Unknown job kind {kind!r}; use one of: {', '.join(KINDS)}.")
        if not 1 <= limit <= 1000:
            raise InvalidRequest(f"limit must be between 1 and 1000; got {limit}.")
        return self.repo.list(statuses=statuses, kind=kind, limit=limit)

    def annotate(self, job_id: str, actor: str | None, *, tags: dict[str, str] | None = None,
                 notes: str | None = None) -> JobRecord:
        """Merge tags into a job's and/or replace its notes (runs are found again by them)."""
        job = self.repo.get(job_id)
        fields: dict[str, Any] = {}
        if tags is not None:
            try:
                JobSpec.model_validate({"kind": "training", "algorithm": "-", "tags": tags,
                                        "inputs": {"train": "-"}})
            except ValidationError as exc:
                msg = str(exc.errors()[0].get("msg", "")).removeprefix("Value error, ")
                raise InvalidRequest(f"Invalid tags: {msg}.") from None
            fields["tags"] = {**(job.tags or {}), **{k: str(v) for k, v in tags.items()}}
        if notes is not None:
            fields["notes"] = notes[:10_000]
        if fields:
            self.repo.update_fields(job_id, **fields)
        return self.repo.get(job_id)

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, job_id: str, actor: str | None) -> JobRecord:
        """Stop a job: a Pending one at once, a started one through Stopping (SIGTERM, grace,
        SIGKILL by the supervisor). A finished job is returned unchanged."""
        for _ in range(10):
            job = self.repo.get(job_id)
            if job.status in st.TERMINAL or job.status == st.STOPPING:
                return job
            who = f" by {actor}" if actor else ""
            if job.status == st.PENDING:
                done = st.transition(self.repo, job_id, st.STOPPED, st.PENDING, actor=actor,
                                     message=f"Cancelled{who} before it started.",
                                     ended_at=utcnow())
            else:
                done = st.transition(self.repo, job_id, st.STOPPING, [st.STARTING, st.RUNNING],
                                     actor=actor, message=f"Cancel requested{who}.")
            if done is not None:
                self.wakeup.set()
                return done
        return self.repo.get(job_id)

    # -- logs, metrics, artifacts ---------------------------------------------------------
    def log_path(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id / c.LOG_FILE

    def logs(self, job_id: str, offset: int = 0,
             limit: int = MAX_LOG_CHUNK) -> tuple[bytes, int, str]:
        """Log bytes from ``offset``; return them, the next offset, and the job's status.

        The status is read before the bytes, so once a terminal status comes back with
        no bytes, the log is complete.
        """
        if offset < 0:
            raise InvalidRequest(f"offset must be 0 or more; got {offset}.")
        job = self.repo.get(job_id)
        limit = max(1, min(limit, MAX_LOG_CHUNK))
        path = self.log_path(job_id)
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(limit)
        except FileNotFoundError:
            log = job.outputs.get("log")
            data = b""
            if log:  # the working folder was cleaned; the stored copy remains
                data = self.artifacts.read_bytes(log["sha256"])[offset:offset + limit]
        return data, offset + len(data), job.status

    def metrics(self, job_id: str,
                name: str | None = None) -> dict[str, builtins.list[dict[str, Any]]]:
        """Every metric of a job as time series: name → [{step, value, timestamp}]."""
        series: dict[str, builtins.list[dict[str, Any]]] = {}
        # cast: the repository's annotation names its own ``list`` method (mypy).
        points = cast("builtins.list[MetricPoint]", self.repo.metrics(job_id, name))
        for p in points:
            series.setdefault(p.name, []).append(
                {"step": p.step, "value": p.value, "timestamp": p.timestamp})
        return series

    def metrics_summary(self, job_id: str) -> dict[str, float]:
        """The last value of each metric."""
        return {name: points[-1]["value"] for name, points in self.metrics(job_id).items()}

    def artifacts_of(self, job_id: str) -> dict[str, Any]:
        job = self.repo.get(job_id)
        return {"job_id": job.id, "files": _manifest_files(job),
                "datasets": job.outputs.get("datasets", {})}

    def open_artifact(self, job_id: str, path: str) -> tuple[dict[str, Any], Iterator[bytes]]:
        """A file of the job's manifest and its checked bytes, found by its path.

        Only paths in the manifest are served; the path never reaches a filesystem.
        """
        job = self.repo.get(job_id)
        for entry in _manifest_files(job):
            if entry["path"] == path:
                return entry, self.artifacts.iter_chunks(entry["sha256"])
        raise NotFound(
            f"Job {job_id!r} has no artifact {path!r}; GET /api/v1/jobs/{job_id}/artifacts "
            "lists them."
        )


def _column_names(version: Any) -> list[str]:
    return [str(col["name"]) for col in version.schema]


def _manifest_files(job: JobRecord) -> list[dict[str, Any]]:
    files = list(job.outputs.get("model", {}).get("files", []))
    if job.outputs.get("log"):
        files.append(job.outputs["log"])
    return files


def job_to_dict(rec: JobRecord, metrics_summary: dict[str, float] | None = None) -> dict[str, Any]:
    """A job as the API shows it."""
    out: dict[str, Any] = {
        "id": rec.id, "kind": rec.kind, "name": rec.name, "status": rec.status,
        "reason": rec.reason, "message": rec.message, "attempts": rec.attempts,
        "max_attempts": rec.max_attempts, "pid": rec.pid, "spec": rec.spec,
        "outputs": rec.outputs, "created_at": iso(rec.created_at),
        "started_at": iso(rec.started_at), "ended_at": iso(rec.ended_at),
        "updated_at": iso(rec.updated_at), "created_by": rec.created_by,
        "experiment": rec.experiment, "tags": rec.tags or {}, "notes": rec.notes,
    }
    if metrics_summary is not None:
        out["metrics"] = nest_metrics(metrics_summary)
    return out


def nest_metrics(flat: dict[str, float]) -> dict[str, Any]:
    """Last values, with ``<split>.<metric>`` names nested: ``metrics.test.roc_auc``."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        head, dot, rest = name.partition(".")
        if dot and head in ("train", "validation", "test") and not isinstance(out.get(head), float):
            out.setdefault(head, {})[rest] = value
        else:
            out[name] = value
    return out

