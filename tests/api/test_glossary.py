"""The glossary (DESIGN.md), enforced where users read it: REST paths, operation ids and
summaries, CLI command and option names, and the SDK's public names.

- create / delete, never add / remove;
- "run" only for a training job seen inside an experiment (``/experiments/{name}/runs``,
  ``Experiment.runs``); a monitor's evaluation is a *monitoring execution*
  (``/monitors/{name}/executions``, ``Monitor.executions``, ``monitors reports
  --execution N``). The verb stays where the glossary keeps it: ``jobs run`` and
  ``monitors run`` (``Job.run``, ``Monitor.run``).
"""

from __future__ import annotations

import inspect
import re
import tempfile
from pathlib import Path
from typing import Any

import click
import typer.main

import shipyard.client as sdk
from shipyard.api import create_app
from shipyard.cli import app as cli_app
from shipyard.settings import Settings

NEVER = {"add", "adds", "added", "remove", "removes", "removed"}
RUN = {"run", "runs"}
#: Where "run" may appear: the experiment's runs, and the two verbs the glossary keeps.
RUN_PATHS = re.compile(r"^/api/v1/experiments/\{name\}/runs$")
RUN_COMMANDS = {("jobs", "run"), ("monitors", "run")}
RUN_SDK = {"Experiment.runs", "Job.run", "Monitor.run"}


def _words(text: str) -> set[str]:
    """Lower-case words of a path, an id (snake or camel case) or a sentence."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {w.lower() for w in re.split(r"[^A-Za-z]+", spaced) if w}


def _document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        return create_app(Settings.from_env(home=Path(home))).openapi()


def test_rest_paths_ids_and_summaries_use_the_glossary() -> None:
    problems = []
    for path, item in _document()["paths"].items():
        for method, op in item.items():
            text = " ".join([path, op["operationId"], op.get("summary", ""),
                             op.get("description", "")])
            words = _words(text)
            if words & NEVER:
                problems.append(f"{method.upper()} {path}: {sorted(words & NEVER)} "
                                "(create/delete, never add/remove)")
            if _words(path + " " + op["operationId"] + " " + op.get("summary", "")) & RUN \
                    and not RUN_PATHS.match(path):
                problems.append(f"{method.upper()} {path} ({op['operationId']}): 'run' is a "
                                "training job in an experiment; a monitor's is an execution")
    assert not problems, "\n".join(problems)


def test_monitor_evaluations_are_executions() -> None:
    paths = _document()["paths"]
    assert "/api/v1/monitors/{name}/executions" in paths
    assert "/api/v1/monitors/{name}/executions/{seq}" in paths
    assert not [p for p in paths if p.endswith("/runs") and not RUN_PATHS.match(p)]
    report = paths["/api/v1/monitors/{name}/report"]["get"]
    assert [p["name"] for p in report["parameters"] if p["in"] == "query"] == ["execution"]


def _commands(cmd: click.Command, prefix: tuple[str, ...] = ()
              ) -> list[tuple[tuple[str, ...], click.Command]]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        return [(prefix, cmd)]
    return [c for name, sub in subs.items() for c in _commands(sub, (*prefix, name))]


def test_cli_commands_and_options_use_the_glossary() -> None:
    commands = _commands(typer.main.get_command(cli_app))
    assert len(commands) >= 60
    problems = []
    for path, cmd in commands:
        if _words(" ".join(path)) & NEVER:
            problems.append(f"shipyard {' '.join(path)}: create/delete, never add/remove")
        if _words(" ".join(path)) & RUN and path not in RUN_COMMANDS:
            problems.append(f"shipyard {' '.join(path)}: 'run' is not this command's word")
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and _words(opt) & (NEVER | RUN):
                    problems.append(f"shipyard {' '.join(path)} {opt}")
    assert not problems, "\n".join(problems)
    names = {path for path, _ in commands}
    assert ("catalog", "create") in names and ("catalog", "delete") in names
    reports = dict(commands)[("monitors", "reports")]
    assert "--execution" in [o for p in reports.params for o in getattr(p, "opts", [])]


def test_sdk_names_use_the_glossary() -> None:
    problems = []
    for name in sdk.__all__:
        obj = getattr(sdk, name)
        members = [name]
        if inspect.isclass(obj):
            inherited = set(dir(BaseException)) if issubclass(obj, BaseException) else set()
            members += [f"{name}.{m}" for m in dir(obj)
                        if not m.startswith("_") and m not in inherited]
        for member in members:
            words = _words(member)
            if words & NEVER:
                problems.append(f"{member}: create/delete, never add/remove")
            if words & RUN and member not in RUN_SDK:
                problems.append(f"{member}: 'run' is a training job in an experiment")
    assert not problems, "\n".join(problems)
    assert hasattr(sdk.Monitor, "executions") and hasattr(sdk, "MonitoringExecution")
