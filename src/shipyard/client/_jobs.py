"""``sy.Job``: run a script as a job on the server, wait for it, read its logs and metrics."""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, default_client
from shipyard.client._logs import TERMINAL, LogReader
from shipyard.client._progress import WaitDisplay
from shipyard.errors import InvalidRequest, ShipyardError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

METRIC_COLUMNS = ["name", "value", "step", "timestamp"]


class JobFailed(ShipyardError):
    """A job the caller waited for ended Failed."""

    code = "job_failed"

    def __init__(self, job: Job) -> None:
        reason = job.reason or "unknown reason"
        detail = f": {job.message.strip()}" if job.message and job.message.strip() else ""
        super().__init__(
            f"Job {job.id} failed ({reason}){detail}. `shipyard jobs logs {job.id}` shows its log."
        )
        self.job = job
        self.reason = job.reason


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
) -> dict[str, Any]:
    """The JSON job spec of ``POST /jobs`` (see docs/architecture.md), read from local files."""
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
    resources: dict[str, Any] = {}
    if cpus is not None:
        resources["cpus"] = cpus
    if memory is not None:
        resources["memory"] = memory
    if resources:
        spec["resources"] = resources
    if max_runtime is not None:
        spec["max_runtime_seconds"] = max_runtime
    if environment:
        spec["environment"] = dict(environment)
    return spec


class Job:
    """A job on the server: ``sy.Job.run(...)`` submits one, ``sy.Job(id)`` loads one."""

    def __init__(self, id: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.id = id
        self._client = client
        self._doc = _doc if _doc is not None else self.client.get(self._path())

    @property
    def client(self) -> Client:
        return self._client or default_client()

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
        environment: Mapping[str, str] | None = None, client: Client | None = None,
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
        """
        c = client or default_client()
        spec = build_spec(kind, script, inputs=inputs, outputs=outputs,
                          requirements=requirements, hyperparameters=hyperparameters,
                          cpus=cpus, memory=memory, max_runtime=max_runtime, retries=retries,
                          name=name, environment=environment)
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
    def done(self) -> bool:
        """True once the job is Completed, Failed or Stopped (final states)."""
        return self.status in TERMINAL

    def refresh(self) -> Job:
        self._doc = self.client.get(self._path())
        return self

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
        return frame.sort_values(["timestamp"], kind="stable", ignore_index=True)

    def cancel(self) -> Job:
        """Ask the server to stop the job (Pending jobs stop at once); return self."""
        self._doc = self.client.post(self._path("/cancel"))
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
        self.client.download(self._path(f"/artifacts/{quote(path)}"), target)
        return target

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"<Job {self.id} {self.kind} {self.status}{reason}>"

    def _repr_html_(self) -> str:
        last = self._doc.get("metrics")
        if not isinstance(last, dict):
            last = {}
            try:
                for row in self.metrics().itertuples(index=False):
                    last[str(row.name)] = row.value
            except ShipyardError:
                pass
        return _render.job_html(self._doc, last)
