"""A pipeline definition: its JSON form, checked all at once, and the DAG it describes.

A definition is plain JSON so it is readable and diffable (``shipyard pipelines
create --file pipeline.json``, or compiled from the Python DSL in the SDK)::

    {"name": "churn-retrain",
     "parameters": [{"name": "data", "type": "dataset", "default": "churn"},
                    {"name": "min_auc", "type": "float", "default": 0.8}],
     "steps": [
       {"name": "prep", "type": "processing",
        "job": {"inputs": {"raw": {"ref": "parameters.data"}}, "outputs": ["clean"],
                "code": {...}, "entry": "prep.py"}},
       {"name": "train", "type": "training",
        "job": {"inputs": {"train": {"ref": "steps.prep.outputs.clean"}},
                "algorithm": "xgboost", "target": "Churn"}},
       {"name": "eval", "type": "evaluate",
        "job": {"job": {"ref": "steps.train.model"}, "inputs": {"test": "churn-test"}}},
       {"name": "gate", "type": "condition",
        "if": {"left": {"ref": "steps.eval.metrics.test.roc_auc"}, "op": ">=",
               "right": {"ref": "parameters.min_auc"}},
        "then": ["register"], "else": ["too-weak"]},
       {"name": "register", "type": "register", "model": {"ref": "steps.train.model"},
        "group": "churn"},
       {"name": "too-weak", "type": "fail", "message": "The new model is not good enough."}]}

**Step types.** Every job kind is a step type (``processing``, ``wrangle``,
``training``, ``tuning``, ``automl``, ``transform``, ``evaluate``, ``bias``,
``explain``, plug-in kinds): its ``job`` is that kind's spec without ``kind``, and
it runs as a job through the executor. The others run in the control plane:
``condition``, ``register``, ``approval`` (waits for an approver), ``deploy``
(creates or updates an endpoint), ``callback`` (a webhook, SSRF-checked),
``quality_check`` (a data-quality check of a dataset against a baseline's
constraints, which fails on violations; it runs a monitoring job) and ``fail``.

**References** are ``{"ref": "..."}`` objects anywhere a value goes:
``parameters.NAME``; ``steps.STEP.outputs.NAME`` (the dataset version a job step
wrote, as ``name:version``); ``steps.STEP.model`` (the job whose model a training,
tuning or AutoML step made); ``steps.STEP.job``; ``steps.STEP.metrics.a.b``
(``metrics.test.roc_auc``); ``steps.STEP.model_version`` (what a register step
registered, or an approval step saw approved: ``group:version``);
``steps.STEP.endpoint``; ``execution.id``.
A reference to a step is a dependency on it; ``depends_on`` adds others.

**Conditions** name the steps of their ``then`` and ``else`` branches; those steps
depend on the condition, and the branch not taken is Skipped, with every step
that depends on a skipped one.

:func:`parse_definition` reports every problem at once (a cycle with its path, an
unknown step or parameter reference, a default of the wrong type) as one
:class:`~shipyard.errors.InvalidRequest`, so a client gets a 400 naming them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.names import closest

#: Step types that run in the control plane; every other type is a job kind.
CONTROL_TYPES = ("condition", "register", "approval", "deploy", "callback", "fail",
                 "quality_check")
#: Job kinds that are not pipeline steps (a parent of its own or an internal detail:
#: ``autolabel`` runs are started by their labeling job as human labels arrive).
NOT_STEPS = frozenset({"monitoring", "ensemble", "script", "autolabel"})
#: Job step types whose model (``steps.S.model``) a later step may use.
MODEL_MAKERS = frozenset({"training", "tuning", "automl"})
PARAMETER_TYPES = ("string", "int", "float", "bool", "dataset")
OPERATORS = ("==", "!=", ">", ">=", "<", "<=")
MAX_STEPS = 200
MAX_PARAMETERS = 100
_STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_DATASET_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(:(\d+|latest))?$")
#: Retry on these job failure reasons by default: the platform's, not the step's own.
INFRA_REASONS = ("worker_lost", "server_shutdown", "environment_error")
DEFAULT_CACHE_EXPIRY = 30 * 86400


@dataclass(frozen=True)
class Ref:
    """A parsed reference: ``parameters.x``, ``steps.s.metrics.test.auc``, ``execution.id``."""

    root: str  # "parameters" | "steps" | "execution"
    name: str  # the parameter, the step, or "id"
    path: tuple[str, ...] = ()  # what of the step: ("outputs", "clean"), ("metrics", ...)

    @property
    def text(self) -> str:
        return ".".join((self.root, self.name, *self.path))


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 3
    backoff_seconds: float = 2.0
    backoff_rate: float = 2.0
    #: Job failure reasons that are retried (default: the platform's own failures).
    on: tuple[str, ...] = INFRA_REASONS

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        return self.backoff_seconds * self.backoff_rate ** max(0, attempt - 1)


@dataclass(frozen=True)
class Step:
    name: str
    type: str
    #: The step's own fields (``job``, ``if``, ``group``…), references unresolved.
    body: Mapping[str, Any]
    depends_on: tuple[str, ...]
    retry: Retry
    cache: bool
    cache_expiry_seconds: int

    @property
    def is_job(self) -> bool:
        return self.type not in CONTROL_TYPES


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    description: str = ""


@dataclass(frozen=True)
class Definition:
    """A checked definition: parameters, steps in order, and each step's dependencies."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    #: step → every step it waits for (references, depends_on, its condition).
    needs: Mapping[str, tuple[str, ...]]
    #: step → the (condition, branch) it belongs to, if any.
    branch_of: Mapping[str, tuple[str, str]]
    #: The JSON as stored (normalised).
    document: Mapping[str, Any]

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


