"""The debugger: rules judged while a job runs, over its metric series and resource samples.

A rule has a name, parameters and an action: ``record`` (an event on the job),
``alert`` (the same, and a line in the job's log) or ``stop`` (the same, and the job
is stopped: Stopped, its message naming the rule). A job spec's ``rules`` lists the
rules to judge (``[{"name": "overfit", "params": {"patience": 5}, "action": "stop"}]``,
or ``--rule overfit:patience=5,action=stop`` on the CLI); when it is left out, a
training job gets :data:`DEFAULT_RULE_NAMES` and other kinds none; ``[]`` turns them off.

Each built-in rule is a :class:`Rule` in :data:`RULES`: its parameters with their
defaults (checked at submit: an unknown rule or parameter is a 400) and a check over
an :class:`Observed` job: the series it logged (``name → [(step, value)]``), the
supervisor's ``system.*`` samples (``jobs/_profile.py``), when its last metric came,
its limits. The supervisor keeps one :class:`Debugger` per running job, feeds it the
points it harvests and samples, and judges the rules every :data:`JUDGE_SECONDS` and
once more when the job ends (training logs its full curves after the fit). A rule
fires at most once per job; a finding is an event ``job.rule_fired`` on the job
(payload: rule, action, message, params), shown by ``shipyard jobs show`` and the SDK's
``job.findings()``.

Series the rules read: ``curve.<split>.<metric>`` (a fit's per-round metrics), the
platform's facts about a job (``system.data.imbalance_ratio`` and
``system.importance.<feature>`` from the built-in training, ``system.gradients.norm``
from :func:`shipyard.runtime.watch` on a PyTorch model: ``system.*`` names are kept
out of the job's own metrics), the profile's ``system.*`` samples, and the metric a
rule's ``metric`` parameter names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ACTIONS = ("record", "alert", "stop")
#: The event a firing rule records on its job.
EVENT = "job.rule_fired"
#: Seconds between two judgements of a running job's rules.
JUDGE_SECONDS = 2.0
#: Metric names a loss curve may have (lower is better); other ``curve.*`` are scores.
_HIGHER_IS_BETTER = ("auc", "accuracy", "acc", "ndcg", "map", "r2", "precision", "recall",
                     "f1")

Param = float | int | str | bool


class RuleSpec(BaseModel):
    """One rule a job spec attaches (``rules``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    params: dict[str, Param] = Field(default_factory=dict, max_length=16)
    action: Literal["record", "alert", "stop"] = "record"


@dataclass
class Observed:
    """What the rules see of one job."""

    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: Wall time of the last point of the job's own metrics (not ``system.*``).
    last_metric_at: float | None = None
    started_at: float = 0.0
    now: float = 0.0
    cpus: int = 1
    memory_limit: int = 0
    #: The job has ended: rules that watch a live job (stalled, low CPU) hold back.
    ended: bool = False

    def add(self, name: str, step: float | None, value: float, timestamp: float) -> None:
        points = self.series.setdefault(name, [])
        points.append((float(step if step is not None else len(points)), float(value)))
        if not name.startswith("system."):
            self.last_metric_at = max(self.last_metric_at or 0.0, timestamp)

    def curve(self, split: str, metric: str) -> list[float]:
        """The last value at each step of ``curve.<split>.<metric>`` (a series logged twice,
        live and again at the end, counts once)."""
        by_step: dict[float, float] = {}
        for step, value in self.series.get(f"curve.{split}.{metric}", []):
            by_step[step] = value
        return [by_step[s] for s in sorted(by_step)]

    def loss_metric(self, params: Mapping[str, Param]) -> str | None:
        """The loss the curve rules judge: ``params["metric"]``, else the first metric of
        the training curve that is not a score."""
        if params.get("metric"):
            return str(params["metric"])
        for name in self.series:
            if name.startswith("curve.train."):
                metric = name[len("curve.train."):]
                if not any(word in metric.lower() for word in _HIGHER_IS_BETTER):
                    return metric
        return None


Check = Callable[[Observed, Mapping[str, Param]], str | None]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    params: dict[str, Param]
    check: Check


def _num(params: Mapping[str, Param], key: str) -> float:
    return float(params[key])


def _loss_not_decreasing(o: Observed, p: Mapping[str, Param]) -> str | None:
    metric = o.loss_metric(p)
    if metric is None:
        return None
    losses = o.curve(str(p["split"]), metric)
    window = int(_num(p, "patience"))
    if len(losses) <= window:
        return None
    before, recent = min(losses[:-window]), min(losses[-window:])
    if recent >= before - _num(p, "min_delta") * abs(before):
        return (f"{p['split']} {metric} did not decrease over the last {window} steps "
                f"(best before {before:.4g}, since {recent:.4g}): a learning rate too low "
                "or too high, or nothing left to learn.")
    return None


def _overfit(o: Observed, p: Mapping[str, Param]) -> str | None:
    metric = o.loss_metric(p)
    if metric is None:
        return None
    train, valid = o.curve("train", metric), o.curve("validation", metric)
    n = min(len(train), len(valid))
    window = int(_num(p, "patience"))
    if n <= window:
        return None
    best = min(range(n), key=lambda i: valid[i])
    rise = valid[n - 1] - valid[best]
    if n - 1 - best >= window and rise > _num(p, "min_rise") * abs(valid[best]) \
            and train[n - 1] < train[best]:
        return (f"overfitting: validation {metric} rose from {valid[best]:.4g} (step {best}) "
                f"to {valid[n - 1]:.4g} (step {n - 1}) while training {metric} fell from "
                f"{train[best]:.4g} to {train[n - 1]:.4g}. Use early stopping, shallower "
                "trees, more regularization or more data.")
    return None


def _overtraining(o: Observed, p: Mapping[str, Param]) -> str | None:
    metric = o.loss_metric(p)
    if metric is None:
        return None
    valid = o.curve("validation", metric)
    window = int(_num(p, "patience"))
    if len(valid) <= window:
        return None
    best = min(range(len(valid)), key=lambda i: valid[i])
    if len(valid) - 1 - best >= window:
        return (f"overtraining: validation {metric} has not improved for "
                f"{len(valid) - 1 - best} steps (best {valid[best]:.4g} at step {best}). "
                "Fewer rounds or epochs, or early stopping, give the same model sooner.")
    return None


def _stalled(o: Observed, p: Mapping[str, Param]) -> str | None:
    if o.ended:
        return None
    since = o.last_metric_at if o.last_metric_at is not None else o.started_at
    quiet = o.now - since
    if o.now - o.started_at >= _num(p, "seconds") and quiet >= _num(p, "seconds"):
        return (f"stalled: no new metric for {quiet:.0f} s. The job may be stuck (a "
                "deadlock, a network wait) or logs too rarely.")
    return None


def _class_imbalance(o: Observed, p: Mapping[str, Param]) -> str | None:
    values = o.series.get("system.data.imbalance_ratio")
    if values and values[-1][1] >= _num(p, "ratio"):
        return (f"class imbalance: the most frequent class has {values[-1][1]:.1f}x the rows "
                "of the rarest. Judge the model by ROC AUC or F1 rather than accuracy; "
                "a 'balance' recipe step or class weights can help.")
    return None


def _importance_overweight(o: Observed, p: Mapping[str, Param]) -> str | None:
    prefix = "system.importance."
    shares = {name[len(prefix):]: points[-1][1] for name, points in o.series.items()
              if name.startswith(prefix) and points}
    if not shares:
        return None
    top = max(shares, key=lambda k: shares[k])
    if shares[top] >= _num(p, "share"):
        return (f"feature {top!r} holds {shares[top]:.0%} of the model's importance: check "
                "it is not a leak of the target (known only after the fact) before trusting "
                "the scores.")
    return None


def _low_cpu(o: Observed, p: Mapping[str, Param]) -> str | None:
    if o.ended:
        return None
    samples = o.series.get("system.cpu_percent", [])
    window = _num(p, "seconds")
    recent = [v for s, v in samples if s >= (samples[-1][0] - window)] if samples else []
    if not samples or samples[-1][0] < window or len(recent) < 3:
        return None
    mean = sum(recent) / len(recent)
    if mean < _num(p, "percent") * o.cpus:
        return (f"low CPU utilization: {mean:.0f}% on average over the last {window:.0f} s "
                f"with {o.cpus} CPU(s) (100% = one core). The job waits (I/O, network) "
                "or uses fewer threads than it was given.")
    return None


def _memory_near_limit(o: Observed, p: Mapping[str, Param]) -> str | None:
    samples = o.series.get("system.rss_bytes", [])
    if not samples or not o.memory_limit:
        return None
    peak = max(v for _, v in samples)
    if peak >= _num(p, "share") * o.memory_limit:
        return (f"memory near the limit: {peak / 1024**2:,.0f} MiB of "
                f"{o.memory_limit / 1024**2:,.0f} MiB. Ask for more memory or read less "
                "at once, before the job is killed.")
    return None


def _vanishing(o: Observed, p: Mapping[str, Param]) -> str | None:
    norms = [v for _, v in o.series.get("system.gradients.norm", [])]
    if len(norms) >= int(_num(p, "steps")) and \
            all(v < _num(p, "threshold") for v in norms[-int(_num(p, "steps")):]):
        return (f"vanishing gradients: the gradient norm stayed below {_num(p, 'threshold'):g} "
                f"for {int(_num(p, 'steps'))} steps. Check the activations, initialization "
                "and learning rate.")
    return None


def _exploding(o: Observed, p: Mapping[str, Param]) -> str | None:
    norms = [v for _, v in o.series.get("system.gradients.norm", [])]
    if norms and (not math.isfinite(norms[-1]) or norms[-1] > _num(p, "threshold")):
        return (f"exploding gradients: the gradient norm reached {norms[-1]:.4g} (over "
                f"{_num(p, 'threshold'):g}). Lower the learning rate or clip gradients.")
    return None


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("loss_not_decreasing", "the training loss stops decreasing",
         {"split": "train", "patience": 10, "min_delta": 0.0, "metric": ""},
         _loss_not_decreasing),
    Rule("overfit", "validation loss rising while training loss falls",
         {"patience": 10, "min_rise": 0.05, "metric": ""}, _overfit),
    Rule("overtraining", "validation loss not improving for many steps",
         {"patience": 50, "metric": ""}, _overtraining),
    Rule("stalled_training", "no new metric for a while", {"seconds": 600}, _stalled),
    Rule("class_imbalance", "the classes' rows are far apart", {"ratio": 10.0},
         _class_imbalance),
    Rule("feature_importance_overweight", "one feature holds most of the importance",
         {"share": 0.8}, _importance_overweight),
    Rule("low_cpu_utilization", "the job leaves its CPUs idle",
         {"percent": 10.0, "seconds": 120}, _low_cpu),
    Rule("memory_near_limit", "resident memory close to the limit", {"share": 0.9},
         _memory_near_limit),
    Rule("vanishing_gradient", "gradient norm near zero (runtime.watch)",
         {"threshold": 1e-7, "steps": 20}, _vanishing),
    Rule("exploding_gradient", "gradient norm very large (runtime.watch)",
         {"threshold": 1e6}, _exploding),
)}

