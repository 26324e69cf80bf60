"""Job kinds as plug-ins: the registry, the spec union it assembles, and plug-in loading.

A kind is registered with one call (see docs/architecture.md, "Job kinds")::

    register(JobKind(name="transform", spec=TransformSpec, summary="...",
                     entry="shipyard.jobs.kinds._transform_entry:main",
                     check=check, configs=configs, stage=stage, warm=True))

and nothing else in ``shipyard.jobs`` branches on a kind: the service asks the
kind to check and pin a spec at submit (:class:`SubmitContext`), the package
builder asks it for its config files and the files it stages, the executor asks
whether a warm runtime may take it, and the job process runs its ``entry``.

A *driven* kind (``driver=...``, e.g. ``tuning``) runs no process of its own: it is a
parent whose work is to submit and watch child jobs. The supervisor moves its Pending
jobs to Running without an executor slot and calls its driver on every tick for each
of its Running or Stopping jobs (:class:`DriveContext`); the driver ends the job. All
of a driven job's state lives in the metadata store, so a restarted control plane
simply goes on driving it.

The built-in kinds live in ``shipyard/jobs/kinds/`` and are loaded the first time
the registry is read. Plug-ins are modules named by ``SHIPYARD_PLUGINS`` or
entry points of the group ``shipyard.job_kinds`` (:func:`load_plugins`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import logging
import operator
import re
import sysconfig
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import Field, TypeAdapter, ValidationError

from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.jobs._spec import Capacity, JobSpecBase

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.catalog import CatalogService
    from shipyard.datasets import DatasetService
    from shipyard.jobs._package import StagedFile
    from shipyard.jobs._service import JobService
    from shipyard.settings import Settings
    from shipyard.store import JobRecord, JobRepository, RegistryRepository

log = logging.getLogger("shipyard.jobs")

#: The kinds that ship with Shipyard, each a module ``shipyard.jobs.kinds.<name>``.
BUILTIN_KINDS = ("processing", "script", "training", "transform", "wrangle", "monitoring",
                 "tuning", "ensemble", "automl", "bias", "explain", "evaluate", "autolabel")
#: The entry-point group a distribution declares its job kinds in.
ENTRY_POINT_GROUP = "shipyard.job_kinds"
_KIND_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")


S = TypeVar("S", bound=JobSpecBase)


@dataclass
class SubmitContext(Generic[S]):
    """What a kind's submit-time check gets: the spec, the stored spec, the services.

    ``stored`` is the spec as it will be kept on the job: the common fields, the
    kind's own fields (as submitted), and inputs already pinned to dataset versions.
    A check refuses a spec that cannot work (raise :class:`InvalidRequest` or
    :class:`~shipyard.errors.NotFound`) and pins what a retry must see unchanged into
    ``stored`` (a model version's file hashes, a script's blob, catalog files).
    """

    #: The validated spec: an instance of the kind's own spec model.
    spec: S
    stored: dict[str, Any]
    datasets: DatasetService
    models: RegistryRepository
    artifacts: ArtifactStore
    catalog: CatalogService | None
    actor: str | None
    #: The server's settings (limits and thresholds a job reads from its config, since
    #: jobs see no ``SHIPYARD_*`` variables).
    settings: Settings | None = None
    #: The experiment the job is a run of; a check may default it (training: the train
    #: dataset's name).
    experiment: str | None = None
    #: Earlier jobs, for a kind whose spec names some (tuning's warm start).
    jobs: JobRepository | None = None


@dataclass(frozen=True)
class DriveContext:
    """What a driven kind's driver gets on each supervisor tick: its job and the services.

    ``jobs`` is the :class:`~shipyard.jobs.JobService` (submit, cancel, read children);
    the driver moves ``job`` to a terminal status itself when its work is done.
    """

    job: JobRecord
    jobs: JobService


Check = Callable[[SubmitContext[Any]], None]
Precheck = Callable[[Any], None]
Drive = Callable[[DriveContext], None]
Configs = Callable[[Mapping[str, Any]], Mapping[str, Any]]
Stage = Callable[[Mapping[str, Any]], "Sequence[StagedFile]"]


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its spec model and what it does at submit, at staging, in the job.

    Attributes:
        name: the ``kind`` of its specs (``[a-z][a-z0-9-]*``, at most 32 characters).
        spec: a pydantic model on :class:`JobSpecBase` with ``kind: Literal[name]``.
        summary: one line for ``GET /jobs/kinds`` and the CLI.
        entry: ``"module:function"`` the runtime bootstrap calls with the job folder; it
            returns an exit code (None = 0). Its module must not import the server.
        check: submit-time checks and pinning, given a :class:`SubmitContext`.
        precheck: the checks of a spec that need no data or store (its algorithm and
            hyperparameter names), given the parsed spec: run where a spec is accepted
            before it is submitted, such as a pipeline's job step at create and update.
            Its ``check`` runs them again at submit.
        configs: stored spec → ``{file name: JSON document}`` written into
            ``input/config/``.
        stage: stored spec → files (artifact-store keys) staged besides the input
            datasets, e.g. a model bundle into ``input/model/``.
        warm: a warm runtime (an interpreter with the ML libraries imported) may take
            it; only for built-in code with no requirements of its own.
        default_rules: the debugger's rules a job of this kind gets when its spec names
            none (``jobs/_debugger.py``).
        helpers: stored spec → (``"module:Class"``, how many) or None: on the Ray
            executor, actors of that class (no constructor arguments) started beside the
            job as it launches, before its package is staged, so their cold start
            overlaps the job's; the job finds them by the names in
            ``SHIPYARD_RAY_HELPERS`` (comma-separated) and they end with the attempt.
        driver: for a parent kind that runs no process: called by the supervisor on each
            tick for every Running or Stopping job of the kind (:class:`DriveContext`).
            Its ``entry`` is never launched.
    """

    name: str
    spec: type[JobSpecBase]
    summary: str
    entry: str
    check: Check | None = None
    precheck: Precheck | None = None
    configs: Configs | None = None
    stage: Stage | None = None
    warm: bool = False
    default_rules: tuple[str, ...] = ()
    helpers: Callable[[Mapping[str, Any]], tuple[str, int] | None] | None = None
    driver: Drive | None = None
    own_fields: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        base = set(JobSpecBase.model_fields)
        object.__setattr__(self, "own_fields",
                           tuple(f for f in self.spec.model_fields if f not in base))

    @property
    def builtin(self) -> bool:
        return self.spec.__module__.startswith("shipyard.")

    @property
    def entry_module(self) -> str:
        return self.entry.partition(":")[0]

    def describe(self) -> dict[str, Any]:
        """The kind as ``GET /jobs/kinds`` shows it, with its spec's JSON schema."""
        return {"name": self.name, "summary": self.summary, "entry": self.entry,
                "warm": self.warm, "builtin": self.builtin,
                "schema": self.spec.model_json_schema()}


