"""``sy.hub.solutions()`` and ``sy.hub.launch()``: a hub solution, end to end, in one call.

::

    import shipyard as sy
    sy.hub.solutions()                                   # the templates
    launch = sy.hub.launch("churn-prediction", approve=True)
    launch                                               # what it created, and how it went

A launch (see ``shipyard.hub._solutions`` for what a solution is):

1. checks the server has the solution's algorithm (the text built-ins need the ``text``
   extra on the server), before anything is created;
2. loads the solution's data here, from the package that ships it, and stores each part
   as dataset ``PREFIX-<part>`` (a dataset that already exists is used as it is: a
   second launch never overwrites data);
3. saves the pipeline ``PREFIX`` (a new version only when the template changed) and
   starts an execution;
4. with ``approve=True``, approves the registered version as the caller (an approver or
   admin token), so the deploy step goes on; without it the execution waits at its
   approval step until someone approves (``shipyard models approve GROUP VERSION``);
5. once the endpoint serves, creates the monitor ``PREFIX-watch`` against the training
   data, and a trigger that starts the pipeline again on the monitor's alerts.

Every step is an ordinary resource the user then changes like any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

import pandas as pd

from shipyard.client import _render
from shipyard.client._client import Client, default_client
from shipyard.client._datasets import Dataset
from shipyard.client._models import ModelVersion
from shipyard.client._monitors import Monitor
from shipyard.client._pipelines import ENDED, Execution, Pipeline
from shipyard.errors import InvalidRequest, NotFound
from shipyard.hub._solutions import SOLUTIONS, Solution, get_solution
from shipyard.names import check_name

#: Seconds between two looks at the execution while a launch waits.
POLL_SECONDS = 1.0


def solutions() -> pd.DataFrame:
    """The hub's solutions: name, title, task, algorithm, data, and what each creates."""
    rows = [{**s.to_dict(), "creates": ", ".join(
        n for n in (*s.resources(s.name)["datasets"], s.name) if n)} for s in SOLUTIONS.values()]
    return pd.DataFrame(rows, columns=["name", "title", "task", "algorithm", "extra",
                                       "source", "monitored", "creates", "description"])


@dataclass
class Launch:
    """What a launch created and how its execution went (renders in Jupyter)."""

    solution: str
    prefix: str
    datasets: dict[str, str] = field(default_factory=dict)
    pipeline: str = ""
    execution: str = ""
    status: str = ""
    reason: str | None = None
    model_version: str | None = None
    approved: bool = False
    endpoint: str | None = None
    monitor: str | None = None
    trigger: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def rows(self) -> list[list[str]]:
        out = [[f"dataset {part}", name] for part, name in self.datasets.items()]
        out += [["pipeline", self.pipeline], ["execution", f"{self.execution} ({self.status})"]]
        if self.model_version:
            out.append(["model version", self.model_version
                        + (" (approved)" if self.approved else "")])
        if self.endpoint:
            out.append(["endpoint", self.endpoint])
        if self.monitor:
            out.append(["monitor", f"{self.monitor} (its alerts start {self.pipeline})"])
        return out

    def __repr__(self) -> str:
        lines = [f"Launch of {self.solution} as {self.prefix!r}: {self.status}"]
        lines += [f"  {k}: {v}" for k, v in self.rows()]
        lines += [f"  note: {n}" for n in self.notes]
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        title = escape(f"{self.solution} as {self.prefix}: {self.status}")
        return f"<b>{title}</b>" + _render.table_html(["resource", "name"], self.rows())


def _check_algorithm(solution: Solution, client: Client) -> None:
    names = {a["name"] for a in client.get("/algorithms")}
    if solution.algorithm not in names:
        raise InvalidRequest(
            f"Solution {solution.name!r} trains {solution.algorithm!r}, which this server "
            f"does not have; install the {solution.extra!r} extra where the server runs "
            f"(pip install 'shipyard[{solution.extra}]') and restart it.")


def _store_data(solution: Solution, prefix: str, client: Client,
                say: Callable[[str], None]) -> dict[str, str]:
    missing = [part for part in solution.creates
               if not _exists(f"{prefix}-{part}", client)]
    stored = {part: f"{prefix}-{part}" for part in solution.creates}
    if not missing:
        say(f"datasets {', '.join(stored.values())} exist; using them as they are")
        return stored
    frames = solution.load()
    for part in missing:
        name = stored[part]
        Dataset.create(name, frames[part], client=client,
                       description=f"{solution.title}: {part} ({solution.source}); "
                                   f"created by hub launch {solution.name}")
        say(f"dataset {name}: {len(frames[part]):,} rows")
    return stored


