"""Jobs: kinds as plug-ins, a state machine, and the executor boundary that runs them.

- :class:`JobService` records jobs (each spec checked by its kind), cancels them and
  reads their logs, metrics and artifacts.
- :func:`register` / :class:`JobKind`: a job kind is a plug-in (``jobs/kinds/<kind>.py``,
  or a module named by ``SHIPYARD_PLUGINS``); the job spec is the discriminated union
  of the registered kinds' models (:func:`parse_spec`).
- :class:`Supervisor` is the scheduler thread: it starts Pending jobs through an
  :class:`Executor` (``SHIPYARD_EXECUTOR``: :class:`LocalExecutor`), watches them
  through their :class:`JobHandle`, and records how they end once their outputs and
  log are in the artifact store.
- :func:`model_job` / :func:`job_model_files`: the model a job saved (a tuning or AutoML
  job's best), as the registry and the ``evaluate`` kind take it.
- Inside a job, :mod:`shipyard.runtime` is the bootstrap and the in-job API.

Names are re-exported lazily: an in-job entry module living under
``shipyard/jobs/kinds/`` is imported by the job process, which must not import the
service layer (the store, the API) on the way. See docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "JobService": "_service", "job_to_dict": "_service", "nest_metrics": "_service",
    "Supervisor": "_supervisor",
    "LiveJobs": "_live",
    "JobKind": "_kinds", "SubmitContext": "_kinds", "register": "_kinds",
    "get_kind": "_kinds", "registered_kinds": "_kinds", "kind_names": "_kinds",
    "parse_spec": "_kinds", "spec_schema": "_kinds", "load_plugins": "_kinds",
    "Capacity": "_spec", "JobSpecBase": "_spec", "ScriptFields": "_spec", "Resources": "_spec",
    "parse_memory": "_spec",
    "JobPackage": "_package", "StagedFile": "_package", "build_package": "_package",
    "package_for": "_package", "stage": "_package",
    "Manifest": "_collect",
    "Executor": "_executors", "JobHandle": "_executors", "Usage": "_executors",
    "LocalExecutor": "_executors", "LocalHandle": "_executors", "make_executor": "_executors",
    "register_executor": "_executors",
    "REASONS": "_states", "RETRYABLE": "_states", "STATUSES": "_states", "TERMINAL": "_states",
    "TRANSITIONS": "_states",
    "JobFailure": "_workdir", "admit": "_workdir", "command_line": "_workdir",
    "environment": "_workdir",
    "JobUser": "_identity", "JobUserError": "_identity", "job_user": "_identity",
    "check_reachable": "_identity",
    "model_job": "_job_models", "job_model_files": "_job_models",
}

__all__ = [
    "Capacity", "Executor", "JobFailure", "JobHandle", "JobKind", "JobPackage", "JobService",
    "JobUser", "JobUserError", "check_reachable", "job_user",
    "JobSpecBase", "LiveJobs", "LocalExecutor", "LocalHandle", "Manifest", "REASONS", "RETRYABLE",
    "Resources", "STATUSES", "ScriptFields", "StagedFile", "SubmitContext", "Supervisor",
    "TERMINAL", "TRANSITIONS", "Usage", "admit", "build_package", "command_line", "environment",
    "get_kind", "job_model_files", "job_to_dict", "kind_names", "load_plugins",
    "make_executor", "model_job", "nest_metrics", "package_for",
    "parse_memory", "parse_spec", "register", "register_executor", "registered_kinds",
    "spec_schema", "stage",
]

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.jobs._collect import Manifest
    from shipyard.jobs._executors import (
        Executor,
        JobHandle,
        LocalExecutor,
        LocalHandle,
        Usage,
        make_executor,
        register_executor,
    )
    from shipyard.jobs._identity import JobUser, JobUserError, check_reachable, job_user
    from shipyard.jobs._job_models import job_model_files, model_job
    from shipyard.jobs._kinds import (
        JobKind,
        SubmitContext,
        get_kind,
        kind_names,
        load_plugins,
        parse_spec,
        register,
        registered_kinds,
        spec_schema,
    )
    from shipyard.jobs._live import LiveJobs
    from shipyard.jobs._package import JobPackage, StagedFile, build_package, package_for, stage
    from shipyard.jobs._service import JobService, job_to_dict, nest_metrics
    from shipyard.jobs._spec import Capacity, JobSpecBase, Resources, ScriptFields, parse_memory
    from shipyard.jobs._states import REASONS, RETRYABLE, STATUSES, TERMINAL, TRANSITIONS
    from shipyard.jobs._supervisor import Supervisor
    from shipyard.jobs._workdir import JobFailure, admit, command_line, environment


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shipyard.jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"shipyard.jobs.{module}"), name)
    globals()[name] = value
    return value
