"""The pipeline DSL's values: references, parameters and tests, and how they become JSON.

A reference is a Python object naming something an execution knows only when it runs
(docs/pipelines.md, "References")::

    prep.outputs["clean"]             # {"ref": "steps.prep.outputs.clean"}
    train.model                       # {"ref": "steps.train.model"}
    train.metrics.test.roc_auc        # {"ref": "steps.train.metrics.test.roc_auc"}
    min_auc = sy.Parameter("min_auc", type=float, default=0.8)   # {"ref": "parameters.min_auc"}

Comparing a reference or a parameter builds a :class:`Test` for a condition step
(``train.metrics.test.roc_auc >= min_auc``); ``&``, ``|`` and ``~`` combine tests into
``all``, ``any`` and ``not``. A test is decided on the server when its condition runs,
so using one as a Python ``bool`` (``if``, ``and``, ``or``, ``a < b < c``) is an error
that says what to write instead.

:func:`compile_value` turns any value holding these objects into the definition's
JSON and records which steps and parameters it referenced (:class:`Collector`), so a
pipeline can add the steps and parameters it was not given explicitly.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.client._pipeline_steps import Step

#: ``type=`` of a parameter → the definition's type name.
PARAMETER_TYPES: dict[Any, str] = {
    str: "string", int: "int", float: "float", bool: "bool",
    "string": "string", "str": "string", "int": "int", "float": "float", "bool": "bool",
    "dataset": "dataset",
}
#: Names of steps and parameters, as the server checks them.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_TEST_HINT = ("put each comparison in parentheses and combine them with &, | and ~, e.g. "
              "(a >= 0.8) & ~(b < 3)")


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidRequest(f"A {what} name is a letter then up to 63 letters, digits, '_' or "
                             f"'-'; got {name!r}.")
    return name


class Collector:
    """What compiling a value referenced: steps and parameters, each once, in order."""

    def __init__(self) -> None:
        #: Steps referenced (they come before the step that references them).
        self.steps: list[Step] = []
        #: Steps on a condition's branches (they come after it).
        self.followers: list[Step] = []
        self.parameters: list[Parameter] = []

    def step(self, step: Step) -> None:
        if not any(s is step for s in self.steps):
            self.steps.append(step)

    def follower(self, step: Step) -> None:
        if not any(s is step for s in self.followers):
            self.followers.append(step)

    def parameter(self, parameter: Parameter) -> None:
        if not any(p is parameter for p in self.parameters):
            self.parameters.append(parameter)


class Operand:
    """A value known when the execution runs; comparing it builds a :class:`Test`."""

    def _ref_text(self) -> str:  # pragma: no cover - every subclass says
        raise NotImplementedError

    def to_dict(self) -> dict[str, str]:
        """The JSON reference: ``{"ref": "..."}``."""
        return {"ref": self._ref_text()}

    def _collect(self, into: Collector) -> None:
        """Record what this operand references."""

    # Comparisons build tests; Python reflects `0.8 <= x` into `x >= 0.8`.
    def __ge__(self, other: Any) -> Test:
        return Test.compare(self, ">=", other)

    def __gt__(self, other: Any) -> Test:
        return Test.compare(self, ">", other)

    def __le__(self, other: Any) -> Test:
        return Test.compare(self, "<=", other)

    def __lt__(self, other: Any) -> Test:
        return Test.compare(self, "<", other)

    def __eq__(self, other: Any) -> Test:  # type: ignore[override]
        return Test.compare(self, "==", other)

    def __ne__(self, other: Any) -> Test:  # type: ignore[override]
        return Test.compare(self, "!=", other)

    __hash__ = None  # type: ignore[assignment]

    # A true/false operand (a bool parameter) is a test of its own.
    def __and__(self, other: Any) -> Test:
        return as_test(self) & other

    def __rand__(self, other: Any) -> Test:
        return as_test(other) & self

    def __or__(self, other: Any) -> Test:
        return as_test(self) | other

    def __ror__(self, other: Any) -> Test:
        return as_test(other) | self

    def __invert__(self) -> Test:
        return ~as_test(self)

    def __bool__(self) -> bool:
        raise TypeError(f"{self!r} has a value only when the execution runs, so it cannot be "
                        f"used as a Python bool; {_TEST_HINT}, and give the test to "
                        "Condition(if_=...).")


class Reference(Operand):
    """What a step makes: ``steps.STEP.model``, ``.job``, ``.outputs.NAME``,
    ``.model_version``, ``.endpoint``, ``.result``, or ``execution.id``."""

    def __init__(self, text: str, step: Step | None = None) -> None:
        self._text = text
        self._step = step

    def _ref_text(self) -> str:
        return self._text

    def _collect(self, into: Collector) -> None:
        if self._step is not None:
            into.step(self._step)

    def __repr__(self) -> str:
        return f"<Reference {self._text}>"


class MetricReference(Reference):
    """``step.metrics`` and below: each attribute or item goes one level down
    (``step.metrics.test.roc_auc``, ``step.metrics["test"]["f1-macro"]``)."""

    def __getattr__(self, part: str) -> MetricReference:
        if part.startswith("_"):
            raise AttributeError(part)
        return self[part]

    def __getitem__(self, part: str) -> MetricReference:
        if not isinstance(part, str) or not part or "." in part:
            raise InvalidRequest(f"A metric name is one non-empty part without dots; got "
                                 f"{part!r} (write metrics.test.roc_auc, or "
                                 "metrics['test']['roc_auc']).")
        return MetricReference(f"{self._text}.{part}", self._step)


EXECUTION_ID = Reference("execution.id")


class Parameter(Operand):
    """A pipeline parameter: given at start (``--param NAME=VALUE``), else its default.

    Args:
        name: a letter then letters, digits, ``_`` or ``-``.
        type: ``str``, ``int``, ``float``, ``bool`` or ``"dataset"`` (a dataset as ``NAME``
            or ``NAME:VERSION``); the server converts a start's values to it.
        default: the value when a start does not give one; None makes it required.
    """

    def __init__(self, name: str, type: Any = str, default: Any = None,
                 description: str = "") -> None:
        self.name = check_name(name, "parameter")
        kind = PARAMETER_TYPES.get(type) if isinstance(type, str | builtins.type) else None
        if kind is None:
            raise InvalidRequest(f"Parameter {name!r} has unknown type {type!r}; use str, int, "
                                 "float, bool or 'dataset'.")
        self.type = kind
        self.default = default
        self.description = description

    def _ref_text(self) -> str:
        return f"parameters.{self.name}"

    def _collect(self, into: Collector) -> None:
        into.parameter(self)

    def declaration(self) -> dict[str, Any]:
        """The parameter as the definition's ``parameters`` list holds it."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        return out

    def __repr__(self) -> str:
        return f"<Parameter {self.name} ({self.type}, default {self.default!r})>"



