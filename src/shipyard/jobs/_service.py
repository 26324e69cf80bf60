"""The job service: submit, look at, cancel jobs, and read what they left behind.

It never runs a job itself: it records the wish (a Pending job, a Stopping job)
and wakes the :class:`~shipyard.jobs.Supervisor`, which does the work.
"""

from __future__ import annotations

import builtins
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from shipyard.artifacts import ArtifactStore
from shipyard.datasets import parse_ref
from shipyard.errors import Conflict, InvalidRequest, NotFound
from shipyard.jobs import _states as st
from shipyard.jobs._debugger import EVENT as RULE_EVENT
from shipyard.jobs._debugger import RuleSpec, check_rules
from shipyard.jobs._executors import Executor, make_executor
from shipyard.jobs._kinds import (
    JobKind,
    SubmitContext,
    get_kind,
    kind_names,
    parse_spec,
    registered_kinds,
)
from shipyard.jobs._live import LiveJobs
from shipyard.jobs._profile import Profile, build_profile
from shipyard.jobs._spec import JobSpecBase, check_tags
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

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.catalog import CatalogService
    from shipyard.datasets import DatasetService

logger = logging.getLogger("shipyard.jobs")

#: The most log bytes one call returns; a client follows a log by calling again.
MAX_LOG_CHUNK = 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex[:16]}"


def _rules(spec: JobSpecBase, kind: JobKind) -> list[RuleSpec]:
    """The rules a job judges: its kind's defaults (unless it says default_rules=False),
    each replaced by the spec's rule of the same name, then the spec's other rules."""
    given = {r.name: r for r in spec.rules}
    defaults = kind.default_rules if spec.default_rules else ()
    rules = [given.pop(n) if n in given else RuleSpec(name=n) for n in defaults]
    return check_rules([*rules, *given.values()])


