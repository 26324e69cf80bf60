"""The pipelines part of the demo: retraining as a pipeline, started by a git commit, then
again by the monitor's drift alert.

``examples/demo.py`` calls :func:`from_a_commit` once the churn model serves (a local git
repository holds the pipeline's definition and its processing script; a commit starts
an execution through the hook installed in the repository), :func:`on_drift` before the
monitor finds drift (the monitor's alert becomes a trigger), and :func:`after_drift`
once it has (the execution the alert started: its unchanged processing step is a cache
hit, training runs anew on the same split, the evaluation gates the registration).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import shipyard as sy
import shipyard.examples

console = Console()
EXAMPLES = Path(shipyard.examples.__file__).parent / "churn"
NAME = "churn-retrain"


def _run(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout.strip()


def _shipyard(*args: str) -> str:
    return _run(sys.executable, "-m", "shipyard.cli", *args)


def _steps_table(execution: sy.Execution) -> Table:
    table = Table("step", "type", "status", "cache hit", "job", "outcome")
    table.columns[4].no_wrap = True
    for step in execution.steps:
        outputs = step.get("outputs") or {}
        test = (outputs.get("metrics") or {}).get("test") or {}
        outcome = (f"test ROC AUC {test['roc_auc']:.3f}" if "roc_auc" in test
                   else f"branch {outputs['branch']}" if "branch" in outputs
                   else f"registered {outputs['model_version']}" if "model_version" in outputs
                   else ", ".join((outputs.get("outputs") or {}).values())
                   or ("skipped" if step["status"] == "Skipped" else step.get("reason") or ""))
        table.add_row(step["name"], step["type"], step["status"],
                      "yes" if step["cache_hit"] else "", step.get("job_id") or "", outcome)
    return table


def executions(pipeline: sy.Pipeline) -> set[str]:
    return set(pipeline.executions()["id"])


def _wait_for_execution(pipeline: sy.Pipeline, before: set[str], timeout: float = 300
                        ) -> sy.Execution:
    """The first execution not in ``before``, once it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [i for i in pipeline.executions()["id"] if i not in before]  # newest first
        if new:
            return sy.Execution.get(new[-1]).wait(progress=False)
        time.sleep(0.5)
    raise SystemExit(f"no execution of {NAME} started within {timeout:.0f} s")


def from_a_commit(workdir: Path, section: object) -> sy.Pipeline:
    """A git repository holds the pipeline; a commit to main runs it."""
    section("Automate retraining: a pipeline kept in git, run by a commit")  # type: ignore[operator]
    repo = workdir / "churn-retrain"
    repo.mkdir(parents=True)
    for name in ("pipeline.py", "split.py"):  # the files `shipyard examples churn` writes
        shutil.copy(EXAMPLES / name, repo / name)
    _run("git", "init", "-q", "-b", "main", cwd=repo)
    for key, value in (("user.name", "Demo"), ("user.email", "demo@example.com")):
        _run("git", "config", key, value, cwd=repo)
    console.print(textwrap.indent((repo / "pipeline.py").read_text(encoding="utf-8"), "  "),
                  markup=False, highlight=False)
    console.print(_shipyard("pipelines", "create", NAME, "--file", str(repo / "pipeline.py")))
    console.print(_shipyard("pipelines", "hook", "install", NAME, "--repo", str(repo),
                            "--branch", "main"))
    pipeline = sy.Pipeline.get(NAME)
    before = executions(pipeline)
    _run("git", "add", ".", cwd=repo)
    _run("git", "commit", "-q", "-m", "Retrain the churn model on held-out evaluation",
         cwd=repo)
    sha = _run("git", "rev-parse", "HEAD", cwd=repo)
    console.print(f"committed {sha[:12]} to main; the post-commit hook asked the server "
                  "to run the pipeline")
    execution = _wait_for_execution(pipeline, before)
    console.print(f"execution {execution.id}: {execution.status}, started by "
                  f"{execution.doc['trigger'].get('kind')} commit "
                  f"{str(execution.doc['parameters'].get('commit', ''))[:12]}")
    console.print(_steps_table(execution))
    return pipeline


def on_drift(pipeline: sy.Pipeline, monitor: str) -> dict[str, Any]:
    """The monitor's alerts start the pipeline (one execution per monitoring execution)."""
    trigger = pipeline.create_trigger("monitor-alert", monitor=monitor)
    console.print(f"trigger {trigger['id']}: a drift or quality alert of {monitor} starts "
                  f"{NAME} (one execution per monitoring execution)")
    return trigger


def after_drift(pipeline: sy.Pipeline, before: set[str]) -> None:
    execution = _wait_for_execution(pipeline, before)
    trigger = execution.doc["trigger"]
    console.print(f"execution {execution.id}: {execution.status}, started by the "
                  f"{trigger.get('kind')} of {trigger.get('monitor')} (monitoring execution "
                  f"{trigger.get('run', trigger.get('execution'))})")
    console.print(_steps_table(execution))
    hits = [s["name"] for s in execution.steps if s["cache_hit"]]
    console.print(f"cache hits: {', '.join(hits) or 'none'}: the same input data, so the "
                  "earlier output is reused; training ran anew")
    registered = next((s["outputs"].get("model_version") for s in execution.steps
                       if s["name"] == "register" and s["status"] == "Succeeded"), None)
    if registered:
        console.print(f"lineage of {registered}, upstream:")
        console.print(str(sy.Lineage(f"model:{registered}", direction="upstream", depth=4)),
                      markup=False, highlight=False)