# -- references ---------------------------------------------------------------------------
def parse_ref(text: object) -> Ref:
    """``"steps.train.metrics.test.roc_auc"`` → :class:`Ref`; ValueError saying why not."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"a reference is a non-empty string; got {text!r}")
    parts = text.split(".")
    root = parts[0]
    if root == "parameters" and len(parts) == 2:
        return Ref("parameters", parts[1])
    if root == "execution" and parts[1:] == ["id"]:
        return Ref("execution", "id")
    if root == "steps" and len(parts) >= 3:
        what = parts[2]
        if what in ("model", "job", "model_version", "endpoint", "result") and len(parts) == 3:
            return Ref("steps", parts[1], (what,))
        if what == "outputs" and len(parts) == 4:
            return Ref("steps", parts[1], (what, parts[3]))
        if what == "metrics" and len(parts) >= 4:
            return Ref("steps", parts[1], tuple(parts[2:]))
    raise ValueError(
        f"unknown reference {text!r}; use parameters.NAME, execution.id, steps.STEP.model, "
        "steps.STEP.job, steps.STEP.model_version, steps.STEP.endpoint, "
        "steps.STEP.outputs.NAME or steps.STEP.metrics.SPLIT.METRIC")


def is_ref(value: object) -> bool:
    return isinstance(value, Mapping) and set(value) == {"ref"}


def find_refs(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``{"ref": ...}`` inside ``value``, with where it sits (for messages)."""
    if is_ref(value):
        yield where, value["ref"]
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from find_refs(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from find_refs(v, f"{where}[{i}]")


# -- parameters ---------------------------------------------------------------------------
def coerce(ptype: str, value: Any, what: str) -> Any:
    """``value`` as a parameter of type ``ptype`` (strings from a CLI are converted).

    Raises:
        ValueError: the value does not fit the type (the message names ``what``).
    """
    def bad() -> ValueError:
        return ValueError(f"{what} must be {_a(ptype)}; got {value!r}")

    if ptype == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise bad()
    if ptype == "int":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise bad()
    if ptype == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad()
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise bad() from None
        if not math.isfinite(number):
            # Stored as JSON it would read back as null: a gate comparing with it would fail
            # for a reason nobody typed.
            raise ValueError(f"{what} must be a finite number; got {value!r}")
        return number
    if not isinstance(value, str):
        raise bad()
    if ptype == "dataset" and not _DATASET_REF.fullmatch(value):
        raise ValueError(f"{what} must name a dataset as NAME or NAME:VERSION; got {value!r}")
    return value


def _a(ptype: str) -> str:
    return {"int": "a whole number", "float": "a number", "bool": "true or false",
            "string": "a string", "dataset": "a dataset reference"}[ptype]


# -- parsing ------------------------------------------------------------------------------
def parse_definition(doc: object, job_kinds: tuple[str, ...] | list[str] = ()) -> Definition:
    """Check a definition; return it, or raise one InvalidRequest listing every problem.

    Args:
        doc: the JSON definition.
        job_kinds: the registered job kinds (each is a step type).
    """
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        raise InvalidRequest("A pipeline definition must be a JSON object with name, "
                             "parameters and steps.")
    unknown = sorted(set(doc) - {"name", "description", "parameters", "steps"})
    if unknown:
        problems.append(f"the definition has no field {unknown[0]!r} (its fields are name, "
                        "description, parameters and steps)")
    name = doc.get("name")
    params = _parameters(doc.get("parameters") or [], problems)
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("steps must be a non-empty list of steps")
        raw_steps = []
    if len(raw_steps) > MAX_STEPS:
        problems.append(f"a pipeline has at most {MAX_STEPS} steps; got {len(raw_steps)}")
    types = sorted({*CONTROL_TYPES, *(k for k in job_kinds if k not in NOT_STEPS)})
    steps = [s for i, raw in enumerate(raw_steps) if (s := _step(raw, i, types, problems))]
    names = [s.name for s in steps]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"two steps are named {n!r}; step names must be unique")
    by_name = {s.name: s for s in steps}
    needs, branch_of = _dependencies(steps, by_name, {p.name for p in params}, problems)
    if not problems:
        cycle = _cycle(names, needs)
        if cycle:
            problems.append("the steps form a cycle: " + " → ".join(cycle))
    if problems:
        raise InvalidRequest("The pipeline definition is invalid: " + "; ".join(problems) + ".",
                             problems=problems)
    document = {"name": name, "description": str(doc.get("description") or ""),
                "parameters": [{"name": p.name, "type": p.type, "default": p.default,
                                "description": p.description} for p in params],
                "steps": [dict(r) for r in raw_steps]}
    return Definition(name=str(name or ""), description=str(document["description"]),
                      parameters=tuple(params), steps=tuple(steps),
                      needs={s: tuple(sorted(d)) for s, d in needs.items()},
                      branch_of=branch_of, document=document)


