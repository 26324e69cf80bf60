"""The common part of every job spec: what all kinds share, checked field by field.

Each job kind (``shipyard.jobs.kinds``) builds its spec model on
:class:`JobSpecBase` with ``kind: Literal["<kind>"]`` and its own fields; the
registry (:mod:`shipyard.jobs._kinds`) assembles them into one discriminated union
and parses submitted specs with it. Kinds that run a user's script add
:class:`ScriptFields`.

Validation here is pure (no store, no datasets): whether input datasets exist is
checked by the service at submit time. What the executor can give (CPUs, memory)
comes in through the validation context as a :class:`Capacity`; without one, this
machine's is used.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import psutil
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shipyard.errors import InvalidName
from shipyard.jobs._debugger import RuleSpec, check_rules
from shipyard.names import check_name
from shipyard.runtime._contract import env_suffix

MIN_MEMORY = 64 * 1024**2
DEFAULT_MEMORY = "4G"
DEFAULT_MAX_RUNTIME = 86400.0
MAX_RETRIES = 5
MAX_SCRIPT_BYTES = 10 * 1024**2
MAX_REQUIREMENTS_BYTES = 64 * 1024

_FILENAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,124}\.py$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
HYPERPARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
#: Requirement lines that would make pip read files of the server's machine.
_LOCAL_REQUIREMENT = re.compile(
    r"^\s*(-r|--requirement|-c|--constraint|-e|--editable|\.|/|~)|file:", re.IGNORECASE
)
_MODEL_REF = re.compile(r"^(?P<group>[^:\s]+):(?P<version>[1-9][0-9]{0,8})$")


def usable_cpus() -> list[int]:
    """The CPU cores this process may run on (all of them where affinity is not supported)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Capacity:
    """The most one job may ask for on an executor (the checks of ``resources``)."""

    cpus: int
    memory_bytes: int
    #: How a message names where a job runs ("this machine", "a node of the Ray cluster").
    where: str = "this machine"


def local_capacity() -> Capacity:
    """This machine: the cores this process may use and all of its memory."""
    return Capacity(cpus=len(usable_cpus()), memory_bytes=int(psutil.virtual_memory().total))


def parse_memory(value: str | int) -> int:
    """``"512M"``, ``"2G"``, ``"1.5GiB"`` or a number of bytes → bytes (units are binary)."""
    if isinstance(value, bool):
        raise ValueError(f"memory must be like '512M' or '2G'; got {value!r}")
    if isinstance(value, int):
        return value
    m = _MEMORY.fullmatch(value) if isinstance(value, str) else None
    if m is None or (m.group(3) and not m.group(2)):
        raise ValueError(
            f"memory must be a size like '512M', '2G' or '1.5GiB' (K, M, G, T are powers of "
            f"1024); got {value!r}"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def name_or_value_error(value: str, kind: str) -> str:
    """:func:`check_name` as a pydantic ``ValueError`` (so it is listed with the others)."""
    try:
        return check_name(value, kind)
    except InvalidName as exc:
        raise ValueError(exc.message) from None


def check_env_collisions(names: list[str], what: str) -> None:
    """Refuse two names that become the same ``SHIPYARD_*_<SUFFIX>`` variable."""
    seen: dict[str, str] = {}
    for name in names:
        key = env_suffix(name)
        if key in seen:
            raise ValueError(
                f"{what} {seen[key]!r} and {name!r} map to the same variable suffix {key!r}; "
                "rename one of them"
            )
        seen[key] = name


def check_model_ref(value: str | None, kind: str) -> str:
    """A ``group:version`` model reference, or a ValueError saying what one looks like."""
    if not value or not _MODEL_REF.fullmatch(value):
        article = "an" if kind[:1] in "aeiou" else "a"
        raise ValueError(f"{article} {kind} job needs a 'model' like 'churn-model:3' (a model "
                         f"group and a registered version); got {value!r}")
    return value


def parse_model_ref(ref: str) -> tuple[str, int]:
    """``"churn-model:3"`` → ``("churn-model", 3)`` (a spec's ``model`` is checked already)."""
    from shipyard.errors import InvalidRequest

    m = _MODEL_REF.fullmatch(ref)
    if m is None:
        raise InvalidRequest(f"A model is named like 'churn-model:3'; got {ref!r}.")
    return m.group("group"), int(m.group("version"))


class ScriptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str
    source: str = Field(max_length=MAX_SCRIPT_BYTES)

    @field_validator("filename")
    @classmethod
    def _filename(cls, v: str) -> str:
        if not _FILENAME.fullmatch(v) or ".." in v:
            raise ValueError(
                f"script filename must be a plain file name ending in .py (letters, digits, "
                f"'_', '.', '-'; no folders); got {v!r}"
            )
        return v


class MetricDefinition(BaseModel):
    """A metric read from the job's log: each match of ``regex`` is one point."""

    model_config = ConfigDict(extra="forbid")

    name: str
    regex: str = Field(max_length=512)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not HYPERPARAMETER_NAME.fullmatch(v):
            raise ValueError(f"metric names must match [A-Za-z_][A-Za-z0-9_.-]*; got {v!r}")
        return v

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            rx = re.compile(v)
        except re.error as exc:
            raise ValueError(f"metric regex {v!r} does not compile: {exc}") from None
        if "value" not in rx.groupindex and rx.groups != 1:
            raise ValueError(
                f"metric regex {v!r} must capture the value: exactly one group, e.g. "
                "'loss=([0-9.eE+-]+)', or a group named 'value'")
        return v


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpus: int = 1
    memory: str | int = DEFAULT_MEMORY

    @staticmethod
    def _capacity(info: ValidationInfo) -> Capacity:
        context = info.context if isinstance(info.context, dict) else {}
        capacity = context.get("capacity")
        return capacity if isinstance(capacity, Capacity) else local_capacity()

    @field_validator("cpus")
    @classmethod
    def _cpus(cls, v: int, info: ValidationInfo) -> int:
        cap = cls._capacity(info)
        if not 1 <= v <= cap.cpus:
            raise ValueError(f"cpus must be between 1 and {cap.cpus} (the CPUs Shipyard may use "
                             f"on {cap.where}); got {v}")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str | int, info: ValidationInfo) -> str | int:
        size = parse_memory(v)
        if size < MIN_MEMORY:
            raise ValueError(f"memory must be at least 64M; got {v!r}")
        cap = cls._capacity(info)
        if size > cap.memory_bytes:
            raise ValueError(f"memory {v!r} is more than {cap.where} has "
                             f"({cap.memory_bytes / 1024**3:.1f}G)")
        return v

    @property
    def memory_bytes(self) -> int:
        return parse_memory(self.memory)


