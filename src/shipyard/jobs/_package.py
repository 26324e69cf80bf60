"""The job package: everything a worker needs to run one attempt of a job, anywhere.

The control plane builds it (:func:`build_package`) from the stored spec: the
config documents, the entry point, and every file to stage as an artifact-store
key (input dataset parts, the script, a model bundle). It is plain JSON
(:meth:`JobPackage.to_dict`), needs no database to use, and is staged into a
working folder wherever the job runs (:func:`stage`), by the local executor in
``$SHIPYARD_HOME/jobs/<id>/`` and by a cluster executor on its worker. Then the
one command line (:func:`~shipyard.jobs._workdir.command_line`) runs it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from shipyard.errors import NotFound, ShipyardError
from shipyard.jobs._kinds import get_kind, import_root
from shipyard.jobs._workdir import JobFailure
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.datasets import DatasetService
    from shipyard.store import JobRecord

#: Where staged files may go (relative to the job folder; ``checkpoints/``: a restored
#: checkpoint, see shipyard.jobs._checkpoints).
STAGE_ROOTS = ("input/", "code/", "checkpoints/")
#: Config documents every job gets; a kind's own may not reuse these names.
COMMON_CONFIGS = ("hyperparameters.json", "resources.json", "inputdata.json", "job.json")
_CONFIG_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}\.json$")


@dataclass(frozen=True)
class StagedFile:
    """One file to copy out of the artifact store into the working folder."""

    #: Where it goes, relative to the job folder (under ``input/`` or ``code/``).
    path: str
    sha256: str
    size: int
    #: What it is, for a message when it cannot be staged ("input 'raw' (dataset ...)").
    what: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size,
                "what": self.what}


@dataclass(frozen=True)
class JobPackage:
    """One attempt of a job as a worker receives it (see the module docstring)."""

    job_id: str
    kind: str
    attempt: int
    max_attempts: int
    spec: Mapping[str, Any]
    #: ``"module:function"`` the bootstrap calls.
    entry: str
    #: File name under ``input/config/`` → JSON document (``inputdata.json`` is made at
    #: staging, since it holds the folder's paths).
    configs: Mapping[str, Any]
    files: tuple[StagedFile, ...] = ()
    #: SHA-256 of the requirements text: the job runs in a venv built from it.
    requirements: str | None = None
    #: A warm runtime may take it.
    warm: bool = False
    #: Folders the job's interpreter must import from (a plug-in kind not installed).
    python_path: tuple[str, ...] = ()
    #: SHA-256 of the log earlier attempts left, so a fresh folder continues it.
    log: str | None = None
    #: The attempt's own job token (``SHIPYARD_TOKEN`` in the job; see shipyard.tokens),
    #: and the URL the job reaches the server at (``SHIPYARD_URL``).
    token: str | None = field(default=None, repr=False)
    server_url: str | None = None
    #: Actors started beside the job on Ray: ("module:Class", how many) (JobKind.helpers).
    helpers: tuple[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "attempt": self.attempt,
                "max_attempts": self.max_attempts, "spec": dict(self.spec),
                "entry": self.entry, "configs": dict(self.configs),
                "files": [f.to_dict() for f in self.files], "requirements": self.requirements,
                "warm": self.warm, "python_path": list(self.python_path), "log": self.log,
                "token": self.token, "server_url": self.server_url,
                "helpers": list(self.helpers) if self.helpers else None}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> JobPackage:
        return cls(job_id=str(doc["job_id"]), kind=str(doc["kind"]),
                   attempt=int(doc["attempt"]), max_attempts=int(doc["max_attempts"]),
                   spec=dict(doc["spec"]), entry=str(doc["entry"]),
                   configs=dict(doc["configs"]),
                   files=tuple(StagedFile(**f) for f in doc.get("files") or []),
                   requirements=doc.get("requirements"), warm=bool(doc.get("warm")),
                   python_path=tuple(doc.get("python_path") or ()), log=doc.get("log"),
                   token=doc.get("token"), server_url=doc.get("server_url"),
                   helpers=(str(doc["helpers"][0]), int(doc["helpers"][1]))
                   if doc.get("helpers") else None)

    @property
    def cpus(self) -> int:
        return int(self.spec["resources"]["cpus"])

    @property
    def memory_bytes(self) -> int:
        return int(self.spec["resources"]["memory_bytes"])


def package_for(job_id: str, spec: Mapping[str, Any], *, attempt: int = 1,
                max_attempts: int = 1, input_files: tuple[StagedFile, ...] = (),
                log: str | None = None) -> JobPackage:
    """The package of a stored spec whose input parts are already resolved (pure)."""
    kind = get_kind(str(spec["kind"]))
    own = dict(kind.configs(spec)) if kind.configs else {}
    for name in own:
        if not _CONFIG_NAME.fullmatch(name) or name in COMMON_CONFIGS:
            raise ShipyardError(f"Job kind {kind.name!r} writes the config file {name!r}; use "
                                "a plain lower-case '<name>.json' other than "
                                f"{', '.join(COMMON_CONFIGS)}.")
    resources = spec["resources"]
    configs: dict[str, Any] = {
        "hyperparameters.json": spec.get("hyperparameters") or {},
        "resources.json": {"cpus": resources["cpus"], "memory": resources["memory"],
                           "memory_bytes": resources["memory_bytes"]},
        "job.json": {"job_id": job_id, "kind": kind.name, "entry": kind.entry,
                     "script": (spec.get("script") or {}).get("filename"),
                     "outputs": list(spec.get("outputs") or []), "attempt": attempt,
                     "gated": True,
                     "metric_definitions": list(spec.get("metric_definitions") or [])},
        **own,
    }
    staged = tuple(kind.stage(spec)) if kind.stage else ()
    requirements = (spec.get("requirements") or {}).get("sha256")
    root = import_root(kind.entry_module)
    return JobPackage(
        job_id=job_id, kind=kind.name, attempt=attempt, max_attempts=max_attempts,
        spec=dict(spec), entry=kind.entry, configs=configs, files=(*input_files, *staged),
        requirements=requirements, warm=kind.warm and not requirements,
        python_path=(root,) if root else (), log=log,
        helpers=kind.helpers(spec) if kind.helpers else None)


def build_package(job: JobRecord, datasets: DatasetService) -> JobPackage:
    """The package of a job's next attempt: its stored spec, inputs resolved to parts.

    Raises:
        JobFailure: ``input_error`` when an input version is gone since the submit;
            ``environment_error`` when the job's kind is not registered here (a plug-in
            that is no longer loaded).
    """
    try:
        get_kind(job.kind)
    except ShipyardError as exc:
        raise JobFailure(c.ENVIRONMENT_ERROR,
                         f"{exc.message} Load the plug-in that defines it (SHIPYARD_PLUGINS) "
                         "and submit the job again.") from None
    files: list[StagedFile] = []
    for channel, ref in (job.spec.get("inputs") or {}).items():
        what = f"Input {channel!r} (dataset {ref['dataset']!r} version {ref['version']})"
        try:
            rec = datasets.version(ref["dataset"], ref["version"])
        except NotFound as exc:
            raise JobFailure(c.INPUT_ERROR,
                             f"{what} could not be prepared: {exc.message}") from None
        for i, part in enumerate(rec.parts):
            files.append(StagedFile(f"{c.INPUT_DATA_DIR}/{channel}/part-{i:05d}.parquet",
                                    str(part["sha256"]), int(part["size"]), what))
    log = (job.outputs.get("log") or {}).get("sha256") if job.outputs else None
    return package_for(job.id, job.spec, attempt=job.attempts, max_attempts=job.max_attempts,
                       input_files=tuple(files), log=log)


# -- staging (where the job runs) ------------------------------------------------------------
def layout(job_dir: Path, package: JobPackage) -> None:
    """Create (or, for a retry, reset) the folder; keep ``checkpoints/`` and ``job.log``."""
    for sub in ("input", c.CODE_DIR, c.MODEL_DIR, c.OUTPUT_DIR):
        shutil.rmtree(job_dir / sub, ignore_errors=True)
    for name in (c.HEARTBEAT_FILE, c.EXIT_FILE, c.ADMITTED_FILE):
        (job_dir / name).unlink(missing_ok=True)
    for sub in (c.CONFIG_DIR, c.INPUT_DATA_DIR, c.CODE_DIR, c.MODEL_DIR, c.OUTPUT_DATA_DIR,
                c.CHECKPOINTS_DIR):
        (job_dir / sub).mkdir(parents=True, exist_ok=True)
    inputs = package.spec.get("inputs") or {}
    for channel in inputs:
        (job_dir / c.INPUT_DATA_DIR / channel).mkdir(parents=True, exist_ok=True)
    for name in package.spec.get("outputs") or []:
        (job_dir / c.OUTPUT_DATA_DIR / name).mkdir(parents=True, exist_ok=True)
    (job_dir / c.LOG_FILE).touch()
    configs = {**package.configs, "inputdata.json": {
        ch: {**ref, "path": str(job_dir / c.INPUT_DATA_DIR / ch)} for ch, ref in inputs.items()}}
    for name, doc in configs.items():
        (job_dir / c.CONFIG_DIR / name).write_text(json.dumps(doc, indent=2, sort_keys=True))


def staged_path(job_dir: Path, rel: str) -> Path:
    """``job_dir / rel`` for a staged file, refusing anything that would leave the folder.

    Raises:
        ShipyardError: ``rel`` is absolute, climbs out, or is not under input/, code/ or
            checkpoints/.
    """
    pure = PurePosixPath(rel)
    if (pure.is_absolute() or ".." in pure.parts or "\\" in rel
            or not rel.startswith(STAGE_ROOTS)):
        raise ShipyardError(f"unsafe file name {rel!r}")
    root = (job_dir / pure.parts[0]).resolve()
    target = (job_dir / pure).resolve()
    if (not target.is_relative_to(root) or target == root
            or not target.is_relative_to(job_dir.resolve())):
        raise ShipyardError(f"unsafe file name {rel!r}")
    return target


def stage(package: JobPackage, job_dir: Path, artifacts: ArtifactStore,
          should_abort: Callable[[], bool] = lambda: False) -> bool:
    """Lay out the folder and copy every staged file out of the store, checked.

    Returns False if ``should_abort`` said to stop part way (nothing is half-written:
    each file is written under a temporary name and renamed).

    Raises:
        JobFailure: ``input_error`` naming the input, model or script that could not be
            staged.
    """
    layout(job_dir, package)
    for f in package.files:
        if should_abort():
            return False
        try:
            artifacts.copy_to(f.sha256, staged_path(job_dir, f.path))
        except ShipyardError as exc:
            raise JobFailure(c.INPUT_ERROR,
                             f"{f.what} could not be prepared: {exc.message}") from None
    return True


def open_log(package: JobPackage, job_dir: Path, artifacts: ArtifactStore) -> Path:
    """The attempt's log file; a fresh folder starts from the log earlier attempts left."""
    job_dir.mkdir(parents=True, exist_ok=True)
    path = job_dir / c.LOG_FILE
    if not path.exists() and package.log:
        try:
            artifacts.copy_to(package.log, path)
        except ShipyardError:
            path.write_bytes(b"[shipyard] the log of earlier attempts could not be read\n")
    path.touch()
    return path
