"""``sy.Pipeline`` and ``sy.Execution``: pipelines in Python, saved and started on the server.

::

    import shipyard as sy
    from shipyard import steps

    data = sy.Parameter("data", type="dataset", default="churn")
    min_auc = sy.Parameter("min_auc", type=float, default=0.8)
    prep = steps.Processing("prep", "prep.py", inputs={"raw": data}, outputs=["churn-clean"])
    train = steps.Training("train", algorithm="xgboost", train=prep.outputs["churn-clean"],
                           target="Churn")
    register = steps.Register("register", model=train, group="churn")
    gate = steps.Condition("gate", train.metrics.test.roc_auc >= min_auc, then=[register],
                           else_=[steps.Fail("too-weak", "The new model is not good enough.")])
    pipeline = sy.Pipeline("churn-retrain", steps=[gate], parameters=[data, min_auc])
    execution = pipeline.start(min_auc=0.85, wait=True)

A step or parameter that another step references (or names in ``depends_on``, or puts
on a condition's branch) is part of the pipeline even when ``steps=`` or
``parameters=`` does not list it: above, ``prep``, ``train``, ``register`` and
``too-weak`` come in through ``gate``. Listed steps keep their order; each one found
this way goes just before the first step that references it, or, on a condition's
branch, just after the condition. Two different steps (or parameters) of one name are
an error.

Not ``sy.pipelines``: ``shipyard.pipelines`` is the server's package of that name, so
the SDK's functions are class methods: ``sy.Pipeline.list()``, ``sy.Pipeline.get(name)``,
``sy.Execution.get(id)``.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.client._pipeline_refs import Collector, Parameter, step_dependencies
from shipyard.client._pipeline_steps import Step
from shipyard.client._progress import STEP_COLUMNS, ExecutionDisplay
from shipyard.errors import InvalidRequest, ShipyardError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Execution statuses that do not change any more (Failed and Stopped can be retried).
ENDED = frozenset({"Succeeded", "Failed", "Stopped"})
EXECUTION_COLUMNS = ["id", "pipeline", "version", "status", "trigger", "created_at",
                     "ended_at", "reason"]


class ExecutionFailed(ShipyardError):
    """An execution the caller waited for ended Failed or Stopped."""

    code = "execution_failed"

    def __init__(self, execution: Execution) -> None:
        super().__init__(failure_sentence(execution.doc))
        self.execution = execution
        self.reason = execution.reason


def failure_sentence(doc: Mapping[str, Any]) -> str:
    """Why an execution did not succeed, and what to do, in one sentence."""
    eid, status = doc.get("id"), str(doc.get("status"))
    why = str(doc.get("reason") or "no reason given").rstrip(".")
    return (f"Execution {eid} of pipeline {doc.get('pipeline')!r} ended {status}: {why}. "
            f"`shipyard pipelines show {eid}` shows its steps; `shipyard pipelines retry "
            f"{eid}` starts it again from the steps that did not succeed.")


# -- compiling ----------------------------------------------------------------------------
def compile_pipeline(name: str, steps: Sequence[Step], parameters: Sequence[Parameter],
                     description: str = "") -> dict[str, Any]:
    """The definition JSON of a DSL pipeline (see the module docstring for the steps and
    parameters it adds)."""
    listed = list(steps)
    for s in listed:
        if not isinstance(s, Step):
            raise InvalidRequest(f"steps= holds steps (sy.steps.Processing(...), …); got "
                                 f"{s!r}.")
    params = Collector()
    for p in parameters:
        if not isinstance(p, Parameter):
            raise InvalidRequest(f"parameters= holds sy.Parameter(...) objects; got {p!r}.")
        params.parameter(p)
    done: list[Step] = []
    docs: list[dict[str, Any]] = []

    def visit(step: Step) -> None:
        if any(s is step for s in done):
            return
        done.append(step)  # before its dependencies: a cycle is left for the server to name
        into = Collector()
        doc = step.compile(into)
        for dep in into.steps:
            if not any(dep is s for s in listed):
                visit(dep)
        for p in into.parameters:
            params.parameter(p)
        docs.append(doc)
        for follower in into.followers:
            if not any(follower is s for s in listed):
                visit(follower)

    for s in listed:
        visit(s)
    _unique([s.name for s in done], done, "steps")
    _unique([p.name for p in params.parameters], params.parameters, "parameters")
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    declared = {p.name: p.declaration() for p in params.parameters}
    out["parameters"] = list(declared.values())
    out["steps"] = docs
    return out


def _unique(names: list[str], objects: Sequence[Any], what: str) -> None:
    for i, n in enumerate(names):
        j = names.index(n)
        if j != i:
            a, b = objects[j], objects[i]
            same = isinstance(a, Parameter) and a.declaration() == b.declaration()
            if not same:
                raise InvalidRequest(f"Two different {what} are named {n!r} ({a!r} and {b!r}); "
                                     "give each its own name, or use the same object.")


class Pipeline:
    """A pipeline: built in Python from steps, or loaded from the server.

    Args:
        name: the pipeline's name on the server.
        steps: its steps (steps they reference come in by themselves).
        parameters: its parameters (those steps reference come in by themselves).
    """

    def __init__(self, name: str, steps: Sequence[Step] = (), *,
                 parameters: Sequence[Parameter] = (), description: str = "",
                 client: Client | None = None) -> None:
        self.name = name
        self.steps = list(steps)
        self.parameters = list(parameters)
        self.description = description
        self._client = client
        self._document: dict[str, Any] | None = None
        self._from_server = False
        #: The server's version of the definition, once saved or loaded.
        self.version: int | None = None
        #: Whether the last save made a new version.
        self.changed: bool | None = None

    @property
    def client(self) -> Client:
        return self._client or default_client()

    @classmethod
    def from_dict(cls, definition: Mapping[str, Any], *,
                  client: Client | None = None) -> Pipeline:
        """A pipeline of a JSON definition as it is (a file, or one the server sent)."""
        if not isinstance(definition, Mapping) or not definition.get("name"):
            raise InvalidRequest("A pipeline definition is a JSON object with a name, "
                                 "parameters and steps.")
        p = cls(str(definition["name"]), description=str(definition.get("description") or ""),
                client=client)
        p._document = json.loads(json.dumps(definition))
        return p

    @classmethod
    def get(cls, name: str, *, version: int | None = None,
            client: Client | None = None) -> Pipeline:
        """The pipeline ``name`` as the server has it (its latest version, or ``version``)."""
        c = client or default_client()
        path = f"/pipelines/{quote(name, safe='')}"
        doc = c.get(path if version is None else f"{path}/versions/{int(version)}")
        p = cls.from_dict(doc["definition"], client=c)
        p._from_server = True
        p.version = int(doc.get("version") or doc.get("latest_version") or 0) or None
        return p

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        """Every pipeline: name, description, latest_version, updated_at, created_by."""
        import pandas as pd

        columns = ["name", "description", "latest_version", "updated_at", "created_by"]
        docs = (client or default_client()).get("/pipelines")
        return pd.DataFrame([{k: d.get(k) for k in columns} for d in docs], columns=columns)

    # -- the definition -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON definition (docs/pipelines.md, "The definition")."""
        if self._document is not None:
            return json.loads(json.dumps(self._document))
        return compile_pipeline(self.name, self.steps, self.parameters, self.description)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def create(self, *, client: Client | None = None) -> Pipeline:
        """Save the definition on the server: a new pipeline, or a new version when it
        changed (:attr:`version`, :attr:`changed` say which); return self."""
        if client is not None:
            self._client = client
        doc = self.client.post("/pipelines", self.to_dict())
        self.version, self.changed = int(doc["version"]), bool(doc["changed"])
        return self

    save = create

    def start(self, parameters: Mapping[str, Any] | None = None, *, wait: bool = False,
              progress: bool = True, version: int | None = None,
              idempotency_key: str | None = None, timeout: float | None = None,
              **params: Any) -> Execution:
        """Start an execution with these parameters (the defaults fill the rest).

        A pipeline built in Python (or from a JSON definition) is saved first, a new
        version only if it changed; one loaded with :meth:`get` starts as the server has it.

        Args:
            parameters: parameters by name, for names that are not Python keywords or
                that this method's own arguments use; ``params`` are the others.
            wait: wait until the execution ends (raising :class:`ExecutionFailed` if it
                does not succeed); ``progress`` shows its steps meanwhile.
            version: the definition version (default: the latest).
            idempotency_key: starting again with this key returns the same execution.
        """
        if not self._from_server and version is None:
            self.create()
        body: dict[str, Any] = {"parameters": {**dict(parameters or {}), **params}}
        if version is not None:
            body["version"] = int(version)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        doc = self.client.post(f"/pipelines/{quote(self.name, safe='')}/executions", body,
                               headers=headers)
        execution = Execution(doc["id"], client=self.client, _doc=doc)
        return execution.wait(timeout=timeout, progress=progress) if wait else execution

    def executions(self, status: str | None = None, limit: int = 100) -> pd.DataFrame:
        """The pipeline's executions, newest first (``status``: one, or several joined by
        commas)."""
        import pandas as pd

        docs = self.client.get(f"/pipelines/{quote(self.name, safe='')}/executions",
                               status=status, limit=limit)
        rows = [{**{k: d.get(k) for k in EXECUTION_COLUMNS},
                 "trigger": (d.get("trigger") or {}).get("kind")} for d in docs]
        return pd.DataFrame(rows, columns=EXECUTION_COLUMNS)

    # -- triggers (docs/pipeline-triggers.md) ------------------------------------------
    def create_trigger(self, on: str, *, parameters: Mapping[str, Any] | None = None,
                       **config: Any) -> dict[str, Any]:
        """Start this pipeline on ``on``: ``schedule`` (``every=``/``cron=``), ``git``
        (``repo=``, ``branch=``), ``model-approval`` (``group=``), ``monitor-alert``
        (``monitor=``) or ``dataset-version`` (``dataset=``); one execution per event."""
        from shipyard.client._pipeline_triggers import create_trigger

        return create_trigger(self.name, on, parameters=parameters, client=self.client,
                              **config)

    def triggers(self) -> builtins.list[dict[str, Any]]:
        from shipyard.client._pipeline_triggers import list_triggers

        return list_triggers(self.name, client=self.client)

    def delete_trigger(self, trigger_id: int) -> dict[str, Any]:
        from shipyard.client._pipeline_triggers import delete_trigger

        return delete_trigger(self.name, trigger_id, client=self.client)

    def delete(self) -> dict[str, Any]:
        """Delete the pipeline with its versions and executions; the API's DELETE answer."""
        return dict(self.client.delete(f"/pipelines/{quote(self.name, safe='')}"))

    def __repr__(self) -> str:
        version = f" v{self.version}" if self.version else ""
        return f"<Pipeline {self.name}{version}: {len(self.to_dict()['steps'])} steps>"

    def _repr_html_(self) -> str:
        doc = self.to_dict()
        needs = step_dependencies(doc)
        params = [[p.get("name"), p.get("type", "string"), json.dumps(p.get("default")),
                   p.get("description")] for p in doc.get("parameters") or []]
        steps = [[s.get("name"), s.get("type"), ", ".join(needs.get(str(s.get("name")), []))]
                 for s in doc.get("steps") or []]
        return _render.pipeline_html(doc.get("name"), self.version, doc.get("description"),
                                     params, steps)