def _parameters(raw: object, problems: list[str]) -> list[Parameter]:
    if not isinstance(raw, list):
        problems.append("parameters must be a list of {name, type, default}")
        return []
    if len(raw) > MAX_PARAMETERS:
        problems.append(f"a pipeline has at most {MAX_PARAMETERS} parameters")
    out: list[Parameter] = []
    for i, p in enumerate(raw):
        if not isinstance(p, Mapping) or not isinstance(p.get("name"), str):
            problems.append(f"parameters[{i}] must be an object with a name")
            continue
        pname, ptype = p["name"], p.get("type", "string")
        if not _STEP_NAME.fullmatch(pname):
            problems.append(f"parameter name {pname!r} must be a letter then up to 63 "
                            "letters, digits, '_' or '-'")
            continue
        extra = sorted(set(p) - {"name", "type", "default", "description"})
        if extra:
            problems.append(f"parameter {pname!r} has no field {extra[0]!r}")
        if ptype not in PARAMETER_TYPES:
            problems.append(f"parameter {pname!r} has unknown type {ptype!r}; use one of "
                            f"{', '.join(PARAMETER_TYPES)}")
            continue
        default = p.get("default")
        if default is not None:
            try:
                default = coerce(ptype, default, f"the default of parameter {pname!r}")
            except ValueError as exc:
                problems.append(str(exc))
        if any(q.name == pname for q in out):
            problems.append(f"two parameters are named {pname!r}")
        out.append(Parameter(pname, ptype, default, str(p.get("description") or "")))
    return out


_COMMON = {"name", "type", "depends_on", "retry", "cache", "description"}
_OWN: dict[str, set[str]] = {
    "condition": {"if", "then", "else"},
    "register": {"model", "group", "model_description", "override_reason"},
    "approval": {"model_version", "timeout_seconds"},
    "deploy": {"model_version", "endpoint", "instances", "wait"},
    "callback": {"url", "body"},
    "fail": {"message"},
    "quality_check": {"dataset", "baseline", "model"},
}