class Test:
    """A condition's test: a comparison, or all / any / not of tests (JSON ``if``)."""

    def __init__(self, node: dict[str, Any]) -> None:
        self._node = node

    @staticmethod
    def compare(left: Any, op: str, right: Any) -> Test:
        if isinstance(right, Test):
            raise TypeError(f"A comparison compares values, not tests; {_TEST_HINT}.")
        return Test({"left": left, "op": op, "right": right})

    def _parts(self, key: str) -> list[Any]:
        return list(self._node[key]) if set(self._node) == {key} else [self]

    def __and__(self, other: Any) -> Test:
        return Test({"all": [*self._parts("all"), *as_test(other)._parts("all")]})

    def __rand__(self, other: Any) -> Test:
        return as_test(other) & self

    def __or__(self, other: Any) -> Test:
        return Test({"any": [*self._parts("any"), *as_test(other)._parts("any")]})

    def __ror__(self, other: Any) -> Test:
        return as_test(other) | self

    def __invert__(self) -> Test:
        return Test({"not": self})

    def __bool__(self) -> bool:
        raise TypeError(f"A pipeline test is decided on the server when its condition runs, "
                        f"so it cannot be used as a Python bool; {_TEST_HINT}, and give it to "
                        "Condition(if_=...).")

    def to_dict(self) -> dict[str, Any]:
        """The test as the definition's JSON."""
        return compile_value(self._node)

    def __repr__(self) -> str:
        return f"<Test {self.to_dict()}>"


