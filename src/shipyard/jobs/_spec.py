"""The job spec: what a user submits, checked field by field with messages that say how to fix it.

Validation here is pure (no store, no datasets): whether input datasets exist is
checked by the service at submit time.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shipyard.errors import InvalidName, InvalidRequest
from shipyard.names import check_name
from shipyard.runtime._contract import env_suffix

KINDS = ("processing", "script", "training", "transform", "wrangle", "monitoring")
#: The input channels a built-in training job reads.
TRAINING_CHANNELS = ("train", "validation", "test")
MIN_MEMORY = 64 * 1024**2
DEFAULT_MEMORY = "4G"
DEFAULT_MAX_RUNTIME = 86400.0
MAX_RETRIES = 5
MAX_SCRIPT_BYTES = 10 * 1024**2
MAX_REQUIREMENTS_BYTES = 64 * 1024
#: kind "monitoring": the channels it reads (baseline and current are required).
MONITORING_CHANNELS = ("baseline", "current", "ground_truth", "predictions")
#: kind "transform": the one input channel it reads, and its chunk size.
TRANSFORM_CHANNEL = "data"
DEFAULT_CHUNK_ROWS = 10_000
MAX_SQL_CHARS = 1_000_000
MAX_CHUNK_ROWS = 1_000_000
_MODEL_REF = re.compile(r"^(?P<group>[^:\s]+):(?P<version>[1-9][0-9]{0,8})$")

_FILENAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,124}\.py$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HYPERPARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
#: Requirement lines that would make pip read files of the server's machine.
_LOCAL_REQUIREMENT = re.compile(
    r"^\s*(-r|--requirement|-c|--constraint|-e|--editable|\.|/|~)|file:", re.IGNORECASE
)


def usable_cpus() -> list[int]:
    """The CPU cores this process may run on (all of them where affinity is not supported)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


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


def _name_or_value_error(value: str, kind: str) -> str:
    try:
        return check_name(value, kind)
    except InvalidName as exc:
        raise ValueError(exc.message) from None


def _check_env_collisions(names: list[str], what: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        key = env_suffix(name)
        if key in seen:
            raise ValueError(
                f"{what} {seen[key]!r} and {name!r} map to the same variable suffix {key!r}; "
                "rename one of them"
            )
        seen[key] = name


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
        if not _HYPERPARAMETER.fullmatch(v):
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

    @field_validator("cpus")
    @classmethod
    def _cpus(cls, v: int) -> int:
        n = len(usable_cpus())
        if not 1 <= v <= n:
            raise ValueError(f"cpus must be between 1 and {n} (the CPUs Shipyard may use here); "
                             f"got {v}")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str | int) -> str | int:
        size = parse_memory(v)
        if size < MIN_MEMORY:
            raise ValueError(f"memory must be at least 64M; got {v!r}")
        total = psutil.virtual_memory().total
        if size > total:
            raise ValueError(
                f"memory {v!r} is more than this machine has ({total / 1024**3:.1f}G)"
            )
        return v

    @property
    def memory_bytes(self) -> int:
        return parse_memory(self.memory)