class Execution(Resource):
    """An execution of a pipeline: ``pipeline.start()`` makes one, ``sy.Execution(id)``
    loads one."""

    def __init__(self, id: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.id = id
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/pipeline-executions/{quote(self.id, safe='')}{suffix}"

    @classmethod
    def get(cls, id: str, *, client: Client | None = None) -> Execution:
        return cls(id, client=client)

    @property
    def doc(self) -> dict[str, Any]:
        """The execution as the server last sent it."""
        return self._doc

    @property
    def status(self) -> str:
        """Executing, Succeeded, Failed, Stopping or Stopped."""
        return str(self._doc.get("status"))

    @property
    def reason(self) -> str | None:
        return self._doc.get("reason")

    @property
    def pipeline(self) -> str:
        return str(self._doc.get("pipeline"))

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._doc.get("parameters") or {})

    @property
    def steps(self) -> builtins.list[dict[str, Any]]:
        """Each step: name, type, status, attempt, job_id, cache_hit, outputs, reason…"""
        return builtins.list(self._doc.get("steps") or [])

    def step(self, name: str) -> dict[str, Any]:
        """One step by name."""
        for s in self.steps:
            if s.get("name") == name:
                return dict(s)
        raise KeyError(f"execution {self.id} has no step {name!r}; its steps are "
                       f"{', '.join(str(s.get('name')) for s in self.steps)}")

    @property
    def done(self) -> bool:
        return self.status in ENDED

    def wait(self, timeout: float | None = None, progress: bool = True,
             raise_on_failure: bool = True, poll_interval: float = 0.5) -> Execution:
        """Block until the execution ends; return self.

        Args:
            progress: show the steps while waiting (a live table in a terminal, an
                updating table in Jupyter, a line per step change otherwise).
            raise_on_failure: raise :class:`ExecutionFailed` if it ends Failed or Stopped.
        """
        from shipyard.client._jobs import WaitTimeout

        start = time.monotonic()
        with ExecutionDisplay(enabled=progress) as display:
            while True:
                self.refresh()
                display.update(self._doc, step_rows(self._doc))
                if self.done:
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise WaitTimeout(f"Execution {self.id} is still {self.status} after "
                                      f"{timeout:g} s; wait again or stop it.")
                time.sleep(poll_interval)
        if raise_on_failure and self.status != "Succeeded":
            raise ExecutionFailed(self)
        return self

    def retry(self) -> Execution:
        """Start a Failed or Stopped execution again from the steps that did not succeed
        (those that did keep their outputs); return self."""
        self._doc = self.client.post(self._path("/retry"))
        return self

    def stop(self) -> Execution:
        """Stop the execution: running jobs are cancelled, pending steps never start."""
        self._doc = self.client.post(self._path("/stop"))
        return self

    def __repr__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"<Execution {self.id} of {self.pipeline} {self.status}{reason}>"

    def _repr_html_(self) -> str:
        return _render.execution_html(self._doc, STEP_COLUMNS, step_rows(self._doc))


# -- rows for tables ----------------------------------------------------------------------
def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(started: Any, ended: Any) -> str:
    """``"4.2 s"``, ``"3 min 5 s"``, ``"1 h 2 min"`` (to now while it runs; "" before)."""
    start = _time(started)
    if start is None:
        return ""
    end = _time(ended) or datetime.now(UTC)
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def step_rows(doc: Mapping[str, Any]) -> builtins.list[builtins.list[Any]]:
    """An execution's steps as rows of :data:`STEP_COLUMNS` (the CLI and Jupyter show them)."""
    return [[s.get("name"), s.get("type"), s.get("status"), s.get("attempt"),
             "hit" if s.get("cache_hit") else "", s.get("job_id") or "",
             duration(s.get("started_at"), s.get("ended_at")), s.get("reason") or ""]
            for s in doc.get("steps") or []]