def _step(raw: object, i: int, types: list[str], problems: list[str]) -> Step | None:
    if not isinstance(raw, Mapping):
        problems.append(f"steps[{i}] must be an object with name and type")
        return None
    name, stype = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
        problems.append(f"steps[{i}] needs a name of a letter then up to 63 letters, digits, "
                        f"'_' or '-'; got {name!r}")
        return None
    if stype not in types:
        hint = closest(str(stype), types)
        problems.append(f"step {name!r} has unknown type {stype!r}"
                        + (f" (did you mean {hint[0]!r}?)" if hint else "")
                        + f"; the types are {', '.join(types)}")
        return None
    own = _OWN.get(stype, {"job"})
    extra = sorted(set(raw) - _COMMON - own)
    if extra:
        problems.append(f"step {name!r} ({stype}) has no field {extra[0]!r}; its own fields "
                        f"are {', '.join(sorted(own))}")
    if stype not in CONTROL_TYPES and not isinstance(raw.get("job", {}), Mapping):
        problems.append(f"step {name!r}: job must be the {stype} job's spec (an object)")
    if stype not in CONTROL_TYPES and "kind" in (raw.get("job") or {}):
        problems.append(f"step {name!r}: leave kind out of job; the step's type is its kind")
    _check_own(name, stype, raw, problems)
    depends = raw.get("depends_on") or []
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        problems.append(f"step {name!r}: depends_on must be a list of step names")
        depends = []
    retry = _retry(name, raw.get("retry"), problems)
    cache, expiry = _cache(name, stype, raw.get("cache"), problems)
    body = {k: v for k, v in raw.items() if k not in _COMMON}
    return Step(name=name, type=stype, body=body, depends_on=tuple(depends), retry=retry,
                cache=cache, cache_expiry_seconds=expiry)


def _check_own(name: str, stype: str, raw: Mapping[str, Any], problems: list[str]) -> None:
    def need(field: str, what: str) -> None:
        if raw.get(field) is None:
            problems.append(f"step {name!r} ({stype}) needs {field}: {what}")

    if stype == "condition":
        need("if", 'a test like {"left": {"ref": "steps.eval.metrics.test.roc_auc"}, '
             '"op": ">=", "right": 0.8}')
        _check_test(name, raw.get("if"), problems)
        for branch in ("then", "else"):
            value = raw.get(branch) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f"step {name!r}: {branch} must be a list of step names")
    elif stype == "register":
        need("model", 'the job whose model to register, e.g. {"ref": "steps.train.model"}')
        need("group", "the model group to register into")
    elif stype in ("approval", "deploy"):
        need("model_version", 'e.g. {"ref": "steps.register.model_version"}')
        if stype == "deploy":
            need("endpoint", "the endpoint to create or update")
        for field_name in ("timeout_seconds", "instances", "wait"):
            value = raw.get(field_name)
            if field_name in _OWN[stype] and value is not None and not is_ref(value):
                problem = field_problem(field_name, value)
                if problem:
                    problems.append(f"step {name!r} ({stype}): {problem}")
    elif stype == "callback":
        need("url", "the https URL to POST to")
    elif stype == "fail":
        need("message", "why the execution fails")
    elif stype == "quality_check":
        need("dataset", "the dataset version to check")
        need("baseline", "the dataset whose statistics and constraints it must meet")
        need("model", "the model version (GROUP:VERSION) whose input columns are checked")


def field_problem(field_name: str, value: Any) -> str | None:
    """What is wrong with an approval's ``timeout_seconds`` or a deploy's ``instances`` or
    ``wait`` (a value, references resolved), or None. The engine checks the resolved value
    again, since a reference may bring a value of any type."""
    if field_name == "timeout_seconds":
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not 0 < value < float("inf")):
            return f"timeout_seconds must be a positive number of seconds; got {value!r}"
    elif field_name == "instances":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"instances must be a whole number, 1 or more; got {value!r}"
    elif field_name == "wait" and not isinstance(value, bool):
        return f"wait must be true or false; got {value!r}"
    return None