class JobSpec(BaseModel):
    """A job as submitted (see docs/architecture.md, "Job spec")."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    name: str | None = None
    script: ScriptSpec | None = None
    requirements: str | None = Field(default=None, max_length=MAX_REQUIREMENTS_BYTES)
    inputs: dict[str, str] = Field(default_factory=dict, max_length=64)
    outputs: list[str] = Field(default_factory=list, max_length=64)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, max_length=256)
    resources: Resources = Field(default_factory=Resources)
    max_runtime_seconds: float = Field(default=DEFAULT_MAX_RUNTIME, gt=0, le=30 * 86400)
    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)
    grace_period_seconds: float | None = Field(default=None, ge=0, le=3600)
    environment: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                             max_length=256)
    #: Metrics read from the log by regular expressions (script and processing jobs).
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=32)
    # Runs: the experiment a job belongs to, and tags and notes to find it again.
    experiment: str | None = None
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)
    notes: str | None = Field(default=None, max_length=10_000)
    # kind "training": a built-in algorithm instead of a script (docs/training.md).
    algorithm: str | None = None
    target: str | None = Field(default=None, max_length=256)
    problem_type: str | None = None
    split: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None
    # kind "transform": a registered model version over a dataset (docs/architecture.md).
    model: str | None = Field(default=None, max_length=300)
    keep_columns: list[str] | None = Field(default=None, max_length=1000)
    chunk_rows: int | None = Field(default=None, ge=1, le=MAX_CHUNK_ROWS)
    # kind "wrangle": a SQL query or a recipe that writes one dataset (docs/catalog.md).
    sql: str | None = Field(default=None, max_length=MAX_SQL_CHARS)
    # kind "monitoring": a monitor's run settings (docs/monitoring.md); the server writes it.
    monitor: dict[str, Any] | None = None

    @field_validator("experiment")
    @classmethod
    def _experiment(cls, v: str | None) -> str | None:
        return None if v is None else _name_or_value_error(v, "experiment name")

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not _HYPERPARAMETER.fullmatch(key) or len(str(value)) > 256:
                raise ValueError(f"tag names must match [A-Za-z_][A-Za-z0-9_.-]* and values be "
                                 f"at most 256 characters; got {key!r}")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown job kind {v!r}; use one of: {', '.join(KINDS)}")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else _name_or_value_error(v, "job name")

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
        return v

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, v: list[str]) -> list[str]:
        for name in v:
            _name_or_value_error(name, "output dataset name")
        if len(set(v)) != len(v):
            raise ValueError(f"outputs must not repeat a dataset; got {v}")
        _check_env_collisions(v, "outputs")
        return v

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameters(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if not _HYPERPARAMETER.fullmatch(key):
                raise ValueError(
                    f"hyperparameter names must match [A-Za-z_][A-Za-z0-9_.-]* (at most 64 "
                    f"characters); got {key!r}"
                )
        _check_env_collisions(list(v), "hyperparameters")
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

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        _check_env_collisions(list(self.inputs), "inputs")
        training_fields = [f for f in ("algorithm", "target", "problem_type", "split", "recipe")
                           if getattr(self, f) is not None]
        transform_fields = [f for f in ("model", "keep_columns", "chunk_rows")
                            if getattr(self, f) is not None]
        if self.kind == "monitoring":
            self._check_monitoring(training_fields, transform_fields)
            return self
        if self.monitor is not None:
            raise ValueError("'monitor' is for kind 'monitoring'")
        if self.kind != "transform" and transform_fields:
            raise ValueError(f"{transform_fields[0]!r} is for kind 'transform'")
        if self.kind != "wrangle" and self.sql is not None:
            raise ValueError("'sql' is for kind 'wrangle'")
        if self.kind == "transform":
            self._check_transform(training_fields)
        elif self.kind == "wrangle":
            self._check_wrangle(training_fields)
        elif self.kind == "training":
            if not self.algorithm:
                raise ValueError("a training job needs an 'algorithm' (GET /api/v1/algorithms "
                                 "lists them)")
            if self.script is not None:
                raise ValueError("a training job runs a built-in algorithm and takes no "
                                 "'script'; use kind 'script' to run your own training script")
            if self.outputs:
                raise ValueError("a training job writes a model, not datasets; drop 'outputs'")
            if "train" not in self.inputs:
                raise ValueError("a training job needs an input channel named 'train' "
                                 "(e.g. inputs: {\"train\": \"churn\"})")
            extra = sorted(set(self.inputs) - set(TRAINING_CHANNELS))
            if extra:
                raise ValueError(f"a training job reads the channels train, validation and "
                                 f"test; got {extra[0]!r}")
        else:
            if self.script is None:
                raise ValueError(f"a {self.kind} job needs a 'script' "
                                 "({\"filename\": ..., \"source\": ...})")
            if training_fields:
                raise ValueError(f"{training_fields[0]!r} is for kind 'training'; a {self.kind} "
                                 "job reads its settings from hyperparameters")
        return self

    def _check_monitoring(self, training_fields: list[str], transform_fields: list[str]) -> None:
        if not self.model or not _MODEL_REF.fullmatch(self.model):
            raise ValueError("a monitoring job needs the 'model' its endpoint serves, like "
                             f"'churn-model:3'; got {self.model!r}")
        extra = [f for f in (*training_fields, *transform_fields) if f != "model"]
        if extra or self.script is not None or self.requirements or self.sql is not None:
            raise ValueError("a monitoring job runs the built-in monitor and takes no script, "
                             "requirements, sql or training fields")
        if self.monitor is None:
            raise ValueError("a monitoring job needs its 'monitor' settings")
        if not {"baseline", "current"} <= set(self.inputs) <= set(MONITORING_CHANNELS):
            raise ValueError("a monitoring job reads the channels baseline and current, and "
                             "optionally ground_truth and predictions")
        if self.outputs:
            raise ValueError("a monitoring job writes a report, not datasets; drop 'outputs'")

    def _check_transform(self, training_fields: list[str]) -> None:
        if not self.model or not _MODEL_REF.fullmatch(self.model):
            raise ValueError("a transform job needs a 'model' like 'churn-model:3' (a model "
                             f"group and a registered version); got {self.model!r}")
        if self.script is not None or self.requirements:
            raise ValueError("a transform job runs the model's own pipeline and takes no "
                             "'script' or 'requirements'")
        if training_fields:
            raise ValueError(f"{training_fields[0]!r} is for kind 'training'")
        if set(self.inputs) != {TRANSFORM_CHANNEL}:
            raise ValueError("a transform job reads one input channel named 'data' "
                             "(e.g. inputs: {\"data\": \"churn\"})")
        if len(self.outputs) != 1:
            raise ValueError("a transform job writes exactly one output dataset, the "
                             f"predictions; got {len(self.outputs)}")
        keep = self.keep_columns or []
        if len(set(keep)) != len(keep):
            raise ValueError(f"keep_columns must not repeat a column; got {keep}")

    def _check_wrangle(self, training_fields: list[str]) -> None:
        if self.script is not None or self.requirements:
            raise ValueError("a wrangle job runs its 'sql' or 'recipe' and takes no 'script' "
                             "or 'requirements'")
        if (self.sql is None) == (self.recipe is None):
            raise ValueError("a wrangle job needs exactly one of 'sql' (a SELECT over its "
                             "inputs and catalog tables) or 'recipe' (feature recipe steps)")
        other = [f for f in training_fields if f not in ("recipe", "target")]
        if other:
            raise ValueError(f"{other[0]!r} is for kind 'training'")
        if len(self.outputs) != 1:
            raise ValueError("a wrangle job writes exactly one output dataset; got "
                             f"{len(self.outputs)}")
        if self.recipe is not None and len(self.inputs) != 1:
            raise ValueError("a recipe wrangle job reads exactly one input channel (e.g. "
                             "inputs: {\"raw\": \"churn\"})")
        if self.sql is not None and self.target is not None:
            raise ValueError("'target' is for a recipe (the column its steps keep aside)")

    @property
    def max_attempts(self) -> int:
        return self.retries + 1


def parse_model_ref(ref: str) -> tuple[str, int]:
    """``"churn-model:3"`` → ``("churn-model", 3)`` (a spec's ``model`` is checked already)."""
    m = _MODEL_REF.fullmatch(ref)
    if m is None:
        raise InvalidRequest(f"A model is named like 'churn-model:3'; got {ref!r}.")
    return m.group("group"), int(m.group("version"))


def parse_spec(body: object) -> JobSpec:
    """Validate a submitted job spec.

    Raises:
        InvalidRequest: the body is not a valid spec; the message lists every problem.
    """
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"A job spec must be a JSON object; got {type(body).__name__}. "
            "See docs/architecture.md, 'Job spec'."
        )
    try:
        return JobSpec.model_validate(body)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                msg = "unknown field (check its spelling)"
            problems.append(f"{loc or 'spec'}: {msg}")
        raise InvalidRequest("Invalid job spec: " + "; ".join(problems) + ".") from None


def env_value(value: Any) -> str:
    """How a hyperparameter or environment value is written into a variable."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