class _Registry:
    def __init__(self) -> None:
        self.kinds: dict[str, JobKind] = {}
        self.lock = threading.RLock()
        self.version = 0
        self._adapter: tuple[int, TypeAdapter[Any]] | None = None
        self._builtins_loaded = False

    def adapter(self) -> TypeAdapter[Any]:
        with self.lock:
            if self._adapter is None or self._adapter[0] != self.version:
                models = tuple(k.spec for k in self.kinds.values())
                if len(models) == 1:
                    adapter: TypeAdapter[Any] = TypeAdapter(models[0])
                else:
                    union: Any = functools.reduce(operator.or_, models)
                    adapter = TypeAdapter(Annotated[union, Field(discriminator="kind")])
                self._adapter = (self.version, adapter)
            return self._adapter[1]


_REGISTRY = _Registry()


def _literal_kind(spec: type[JobSpecBase]) -> str | None:
    annotation = spec.model_fields["kind"].annotation
    if get_origin(annotation) is Literal and len(get_args(annotation)) == 1:
        value = get_args(annotation)[0]
        return value if isinstance(value, str) else None
    return None


def register(kind: JobKind) -> JobKind:
    """Add a job kind (or replace a plug-in kind of the same name, e.g. on re-import).

    Raises:
        ShipyardError: the kind is malformed, or a plug-in tries to replace a built-in kind.
    """
    if not _KIND_NAME.fullmatch(kind.name):
        raise ShipyardError(f"A job kind's name must match [a-z][a-z0-9-]* (at most 32 "
                            f"characters); got {kind.name!r}.")
    if not (isinstance(kind.spec, type) and issubclass(kind.spec, JobSpecBase)):
        raise ShipyardError(f"Job kind {kind.name!r}: its spec must be a model built on "
                            "shipyard.jobs.JobSpecBase.")
    if _literal_kind(kind.spec) != kind.name:
        raise ShipyardError(f"Job kind {kind.name!r}: its spec model must declare "
                            f"kind: Literal[{kind.name!r}].")
    if not _ENTRY.fullmatch(kind.entry):
        raise ShipyardError(f"Job kind {kind.name!r}: entry must be 'module:function'; got "
                            f"{kind.entry!r}.")
    with _REGISTRY.lock:
        old = _REGISTRY.kinds.get(kind.name)
        if old is not None and old.builtin and not kind.builtin:
            raise ShipyardError(f"A plug-in may not replace the built-in job kind "
                                f"{kind.name!r}; name it differently.")
        _REGISTRY.kinds[kind.name] = kind
        _REGISTRY.version += 1
    return kind


_LOADING = threading.RLock()


def load_builtin_kinds() -> None:
    """Import the built-in kind modules (each registers itself); cheap after the first call.

    The imports happen under a lock of their own, not the registry's, so a module that
    registers while another thread loads the built-ins cannot deadlock with it.
    """
    if _REGISTRY._builtins_loaded:
        return
    with _LOADING:
        if _REGISTRY._builtins_loaded:
            return
        for name in BUILTIN_KINDS:
            importlib.import_module(f"shipyard.jobs.kinds.{name}")
        _REGISTRY._builtins_loaded = True


