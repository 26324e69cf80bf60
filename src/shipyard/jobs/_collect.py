"""Where the job ran: read its metrics and failure, and put what it left into the store.

These functions only need the working folder and an
:class:`~shipyard.artifacts.ArtifactStore` (no database), so every executor runs
them where the folder is: the local executor in the server's process, a cluster
executor on its worker. Files are taken only as regular files with safe names
(symlinks are refused) and stored content-addressed; the :class:`Manifest` they
return is all the control plane ever looks paths up in.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.artifacts import UnsafeKey, safe_key
from shipyard.jobs._workdir import JobFailure
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore

#: At most this much of ``metrics.jsonl`` is read per harvest.
METRICS_CHUNK = 4 * 1024 * 1024
#: Files a job may write as an output dataset.
DATA_SUFFIXES = (".parquet", ".csv", ".tsv", ".json", ".jsonl")
#: Files of ``output/`` that are not job artifacts (the failure is the job's message).
#: ``metrics.jsonl`` is kept: its points are in the metadata store already, and the file
#: is the raw series as the job wrote it.
_PLATFORM_OUTPUTS = {Path(c.FAILURE_FILE).name}
OUTPUT_ERROR = "output_error"


@dataclass(frozen=True)
class Manifest:
    """What :meth:`JobHandle.collect` put into the artifact store (entries: path, sha256,
    size; paths as the artifacts API shows them)."""

    #: ``model/<path>``: the model bundle.
    model: list[dict[str, Any]] = field(default_factory=list)
    #: output dataset name → its files ``output/data/<name>/<path>``.
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: ``output/<path>``: any other file the job left in ``output/`` (a report, a plot,
    #: ``metrics.jsonl``).
    files: list[dict[str, Any]] = field(default_factory=list)
    #: ``job.log``: the log as it was when collected.
    log: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "data": self.data, "files": self.files, "log": self.log}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Manifest:
        return cls(model=list(doc.get("model") or []), data=dict(doc.get("data") or {}),
                   files=list(doc.get("files") or []), log=doc.get("log"))


def read_metric_lines(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete lines of ``metrics.jsonl`` after ``offset`` as ``{name, value, step,
    timestamp}``; return them and the new offset. Lines a job wrote by hand that are not
    metrics are skipped (metrics are best effort)."""
    try:  # never through a link the job put in its place, never a FIFO
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return [], offset
            fh.seek(offset)
            data = fh.read(METRICS_CHUNK)
    except OSError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    points = []
    for line in data[:end].split(b"\n"):
        try:
            rec = json.loads(line)
            value = float(rec["value"])
            step = rec.get("step")
            name = str(rec["name"])[:128]
            if not name or not math.isfinite(value):
                continue
            points.append({"name": name, "value": value,
                           "step": None if step is None else int(step),
                           "timestamp": float(rec.get("timestamp") or 0.0)})
        except (ValueError, KeyError, TypeError):
            continue
    return points, offset + end + 1


def read_failure(job_dir: Path) -> tuple[str | None, str]:
    """The reason and message the job left in ``output/failure`` (None, "" if none)."""
    try:  # never through a link: the message is shown to anyone who may read the job
        fd = os.open(job_dir / c.FAILURE_FILE,
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None, ""
            text = fh.read(80_000).decode("utf-8", errors="replace")[:20_000]
    except OSError:
        return None, ""
    first, _, rest = text.partition("\n")
    if first.strip() in (c.SCRIPT_ERROR, c.MEMORY_LIMIT, c.INPUT_ERROR, c.ENVIRONMENT_ERROR):
        return first.strip(), rest.strip()
    return c.SCRIPT_ERROR, text.strip()


def _files(folder: Path, what: str, skip: set[Path] | None = None) -> list[Path]:
    if folder.is_symlink():
        raise JobFailure(OUTPUT_ERROR, f"{what} is a symbolic link; save real files there.")
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        if skip and any(path == s or s in path.parents for s in skip):
            continue
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise JobFailure(OUTPUT_ERROR,
                             f"{what}/{rel} is a symbolic link; save real files there.")
        if path.is_file():
            found.append(path)
    return found


def _store(path: Path, rel: str, artifacts: ArtifactStore, what: str) -> dict[str, Any]:
    try:
        safe_key(rel)
    except UnsafeKey:
        raise JobFailure(
            OUTPUT_ERROR,
            f"The {what} file {rel!r} has an unsafe name; use letters, digits and '_.=+-' "
            "in file and folder names.",
        ) from None
    blob = artifacts.put_file(path)
    return {"path": rel, "sha256": blob.sha256, "size": blob.size}


def collect_model(job_dir: Path, artifacts: ArtifactStore) -> list[dict[str, Any]]:
    """Store every file under ``model/``; return the manifest entries ``model/<path>``."""
    folder = job_dir / c.MODEL_DIR
    return [_store(p, "model/" + p.relative_to(folder).as_posix(), artifacts, "model")
            for p in _files(folder, "model")]


def collect_data(job_dir: Path, outputs: list[str],
                 artifacts: ArtifactStore) -> dict[str, list[dict[str, Any]]]:
    """Store the data files of each declared output.

    Raises:
        JobFailure: ``output_error`` if an output holds no data file.
    """
    done: dict[str, list[dict[str, Any]]] = {}
    for name in outputs:
        folder = job_dir / c.OUTPUT_DATA_DIR / name
        files = [p for p in _files(folder, f"output/data/{name}")
                 if p.suffix.lower() in DATA_SUFFIXES]
        if not files:
            raise JobFailure(
                OUTPUT_ERROR,
                f"The job declared the output {name!r} but wrote no data to "
                f"output/data/{name}/; write it with shipyard.runtime.write_output(df, "
                f"{name!r}) or save {', '.join(DATA_SUFFIXES)} files there.",
            )
        done[name] = [_store(p, f"{c.OUTPUT_DATA_DIR}/{name}/"
                             + p.relative_to(folder).as_posix(), artifacts, "output")
                      for p in files]
    return done


def collect_files(job_dir: Path, artifacts: ArtifactStore) -> list[dict[str, Any]]:
    """Store the other files the job left in ``output/`` (a report, a plot)."""
    folder = job_dir / c.OUTPUT_DIR
    skip = {job_dir / c.OUTPUT_DATA_DIR, *(folder / n for n in _PLATFORM_OUTPUTS)}
    return [_store(p, f"{c.OUTPUT_DIR}/" + p.relative_to(folder).as_posix(), artifacts,
                   "output") for p in _files(folder, "output", skip)]


def store_log(job_dir: Path, artifacts: ArtifactStore) -> dict[str, Any] | None:
    path = job_dir / c.LOG_FILE
    if path.is_symlink() or not path.is_file():  # a link the job left is not its log
        return None
    blob = artifacts.put_file(path)
    return {"path": c.LOG_FILE, "sha256": blob.sha256, "size": blob.size}


def collect(job_dir: Path, spec: dict[str, Any], artifacts: ArtifactStore, *,
            outputs: bool = True, log: bool = True) -> Manifest:
    """Put what a job left into the store: with ``outputs`` its model files, output data
    and other ``output/`` files; with ``log`` its log.

    Raises:
        JobFailure: ``output_error`` (a symlink, an unsafe name, a declared output with
            no data).
    """
    if not outputs:
        return Manifest(log=store_log(job_dir, artifacts) if log else None)
    return Manifest(
        model=collect_model(job_dir, artifacts),
        data=collect_data(job_dir, list(spec.get("outputs") or []), artifacts),
        files=collect_files(job_dir, artifacts),
        log=store_log(job_dir, artifacts) if log else None,
    )