#: What a training job judges when its spec says nothing of rules (its kind's
#: ``default_rules``); the gradient rules need ``runtime.watch`` and are asked for.
DEFAULT_RULE_NAMES: tuple[str, ...] = (
    "loss_not_decreasing", "overfit", "overtraining", "stalled_training", "class_imbalance",
    "feature_importance_overweight", "low_cpu_utilization", "memory_near_limit")


def check_rules(rules: Sequence[RuleSpec]) -> list[RuleSpec]:
    """The rules with their parameters checked and completed with the defaults.

    Raises:
        ValueError: an unknown rule or parameter, a value of the wrong type, a rule
            given twice (the sentence says which and what is known).
    """
    out: list[RuleSpec] = []
    seen: set[str] = set()
    for spec in rules:
        rule = RULES.get(spec.name)
        if rule is None:
            raise ValueError(f"unknown rule {spec.name!r}; the rules are "
                             f"{', '.join(sorted(RULES))}")
        if spec.name in seen:
            raise ValueError(f"rule {spec.name!r} is given twice")
        seen.add(spec.name)
        params = dict(rule.params)
        for key, value in spec.params.items():
            if key not in rule.params:
                raise ValueError(f"rule {spec.name!r} has no parameter {key!r}; its "
                                 f"parameters are {', '.join(sorted(rule.params)) or 'none'}")
            default = rule.params[key]
            if isinstance(default, str):
                params[key] = str(value)
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(float(value)) or float(value) < 0:
                raise ValueError(f"rule {spec.name!r}: {key} must be a number >= 0; got "
                                 f"{value!r}")
            params[key] = value
        out.append(RuleSpec(name=spec.name, params=params, action=spec.action))
    return out