class JobSpecBase(BaseModel):
    """What every job spec has (see docs/architecture.md, "Job spec").

    A kind subclasses it with ``kind: Literal["<kind>"]`` and its own fields, and may
    add a ``model_validator(mode="after")`` for rules between its fields.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str
    name: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict, max_length=64)
    outputs: list[str] = Field(default_factory=list, max_length=64)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, max_length=256)
    resources: Resources = Field(default_factory=Resources)
    max_runtime_seconds: float = Field(default=DEFAULT_MAX_RUNTIME, gt=0, le=30 * 86400)
    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)
    grace_period_seconds: float | None = Field(default=None, ge=0, le=3600)
    environment: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                             max_length=256)
    # Runs: the experiment a job belongs to, and tags and notes to find it again.
    experiment: str | None = None
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)
    notes: str | None = Field(default=None, max_length=10_000)
    # The debugger (jobs/_debugger.py): rules judged while the job runs, on top of the
    # kind's defaults (a rule named again replaces its default); default_rules=False
    # leaves the defaults out.
    rules: list[RuleSpec] = Field(default_factory=list, max_length=32)
    default_rules: bool = True

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: list[RuleSpec]) -> list[RuleSpec]:
        return check_rules(v)

    @field_validator("experiment")
    @classmethod
    def _experiment(cls, v: str | None) -> str | None:
        return None if v is None else name_or_value_error(v, "experiment name")

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else name_or_value_error(v, "job name")

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, v: dict[str, str]) -> dict[str, str]:
        for channel, ref in v.items():
            if not _CHANNEL.fullmatch(channel):
                raise ValueError(
                    f"input channel names must match [a-z][a-z0-9_]* (at most 64 characters); "
                    f"got {channel!r}"
                )
            if not isinstance(ref, str) or not ref:
                raise ValueError(f"input {channel!r} must name a dataset like 'churn' or "
                                 f"'churn:3'; got {ref!r}")
        check_env_collisions(list(v), "inputs")
        return v

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, v: list[str]) -> list[str]:
        for name in v:
            name_or_value_error(name, "output dataset name")
        if len(set(v)) != len(v):
            raise ValueError(f"outputs must not repeat a dataset; got {v}")
        check_env_collisions(v, "outputs")
        return v

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameters(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if not HYPERPARAMETER_NAME.fullmatch(key):
                raise ValueError(
                    f"hyperparameter names must match [A-Za-z_][A-Za-z0-9_.-]* (at most 64 "
                    f"characters); got {key!r}"
                )
        check_env_collisions(list(v), "hyperparameters")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if not _ENV_NAME.fullmatch(key):
                raise ValueError(f"environment variable names must match [A-Z_][A-Z0-9_]*; "
                                 f"got {key!r}")
            if key.startswith("SHIPYARD_"):
                raise ValueError(f"environment variables starting with SHIPYARD_ are set by "
                                 f"Shipyard itself; rename {key!r}")
        return v

    @property
    def max_attempts(self) -> int:
        return self.retries + 1


def check_tags(v: dict[str, str]) -> dict[str, str]:
    """Tag names like hyperparameter names; values at most 256 characters."""
    for key, value in v.items():
        if not HYPERPARAMETER_NAME.fullmatch(key) or len(str(value)) > 256:
            raise ValueError(f"tag names must match [A-Za-z_][A-Za-z0-9_.-]* and values be "
                             f"at most 256 characters; got {key!r}")
    return v


class ScriptFields(BaseModel):
    """The fields of a kind that runs the user's own script (script mode).

    Mixed into a kind's spec model (``class ProcessingSpec(ScriptFields, JobSpecBase)``).
    """

    model_config = ConfigDict(extra="forbid")

    script: ScriptSpec | None = None
    requirements: str | None = Field(default=None, max_length=MAX_REQUIREMENTS_BYTES)
    #: Metrics read from the log by regular expressions.
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=32)

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        for line in v.splitlines():
            if _LOCAL_REQUIREMENT.search(line):
                raise ValueError(
                    f"requirements may name packages from the package index, not local files "
                    f"or other requirement files; got the line {line.strip()!r}"
                )
        return v

    @model_validator(mode="after")
    def _needs_a_script(self) -> ScriptFields:
        if self.script is None:
            kind = getattr(self, "kind", "script")
            raise ValueError(f"a {kind} job needs a 'script' "
                             "({\"filename\": ..., \"source\": ...})")
        return self


def env_value(value: Any) -> str:
    """How a hyperparameter or environment value is written into a variable."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