def as_test(value: Any) -> Test:
    """A :class:`Test`, or an operand that is true or false (``flag`` means ``flag == True``)."""
    if isinstance(value, Test):
        return value
    if isinstance(value, Operand):
        return Test.compare(value, "==", True)
    raise TypeError(f"Expected a test such as (metric >= 0.8); got {value!r}; {_TEST_HINT}.")


def compile_value(value: Any, into: Collector | None = None) -> Any:
    """``value`` as definition JSON: references → ``{"ref": ...}``, tests → their JSON.

    Args:
        into: records the steps and parameters the value references.

    Raises:
        InvalidRequest: a value JSON cannot hold (a step where a value goes, an object).
    """
    from shipyard.client._pipeline_steps import Step

    into = into if into is not None else Collector()
    if isinstance(value, Operand):
        value._collect(into)
        return value.to_dict()
    if isinstance(value, Test):
        return compile_value(value._node, into)
    if isinstance(value, Step):
        raise InvalidRequest(f"Step {value.name!r} was given where a value goes; give what "
                             f"it makes instead: {value.name}.model, .job, .outputs['NAME'], "
                             ".metrics.SPLIT.METRIC, .model_version or .endpoint.")
    if isinstance(value, Mapping):
        return {str(k): compile_value(v, into) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [compile_value(v, into) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidRequest(f"A pipeline definition holds JSON values, references and tests; "
                         f"got {type(value).__name__} {value!r}.")


def step_dependencies(definition: Mapping[str, Any]) -> dict[str, list[str]]:
    """step → the steps it waits for, read from a definition's JSON (references,
    ``depends_on``, and the condition whose branch it is on); for describing a pipeline."""
    steps = [s for s in definition.get("steps") or [] if isinstance(s, Mapping)]
    needs: dict[str, list[str]] = {str(s.get("name")): [] for s in steps}

    def refs(value: Any) -> list[str]:
        if isinstance(value, Mapping):
            if set(value) == {"ref"} and isinstance(value["ref"], str):
                parts = value["ref"].split(".")
                return [parts[1]] if parts[0] == "steps" and len(parts) > 2 else []
            return [r for v in value.values() for r in refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return []

    for s in steps:
        name = str(s.get("name"))
        body = {k: v for k, v in s.items() if k not in ("name", "type", "depends_on")}
        needs[name] += refs(body) + [str(d) for d in s.get("depends_on") or []]
        if s.get("type") == "condition":
            for member in [*(s.get("then") or []), *(s.get("else") or [])]:
                needs.setdefault(str(member), []).append(name)
    return {n: sorted(set(d) - {n}) for n, d in needs.items()}


def condition_text(test: Any) -> str:
    """A test's JSON as people write it: ``steps.eval.metrics.test.roc_auc >= 0.8 and
    not (…)``."""
    def side(value: Any) -> str:
        if isinstance(value, Mapping) and set(value) == {"ref"}:
            return str(value["ref"])
        return json.dumps(value)

    def text(node: Any, nested: bool) -> str:
        if isinstance(node, Mapping) and set(node) in ({"all"}, {"any"}):
            word = " and " if "all" in node else " or "
            joined = word.join(text(t, True) for t in next(iter(node.values())) or [])
            return f"({joined})" if nested else joined
        if isinstance(node, Mapping) and set(node) == {"not"}:
            return f"not {text(node['not'], True)}"
        if isinstance(node, Mapping) and {"left", "op", "right"} <= set(node):
            compared = f"{side(node['left'])} {node['op']} {side(node['right'])}"
            return f"({compared})" if nested else compared
        return json.dumps(node)

    return text(test, False)