def _check_test(name: str, test: Any, problems: list[str]) -> None:
    if test is None:
        return
    if isinstance(test, Mapping) and set(test) in ({"all"}, {"any"}):
        items = next(iter(test.values()))
        if not isinstance(items, list) or not items:
            problems.append(f"step {name!r}: all/any must hold a non-empty list of tests")
            return
        for t in items:
            _check_test(name, t, problems)
        return
    if isinstance(test, Mapping) and set(test) == {"not"}:
        _check_test(name, test["not"], problems)
        return
    if not isinstance(test, Mapping) or set(test) != {"left", "op", "right"}:
        problems.append(f"step {name!r}: a test is {{left, op, right}}, or all/any/not of tests; "
                        f"got {test!r}")
        return
    if test["op"] not in OPERATORS:
        problems.append(f"step {name!r}: unknown operator {test['op']!r}; use one of "
                        f"{' '.join(OPERATORS)}")


def _retry(name: str, raw: Any, problems: list[str]) -> Retry:
    if raw is None:
        return Retry()
    if not isinstance(raw, Mapping) or set(raw) - {"max_attempts", "backoff_seconds",
                                                     "backoff_rate", "on"}:
        problems.append(f"step {name!r}: retry is {{max_attempts, backoff_seconds, "
                        "backoff_rate, on}")
        return Retry()
    try:
        attempts = int(raw.get("max_attempts", 3))
        backoff = float(raw.get("backoff_seconds", 2.0))
        rate = float(raw.get("backoff_rate", 2.0))
    except (TypeError, ValueError):
        problems.append(f"step {name!r}: retry's fields must be numbers")
        return Retry()
    if not 1 <= attempts <= 20 or not 0 <= backoff <= 3600 or not 1 <= rate <= 10:
        problems.append(f"step {name!r}: retry needs max_attempts 1-20, backoff_seconds "
                        "0-3600 and backoff_rate 1-10")
    on = raw.get("on", list(INFRA_REASONS))
    if not isinstance(on, list) or not all(isinstance(r, str) for r in on):
        problems.append(f"step {name!r}: retry.on must be a list of job failure reasons")
        on = list(INFRA_REASONS)
    return Retry(attempts, backoff, rate, tuple(on))


def _cache(name: str, stype: str, raw: Any, problems: list[str]) -> tuple[bool, int]:
    """Job steps are cached by default (opt out with ``"cache": false``); the others never."""
    cacheable = stype not in CONTROL_TYPES
    if raw is None or raw is True:
        return cacheable, DEFAULT_CACHE_EXPIRY
    if raw is False:
        return False, DEFAULT_CACHE_EXPIRY
    if isinstance(raw, Mapping) and set(raw) <= {"enabled", "expire_after_seconds"}:
        enabled = bool(raw.get("enabled", True))
        expiry = raw.get("expire_after_seconds", DEFAULT_CACHE_EXPIRY)
        if not isinstance(expiry, int) or isinstance(expiry, bool) or expiry < 1:
            problems.append(f"step {name!r}: cache.expire_after_seconds must be a whole "
                            "number of seconds")
            expiry = DEFAULT_CACHE_EXPIRY
        if enabled and not cacheable:
            problems.append(f"step {name!r}: a {stype} step has effects and cannot be cached")
        return enabled and cacheable, expiry
    problems.append(f"step {name!r}: cache is true, false or {{enabled, "
                    "expire_after_seconds}")
    return cacheable, DEFAULT_CACHE_EXPIRY