def registered_kinds() -> list[JobKind]:
    """Every registered kind, by name."""
    load_builtin_kinds()
    with _REGISTRY.lock:
        return [_REGISTRY.kinds[n] for n in sorted(_REGISTRY.kinds)]


def kind_names() -> list[str]:
    return [k.name for k in registered_kinds()]


def get_kind(name: str) -> JobKind:
    """The registered kind ``name``.

    Raises:
        InvalidRequest: no such kind; the message lists the registered ones.
    """
    load_builtin_kinds()
    with _REGISTRY.lock:
        kind = _REGISTRY.kinds.get(name)
    if kind is None:
        raise InvalidRequest(f"Unknown job kind {name!r}; use one of: "
                             f"{', '.join(kind_names())}.")
    return kind


# -- parsing ---------------------------------------------------------------------------------
def parse_spec(body: object, capacity: Capacity | None = None) -> Any:
    """Validate a submitted job spec against the union of the registered kinds.

    Args:
        capacity: what the executor can give one job (``resources`` are checked against
            it); None: this machine.

    Returns:
        The validated spec: an instance of the kind's spec model.

    Raises:
        InvalidRequest: the body is not a valid spec; the message lists every problem.
    """
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"A job spec must be a JSON object; got {type(body).__name__}. "
            "See docs/architecture.md, 'Job spec'."
        )
    load_builtin_kinds()
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in kind_names():
        what = f"unknown job kind {kind!r}" if kind is not None else "a job spec needs a 'kind'"
        raise InvalidRequest(f"Invalid job spec: kind: {what}; use one of: "
                             f"{', '.join(kind_names())}.")
    context = {"capacity": capacity} if capacity is not None else None
    try:
        return _REGISTRY.adapter().validate_python(body, context=context)
    except ValidationError as exc:
        problems = [_problem(err, kind) for err in exc.errors()]
        raise InvalidRequest("Invalid job spec: " + "; ".join(problems) + ".") from None


def _problem(err: Any, kind: str) -> str:
    loc = [str(p) for p in err.get("loc", ())]
    if loc and loc[0] == kind:  # the union's tag comes first in a discriminated union
        loc = loc[1:]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ").rstrip(".")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field (check its spelling)"
        if len(loc) == 1:
            owners = [k.name for k in registered_kinds() if loc[0] in k.own_fields]
            if owners:
                names = [repr(o) for o in owners]
                which = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1
                                    else names)
                msg = f"{loc[0]!r} is for kind {which}, not {kind!r}"
    return f"{'.'.join(loc) or 'spec'}: {msg}"


def spec_schema() -> dict[str, Any]:
    """The JSON schema of the job spec: the discriminated union of every registered kind."""
    load_builtin_kinds()
    return _REGISTRY.adapter().json_schema()


# -- plug-ins --------------------------------------------------------------------------------
def load_plugins(modules: Sequence[str] = ()) -> list[str]:
    """Import plug-in modules (``SHIPYARD_PLUGINS``) and the ``shipyard.job_kinds`` entry points.

    A named module that cannot be imported stops the server with a clear message (it
    was asked for); a broken entry point of some installed distribution is logged and
    skipped. Returns the names of the kinds registered by now.

    Raises:
        ShipyardError: a module of ``modules`` could not be imported.
    """
    load_builtin_kinds()
    for name in modules:
        name = name.strip()
        if not name:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
            raise ShipyardError(
                f"SHIPYARD_PLUGINS names {name!r}, which could not be imported "
                f"({type(exc).__name__}: {exc}); install it or fix the name.") from None
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
            if callable(loaded) and not isinstance(loaded, type):
                loaded()
        except Exception:  # noqa: BLE001 - one broken distribution must not stop the server
            log.exception("the job-kind plug-in %s (%s) could not be loaded", ep.name, ep.value)
    return kind_names()


def import_root(module: str) -> str | None:
    """The folder to put on ``sys.path`` so ``module`` imports in a fresh interpreter.

    None for installed modules (the job finds them anyway), and for Shipyard's own unless
    the server imported Shipyard through ``PYTHONPATH`` (a source checkout run without
    installing it, as the tests run a work tree): a job, which never inherits the server's
    ``PYTHONPATH``, would otherwise import another copy of Shipyard, or none.
    """
    if module == "shipyard" or module.startswith("shipyard."):
        return _shipyard_root_from_pythonpath()
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    path = Path(spec.origin).resolve()
    depth = module.count(".") + (1 if path.name == "__init__.py" else 0)
    root = path.parents[depth]
    installed = {Path(p).resolve() for p in (sysconfig.get_paths()["purelib"],
                                             sysconfig.get_paths()["platlib"])}
    return None if root in installed else str(root)


def _shipyard_root_from_pythonpath() -> str | None:
    """The folder Shipyard was imported from, when that folder came from ``PYTHONPATH``."""
    import os

    import shipyard

    root = Path(shipyard.__file__).resolve().parents[1]
    given = {Path(p).resolve() for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p}
    return str(root) if root in given else None
