"""``sy.steps``: the pipeline DSL's step builders (docs/pipelines.md, "The Python DSL").

One class per step type. The job steps (:class:`Processing`, :class:`Training`,
:class:`Tuning`, :class:`AutoML`, :class:`Transform`, :class:`Evaluate`, :class:`Bias`,
:class:`Explain`, :class:`Wrangle`, and :class:`JobStep` for any kind, plug-ins
included) run as jobs: their keyword arguments are the kind's job spec, with a few
shortcuts (``train=``, ``cpus=``, ``memory=``, ``max_runtime=``); a field without a
shortcut is passed by its spec name (``recipe=``, ``environment=``, ``tags=``…). The
control steps (:class:`Condition`, :class:`Register`, :class:`Approval`,
:class:`Deploy`, :class:`Callback`, :class:`QualityCheck`, :class:`Fail`) run in the
control plane.

Every step also takes these options:

- ``depends_on``: steps (or step names) it waits for besides those it references;
- ``retry``: a :class:`Retry`, a number of attempts, or the JSON ``{max_attempts, …}``
  (job steps retry the platform's own failures, such as a lost worker, by default);
- ``cache``: False runs a job step every time; ``cache_expiry`` is how long (seconds or
  a ``timedelta``) an earlier output may be reused;
- ``description``.

What a step makes is a reference (``step.job``, ``step.model``, ``step.outputs["NAME"]``,
``step.metrics.test.roc_auc``, ``register.model_version``, ``deploy.endpoint``,
``condition.result``) to pass to later steps; :data:`EXECUTION_ID` is the execution's id.
"""

from __future__ import annotations

from shipyard.client._pipeline_control import (
    Approval,
    Callback,
    Condition,
    Deploy,
    Fail,
    QualityCheck,
    Register,
)
from shipyard.client._pipeline_kinds import (
    AutoML,
    Bias,
    Evaluate,
    Explain,
    Processing,
    Training,
    Transform,
    Tuning,
    Wrangle,
)
from shipyard.client._pipeline_refs import EXECUTION_ID
from shipyard.client._pipeline_steps import JobStep, Retry, Step

__all__ = ["EXECUTION_ID", "Approval", "AutoML", "Bias", "Callback", "Condition", "Deploy",
           "Evaluate", "Explain", "Fail", "JobStep", "Processing", "QualityCheck", "Register",
           "Retry", "Step", "Training", "Transform", "Tuning", "Wrangle"]