def parse_rule(text: str) -> RuleSpec:
    """``NAME[:param=value,...]`` (``action=record|alert|stop`` among them) as a rule.

    Raises:
        ValueError: text that is not of that form.
    """
    name, _, rest = text.strip().partition(":")
    params: dict[str, Param] = {}
    action = "record"
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--rule {text!r}: write NAME[:param=value,...], e.g. "
                             "overfit:patience=5,action=stop")
        key, value = key.strip(), value.strip()
        if key == "action":
            if value not in ACTIONS:
                raise ValueError(f"--rule {text!r}: action must be one of {', '.join(ACTIONS)}")
            action = value
            continue
        try:
            params[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            params[key] = value
    return RuleSpec(name=name.strip(), params=params, action=action)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Firing:
    rule: str
    action: str
    message: str
    params: dict[str, Param]


class Debugger:
    """The rules of one job attempt and what they have seen; :meth:`judge` returns new
    firings (each rule fires once)."""

    def __init__(self, rules: Iterable[Mapping[str, Any]], *, started_at: float, cpus: int,
                 memory_limit: int, fired: Iterable[str] = ()) -> None:
        self.rules = [RuleSpec.model_validate(r) for r in rules]
        self.observed = Observed(started_at=started_at, now=started_at, cpus=cpus,
                                 memory_limit=memory_limit)
        self.fired = set(fired)
        self.judged_at = 0.0

    def observe(self, points: Iterable[Any]) -> None:
        """Metric points (:class:`~shipyard.store.MetricPoint`) as they come."""
        for p in points:
            self.observed.add(p.name, p.step, p.value, p.timestamp)

    def due(self, now: float) -> bool:
        return bool(self.rules) and now - self.judged_at >= JUDGE_SECONDS

    def judge(self, now: float, *, ended: bool = False) -> list[Firing]:
        self.judged_at = now
        self.observed.now, self.observed.ended = now, ended
        out: list[Firing] = []
        for spec in self.rules:
            if spec.name in self.fired or spec.name not in RULES:
                continue
            message = RULES[spec.name].check(self.observed, spec.params)
            if message:
                self.fired.add(spec.name)
                out.append(Firing(spec.name, spec.action, message, dict(spec.params)))
        return out