def _exists(dataset: str, client: Client) -> bool:
    try:
        Dataset.get(dataset, client=client)
    except NotFound:
        return False
    return True


def launch(name: str, *, prefix: str | None = None, approve: bool = False,
           wait: bool = True, timeout: float | None = None,
           progress: Callable[[str], None] | None = None,
           client: Client | None = None) -> Launch:
    """Launch solution ``name``: its datasets, its pipeline, an execution (see module doc).

    Args:
        prefix: names everything the launch creates (default: the solution's name).
        approve: approve the registered version as the caller so it deploys.
        wait: follow the execution until it ends, or until it waits for an approval.
        timeout: seconds to wait at most (None: no limit).
        progress: called with a line per step change (default: print).
    """
    client = client or default_client()
    solution = get_solution(name)
    prefix = prefix or solution.name
    check_name(prefix, "solution prefix")
    if approve and not wait:
        # The launch approves while it follows the execution; one that returns at once
        # would leave the execution waiting at its approval step, the endpoint unmade.
        raise InvalidRequest(
            "approve=True approves the registered version while the launch waits for it, so "
            "it cannot go with wait=False (--approve, --no-wait on the CLI); drop one of them "
            "(and approve later with `shipyard models approve GROUP VERSION`).")
    say = progress or print
    _check_algorithm(solution, client)
    result = Launch(solution=solution.name, prefix=prefix, pipeline=prefix)
    result.datasets = _store_data(solution, prefix, client, say)
    pipeline = Pipeline.from_dict(solution.definition(prefix), client=client).create()
    say(f"pipeline {prefix} v{pipeline.version}"
        + ("" if pipeline.changed else " (unchanged)"))
    execution = pipeline.start(wait=False)
    result.execution = execution.id
    say(f"execution {execution.id} started")
    if wait:
        execution = _follow(execution, result, approve, timeout, client, say)
    result.status, result.reason = execution.status, execution.reason
    if result.status == "Succeeded" and solution.monitor_baseline:
        _monitor(solution, prefix, pipeline, result, client, say)
    elif not wait:
        result.notes.append(f"not waited for: follow it with shipyard pipelines show "
                            f"{execution.id}")
    return result


def _follow(execution: Execution, result: Launch, approve: bool, timeout: float | None,
            client: Client, say: Callable[[str], None]) -> Execution:
    """Wait for the execution, saying each step's change; approve when asked to."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: dict[str, str] = {}
    while True:
        execution = Execution.get(execution.id, client=client)
        for step in execution.steps:
            if seen.get(step["name"]) != step["status"]:
                seen[step["name"]] = step["status"]
                say(f"  {step['name']}: {step['status']}"
                    + (f" ({step['reason']})" if step.get("reason") else ""))
        register = next((s for s in execution.steps if s["name"] == "register"), None)
        version = ((register or {}).get("outputs") or {}).get("model_version")
        if version and not result.model_version:
            result.model_version = version
        if execution.status in ENDED:
            deploy = next((s for s in execution.steps if s["name"] == "deploy"), None)
            if deploy and deploy["status"] == "Succeeded":
                result.endpoint = result.prefix
            return execution
        approval = next((s for s in execution.steps if s["name"] == "approve"), None)
        if version and approval and approval["status"] == "Running" and not result.approved:
            if not approve:
                group, number = version.rsplit(":", 1)
                result.notes.append(
                    f"the execution waits for approval of {version}: shipyard models "
                    f"approve {group} {number} --comment '...' deploys it")
                return execution
            group, number = version.rsplit(":", 1)
            ModelVersion.get(group, int(number), client=client).approve(
                f"Approved by hub launch {result.solution} --approve.")
            result.approved = True
            say(f"  approved {version}")
        if deadline is not None and time.monotonic() > deadline:
            result.notes.append("stopped waiting at the timeout; the execution goes on")
            return execution
        time.sleep(POLL_SECONDS)


def _monitor(solution: Solution, prefix: str, pipeline: Pipeline, result: Launch,
             client: Client, say: Callable[[str], None]) -> None:
    name = f"{prefix}-watch"
    try:
        Monitor(name, client=client)
        say(f"monitor {name} exists")
    except NotFound:
        Monitor.create(name, endpoint=prefix, baseline=f"{prefix}-{solution.monitor_baseline}",
                       every="1h", client=client)
        say(f"monitor {name}: hourly drift and quality checks of {prefix}")
    result.monitor = name
    triggers = [t for t in pipeline.triggers() if (t.get("config") or {}).get("monitor") == name]
    trigger = triggers[0] if triggers else pipeline.create_trigger("monitor-alert",
                                                                   monitor=name)
    result.trigger = int(trigger["id"])