def _dependencies(steps: list[Step], by_name: Mapping[str, Step], params: set[str],
                  problems: list[str]) -> tuple[dict[str, set[str]], dict[str, tuple[str, str]]]:
    needs: dict[str, set[str]] = {s.name: set() for s in steps}
    branch_of: dict[str, tuple[str, str]] = {}
    for s in steps:
        for where, text in find_refs(s.body):
            try:
                ref = parse_ref(text)
            except ValueError as exc:
                problems.append(f"step {s.name!r} at {where}: {exc}")
                continue
            if ref.root == "parameters" and ref.name not in params:
                hint = closest(ref.name, params)
                problems.append(f"step {s.name!r} at {where} references unknown parameter "
                                f"{ref.name!r}" + (f" (did you mean {hint[0]!r}?)" if hint
                                                   else ""))
            elif ref.root == "steps":
                problem = _step_ref_problem(s, ref, by_name)
                if problem:
                    problems.append(f"step {s.name!r} at {where}: {problem}")
                else:
                    needs[s.name].add(ref.name)
        for d in s.depends_on:
            if d not in by_name:
                problems.append(f"step {s.name!r} depends on unknown step {d!r}")
            elif d == s.name:
                problems.append(f"step {s.name!r} depends on itself")
            else:
                needs[s.name].add(d)
        if s.type == "condition":
            for branch in ("then", "else"):
                for member in s.body.get(branch) or []:
                    if not isinstance(member, str):
                        continue
                    if member not in by_name or member == s.name:
                        problems.append(f"condition {s.name!r} names unknown step {member!r} "
                                        f"in its {branch} branch")
                    elif member in branch_of:
                        first = " ".join(branch_of[member])
                        problems.append(f"step {member!r} is in two branches ({first} and "
                                        f"{s.name} {branch}); a step belongs to at most one")
                    else:
                        branch_of[member] = (s.name, branch)
                        needs[member].add(s.name)
    return needs, branch_of


def _step_ref_problem(s: Step, ref: Ref, by_name: Mapping[str, Step]) -> str | None:
    target = by_name.get(ref.name)
    if target is None:
        hint = closest(ref.name, by_name)
        return (f"references unknown step {ref.name!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if target.name == s.name:
        return "a step cannot reference itself"
    what = ref.path[0]
    if what in ("model",) and target.type not in MODEL_MAKERS:
        return f"step {target.name!r} is a {target.type} step; only training, tuning and " \
               "automl steps make a model"
    if what in ("job", "metrics", "outputs") and not target.is_job:
        return f"step {target.name!r} is a {target.type} step and runs no job"
    if what == "outputs":
        declared = (target.body.get("job") or {}).get("outputs")
        if isinstance(declared, list) and declared and ref.path[1] not in declared:
            return (f"step {target.name!r} has no output {ref.path[1]!r}; its outputs are "
                    f"{', '.join(map(str, declared))}")
    if what == "model_version" and target.type not in ("register", "approval"):
        return f"step {target.name!r} is a {target.type} step; only register and approval " \
               "steps give a model version"
    if what == "endpoint" and target.type != "deploy":
        return f"step {target.name!r} is not a deploy step"
    if what == "result" and target.type != "condition":
        return f"step {target.name!r} is not a condition"
    return None


def _cycle(names: list[str], needs: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle among the steps as a path (first step repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(needs.get(n, ())):
            if state.get(d) == 1:
                return [*stack[stack.index(d):], d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in names:
        if n not in state:
            found = visit(n)
            if found:
                return list(reversed(found))
    return None


def resolve_parameters(defn: Definition, given: Mapping[str, Any],
                       extra_ok: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The execution's parameters: defaults overridden by ``given``, each typed.

    ``extra_ok`` names parameters a trigger may pass though the definition does not
    declare them (a git trigger's ``commit``); they are kept as strings.

    Raises:
        InvalidRequest: an unknown parameter, a value of the wrong type, or a parameter
            with no default that was not given.
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    for k in given:
        if defn.parameter(k) is None and k not in extra_ok:
            hint = closest(k, [p.name for p in defn.parameters])
            problems.append(f"the pipeline has no parameter {k!r}"
                            + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        elif defn.parameter(k) is None:
            out[k] = str(given[k])
    for p in defn.parameters:
        if p.name in given:
            try:
                out[p.name] = coerce(p.type, given[p.name], f"parameter {p.name!r}")
            except ValueError as exc:
                problems.append(str(exc))
        elif p.default is None:
            problems.append(f"parameter {p.name!r} has no default; give it with "
                            f"--param {p.name}=VALUE")
        else:
            out[p.name] = p.default
    if problems:
        raise InvalidRequest("Cannot start the pipeline: " + "; ".join(problems) + ".",
                             problems=problems)
    return out
