"""Pipelines: the lifecycle as a DAG of steps, with caching, retries, triggers and lineage.

Modules (each with its own docstring):

- ``_definition``: the JSON definition (parameters, steps, references), checked all at
  once by :func:`parse_definition` into a frozen :class:`Definition` with the DAG.
- ``_steps``: a runner per step type (every job kind, and the control-plane steps:
  condition, register, approval, deploy, callback, quality_check, fail), each a quick
  ``start``/``poll`` pair.
- ``_cache``: the cache key of a job step (content hashes of its inputs).
- ``_engine``: :class:`PipelineEngine`, the leader's thread that advances executions, a
  state machine kept in the store (``shipyard.store.PipelineRepository``).
- ``_service``: :class:`PipelineService`, what the API calls (create, start, retry, stop).
- ``_lineage``: ``execution:ID`` nodes in the lineage graph (an edge provider).
- ``_triggers``: :class:`TriggerService`, what starts executions: schedules, git commits
  (a hook and a watcher), model approvals, monitor alerts, new dataset versions; one
  execution per event. ``_trigger_kinds``: each kind's config and its checks. ``_git``:
  the git commands the server runs. ``_watcher``: :class:`GitWatcher`, the leader's
  thread that polls branch heads.

Execution statuses: Executing → Succeeded | Failed | Stopping → Stopped (a Failed or
Stopped execution may be retried). Step statuses: Pending → Starting → Running →
Succeeded | Failed, or Skipped / Stopped.
"""

from shipyard.pipelines._definition import (
    CONTROL_TYPES,
    Definition,
    Parameter,
    Ref,
    Retry,
    Step,
    parse_definition,
    parse_ref,
    resolve_parameters,
)
from shipyard.pipelines._engine import (
    EXECUTION_STATUSES,
    STEP_STATUSES,
    PipelineEngine,
    resolver,
)
from shipyard.pipelines._lineage import PROVIDER as PIPELINE_LINEAGE
from shipyard.pipelines._service import (
    PipelineService,
    execution_to_dict,
    pipeline_to_dict,
    step_to_dict,
)
from shipyard.pipelines._steps import EngineServices, Outcome, StepContext, evaluate_test
from shipyard.pipelines._trigger_kinds import EVENT_KINDS as TRIGGER_EVENTS
from shipyard.pipelines._trigger_kinds import KINDS as TRIGGER_KINDS
from shipyard.pipelines._triggers import (
    TriggerService,
    register_pipeline_kind,
    trigger_to_dict,
)
from shipyard.pipelines._watcher import GitWatcher

__all__ = [
    "CONTROL_TYPES",
    "EXECUTION_STATUSES",
    "PIPELINE_LINEAGE",
    "STEP_STATUSES",
    "Definition",
    "EngineServices",
    "GitWatcher",
    "Outcome",
    "Parameter",
    "PipelineEngine",
    "PipelineService",
    "Ref",
    "Retry",
    "Step",
    "StepContext",
    "TRIGGER_EVENTS",
    "TRIGGER_KINDS",
    "TriggerService",
    "evaluate_test",
    "execution_to_dict",
    "parse_definition",
    "parse_ref",
    "pipeline_to_dict",
    "register_pipeline_kind",
    "resolve_parameters",
    "resolver",
    "step_to_dict",
    "trigger_to_dict",
]