class JobService:
    """Jobs as a resource: the API's side of the job lifecycle.

    Args:
        executor: what runs the jobs (the supervisor launches on it; submit checks
            ``resources`` against its capacity). Default: the one ``settings`` name.
        live: the handles of the jobs this process runs (live logs), shared with the
            supervisor.
        catalog: the catalog a wrangle job's query may read tables of.
    """

    def __init__(self, db: Database, events: EventLog, artifacts: ArtifactStore,
                 datasets: DatasetService, settings: Settings, *,
                 executor: Executor | None = None, live: LiveJobs | None = None,
                 catalog: CatalogService | None = None) -> None:
        self.repo = JobRepository(db, events)
        self.experiments = ExperimentRepository(db, events)
        self.models = RegistryRepository(db, events)
        self.events = events
        self.artifacts = artifacts
        self.datasets = datasets
        self.settings = settings
        self.executor = executor if executor is not None else make_executor(settings, artifacts)
        self.live = live if live is not None else LiveJobs()
        self.catalog = catalog
        #: Set on every submit and cancel so the supervisor acts at once instead of at its
        #: next poll.
        self.wakeup = threading.Event()
        self._end_listeners: builtins.list[Callable[[str], None]] = []

    # -- who waits for jobs to end ------------------------------------------------------
    def on_end(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(job_id)`` when this process's supervisor ends a job (a pipeline
        engine starts the next step at once instead of at its next poll)."""
        self._end_listeners.append(callback)

    def notify_ended(self, job_id: str) -> None:
        for callback in list(self._end_listeners):
            try:
                callback(job_id)
            except Exception:  # noqa: BLE001 - a listener must not break the supervisor
                logger.exception("a job-end listener failed on %s", job_id)

    # -- submit ---------------------------------------------------------------------------
    def submit(self, body: Any, actor: str | None,
               idempotency_key: str | None = None) -> tuple[JobRecord, bool]:
        """Validate and record a job; return it and whether it is new.

        The spec is checked by its kind (the registry's discriminated union, then the
        kind's submit-time check, which pins what a retry must see unchanged). The same
        ``idempotency_key`` with the same body returns the job it made; with another body
        it raises :class:`~shipyard.errors.Conflict`.

        Raises:
            InvalidRequest: the spec is invalid. NotFound: an input dataset (or a model
            version a kind names) does not exist.
        """
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(
                f"An Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters; got "
                f"{len(idempotency_key)}."
            )
        spec = parse_spec(body, capacity=self.executor.capacity())
        kind = get_kind(spec.kind)
        ctx = SubmitContext(spec=spec, stored=self._stored_spec(spec, kind),
                            datasets=self.datasets, models=self.models,
                            artifacts=self.artifacts, catalog=self.catalog, actor=actor,
                            settings=self.settings, experiment=spec.experiment,
                            jobs=self.repo)
        if kind.check is not None:
            kind.check(ctx)
        experiment = ctx.experiment
        if experiment and self.experiments.find(experiment) is None:
            self.experiments.upsert(experiment, actor)
        job, created = self.repo.create(
            new_job_id(), spec.kind, ctx.stored, name=spec.name,
            max_attempts=spec.max_attempts, actor=actor, initial_status=st.PENDING,
            idempotency=(idempotency_key, canonical_hash(body)) if idempotency_key else None,
            experiment=experiment, tags=spec.tags, notes=spec.notes,
        )
        if created:
            self.wakeup.set()
        return job, created

    def _stored_spec(self, spec: JobSpecBase, kind: JobKind) -> dict[str, Any]:
        """The spec as kept on the job: the common part with inputs pinned to a version,
        and the kind's own fields as submitted (its check may pin them further)."""
        inputs = {}
        for channel, ref in spec.inputs.items():
            name, version = parse_ref(ref)
            try:
                rec = self.datasets.version(name, version)
            except NotFound as exc:
                raise NotFound(f"Input {channel!r}: {exc.message}") from None
            inputs[channel] = {"dataset": rec.dataset, "version": rec.version,
                               "content_hash": rec.content_hash}
        resources = spec.resources
        return {
            "kind": spec.kind,
            "name": spec.name,
            "inputs": inputs,
            "outputs": list(spec.outputs),
            "hyperparameters": spec.hyperparameters,
            "resources": {"cpus": resources.cpus, "memory": resources.memory,
                          "memory_bytes": resources.memory_bytes},
            "max_runtime_seconds": spec.max_runtime_seconds,
            "retries": spec.retries,
            "grace_period_seconds": spec.grace_period_seconds,
            "environment": spec.environment,
            "rules": [r.model_dump(mode="json") for r in _rules(spec, kind)],
            **spec.model_dump(mode="json", include=set(kind.own_fields)),
        }

    @staticmethod
    def kinds() -> builtins.list[dict[str, Any]]:
        """The registered job kinds, with the JSON schema of each one's spec."""
        return [k.describe() for k in registered_kinds()]

    # -- read -----------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        return self.repo.get(job_id)

    def list(self, status: str | None = None, kind: str | None = None,
             limit: int = 100, offset: int = 0) -> list[JobRecord]:
        statuses = None
        if status:
            statuses = [s.strip() for s in status.split(",") if s.strip()]
            bad = [s for s in statuses if s not in st.STATUSES]
            if bad:
                raise InvalidRequest(f"Unknown job status {bad[0]!r}; use one of: "
                                     f"{', '.join(st.STATUSES)}.")
        if kind and kind not in kind_names():
            raise InvalidRequest(f"Unknown job kind {kind!r}; use one of: "
                                 f"{', '.join(kind_names())}.")
        if not 1 <= limit <= 1000:
            raise InvalidRequest(f"limit must be between 1 and 1000; got {limit}.")
        if offset < 0:
            raise InvalidRequest(f"offset must be 0 or more; got {offset}.")
        return self.repo.list(statuses=statuses, kind=kind, limit=limit, offset=offset)

    def annotate(self, job_id: str, actor: str | None, *, tags: dict[str, str] | None = None,
                 notes: str | None = None) -> JobRecord:
        """Merge tags into a job's and/or replace its notes (runs are found again by them)."""
        job = self.repo.get(job_id)
        fields: dict[str, Any] = {}
        if tags is not None:
            try:
                check_tags(tags)
            except ValueError as exc:
                raise InvalidRequest(f"Invalid tags: {exc}.") from None
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
                # A retried or resumed job waits with attempts done: it did start before.
                before = f"attempt {job.attempts + 1}" if job.attempts else "it"
                done = st.transition(self.repo, job_id, st.STOPPED, st.PENDING, actor=actor,
                                     message=f"Cancelled{who} before {before} started.",
                                     ended_at=utcnow())
            else:
                done = st.transition(self.repo, job_id, st.STOPPING, [st.STARTING, st.RUNNING],
                                     actor=actor, message=f"Cancel requested{who}.")
            if done is not None:
                self.wakeup.set()
                return done
        return self.repo.get(job_id)

    # -- resume ---------------------------------------------------------------------------
    def resume(self, job_id: str, actor: str | None) -> JobRecord:
        """Start a Failed or Stopped job again as a new attempt (Pending, then the next
        attempt number), with its retries anew; it gets its last synced checkpoint back in
        ``checkpoints/`` before its process starts.

        Raises:
            NotFound: no such job. Conflict: the job is not Failed or Stopped.
        """
        job = self.repo.get(job_id)
        if job.status not in st.RESUMABLE:
            raise Conflict(
                f"Job {job_id} is {job.status}; only a Failed or Stopped job can be resumed "
                + ("(a completed job is final: submit it again to train anew)."
                   if job.status == st.COMPLETED else "(wait until it has ended, or cancel "
                   "it first).")
            )
        who = f" by {actor}" if actor else ""
        retries = int(job.spec.get("retries") or 0)
        done = self.repo.transition(
            job_id, st.PENDING, sorted(st.RESUMABLE), actor=actor, reason=None,
            ended_at=None, max_attempts=job.attempts + 1 + retries,
            message=f"Resumed{who} after attempt {job.attempts} ({job.status.lower()}"
                    + (f": {job.reason}" if job.reason else "") + ").")
        if done is None:  # resumed by someone else meanwhile
            return self.repo.get(job_id)
        self.wakeup.set()
        return done

    # -- logs, metrics, artifacts ---------------------------------------------------------
    def logs(self, job_id: str, offset: int = 0,
             limit: int = MAX_LOG_CHUNK) -> tuple[bytes, int, str]:
        """Log bytes from ``offset``; return them, the next offset, and the job's status.

        A job this server runs is read live through its executor handle; any other job's
        log is the copy in the artifact store (a finished job's, or the earlier attempts'
        of a retried one); the job's working folder is never read. The status is read
        before the bytes, so once a terminal status comes back with no bytes, the log is
        complete.
        """
        if offset < 0:
            raise InvalidRequest(f"offset must be 0 or more; got {offset}.")
        job = self.repo.get(job_id)
        limit = max(1, min(limit, MAX_LOG_CHUNK))
        handle = self.live.get(job_id) if job.status not in st.TERMINAL else None
        if handle is not None:
            data = handle.read_log(offset, limit)
        else:
            log = (job.outputs or {}).get("log")
            data = self.artifacts.read_bytes(log["sha256"])[offset:offset + limit] \
                if log else b""
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

    def profile(self, job_id: str) -> Profile:
        """The job's resource profile so far (live while it runs): its ``system.*``
        samples and phases, with findings."""
        job = self.repo.get(job_id)
        points = cast("builtins.list[MetricPoint]", self.repo.metrics(job_id, system=True))
        end = job.ended_at or utcnow()
        duration = (end - job.started_at).total_seconds() if job.started_at else 0.0
        resources = job.spec.get("resources") or {}
        return build_profile(job_id, points, cpus=int(resources.get("cpus") or 1),
                             memory_limit=int(resources.get("memory_bytes") or 0),
                             duration=max(duration, 0.0))

    def findings(self, job_id: str) -> builtins.list[dict[str, Any]]:
        """What the job's debugger rules found: ``{rule, action, message, params, at}``
        each, oldest first."""
        events = self.repo.events.list(resource_type="job", resource_id=job_id,
                                       kind=RULE_EVENT, limit=1000)
        return [{**{k: e.payload.get(k) for k in ("rule", "action", "message", "params")},
                 "at": e.created_at.isoformat()} for e in events]

    def metrics_summary(self, job_id: str) -> dict[str, float]:
        """The last value of each metric."""
        return {name: points[-1]["value"] for name, points in self.metrics(job_id).items()}

    def artifacts_of(self, job_id: str) -> dict[str, Any]:
        job = self.repo.get(job_id)
        return {"job_id": job.id, "files": _manifest_files(job),
                "datasets": job.outputs.get("datasets", {})}

    def open_artifact(self, job_id: str, path: str) -> tuple[dict[str, Any], Iterator[bytes]]:
        """A file of the job's manifest and its checked bytes, found by its path."""
        entry = self.artifact_entry(job_id, path)
        return entry, self.artifacts.iter_chunks(entry["sha256"])

    def artifact_entry(self, job_id: str, path: str) -> dict[str, Any]:
        """The manifest entry (path, sha256, size) of a file of the job, found by its path.

        Only paths in the manifest are served; the path never reaches a filesystem.
        """
        job = self.repo.get(job_id)
        for entry in _manifest_files(job):
            if entry["path"] == path:
                return entry
        raise NotFound(
            f"Job {job_id!r} has no artifact {path!r}; GET /api/v1/jobs/{job_id}/artifacts "
            "lists them."
        )


def _manifest_files(job: JobRecord) -> list[dict[str, Any]]:
    """Every stored file of a job: model files, output data files, other output files, log."""
    outputs = job.outputs or {}
    files = list((outputs.get("model") or {}).get("files") or [])
    for entries in (outputs.get("data") or {}).values():
        files.extend(entries)
    files.extend(outputs.get("files") or [])
    if outputs.get("log"):
        files.append(outputs["log"])
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
        "executor": rec.executor, "heartbeat_at": iso(rec.heartbeat_at),
    }
    if metrics_summary is not None:
        out["metrics"] = nest_metrics(metrics_summary)
    # A tuning job's results are its study (outputs.study); shown at the top as well.
    study = (rec.outputs or {}).get("study")
    if study:
        out["trials"], out["best"] = study.get("trials"), study.get("best")
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

