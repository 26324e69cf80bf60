"""What a job leaves behind: metric points, model files, output datasets, its log.

Files are taken from the working folder only as regular files with safe names
(symlinks are refused), stored content-addressed, and described in the job's
``outputs`` manifest, which is all the API ever looks paths up in.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from shipyard.artifacts import ArtifactStore, UnsafeKey, safe_key
from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.jobs._workdir import JobFailure
from shipyard.runtime import _contract as c
from shipyard.store import MetricPoint

#: At most this much of ``metrics.jsonl`` is read per harvest.
METRICS_CHUNK = 4 * 1024 * 1024
#: Files a processing job may write as an output dataset.
DATA_SUFFIXES = (".parquet", ".csv", ".tsv", ".json", ".jsonl")


def read_metrics(path: Path, offset: int) -> tuple[list[MetricPoint], int]:
    """Complete lines of ``metrics.jsonl`` after ``offset``; return them and the new offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(METRICS_CHUNK)
    except FileNotFoundError:
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
            points.append(MetricPoint(name, value, None if step is None else int(step),
                                      float(rec.get("timestamp") or 0.0)))
        except (ValueError, KeyError, TypeError):
            continue  # a line the job wrote by hand; metrics are best effort
    return points, offset + end + 1


def _files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise JobFailure(st.OUTPUT_ERROR,
                             f"{what}/{rel} is a symbolic link; save real files there.")
        if path.is_file():
            found.append(path)
    return found


def collect_model(job_dir: Path, artifacts: ArtifactStore) -> list[dict[str, Any]]:
    """Store every file under ``model/``; return the manifest entries ``model/<path>``."""
    entries = []
    folder = job_dir / c.MODEL_DIR
    for path in _files(folder, "model"):
        rel = "model/" + path.relative_to(folder).as_posix()
        try:
            safe_key(rel)
        except UnsafeKey:
            raise JobFailure(
                st.OUTPUT_ERROR,
                f"The model file {rel!r} has an unsafe name; use letters, digits and '_.=+-' "
                "in file and folder names.",
            ) from None
        blob = artifacts.put_file(path)
        entries.append({"path": rel, "sha256": blob.sha256, "size": blob.size})
    return entries


def ingest_outputs(job_id: str, spec: dict[str, Any], actor: str | None, job_dir: Path,
                   datasets: Any) -> dict[str, dict[str, Any]]:
    """Make each declared output folder a new dataset version; return name → version.

    Raises:
        JobFailure: ``output_error`` if an output is missing or cannot be ingested.
    """
    done: dict[str, dict[str, Any]] = {}
    for name in spec.get("outputs", []):
        folder = job_dir / c.OUTPUT_DATA_DIR / name
        files = [p for p in _files(folder, f"output/data/{name}")
                 if p.suffix.lower() in DATA_SUFFIXES]
        if not files:
            raise JobFailure(
                st.OUTPUT_ERROR,
                f"The job declared the output {name!r} but wrote no data to "
                f"output/data/{name}/; write it with shipyard.runtime.write_output(df, "
                f"{name!r}) or save {', '.join(DATA_SUFFIXES)} files there.",
            )
        try:
            rec = datasets.ingest(
                name, [(p.relative_to(folder).as_posix().replace("/", "_"), p) for p in files],
                mode="replace", source={"type": "job", "job_id": job_id}, actor=actor,
            )
        except Exception as exc:  # noqa: BLE001 - any ingest failure is the output's
            msg = exc.message if isinstance(exc, ShipyardError) else repr(exc)
            raise JobFailure(st.OUTPUT_ERROR,
                             f"The output {name!r} could not be stored as a dataset: {msg}") \
                from None
        done[name] = {"dataset": rec.dataset, "version": rec.version}
    return done


def store_log(job_dir: Path, artifacts: ArtifactStore) -> dict[str, Any] | None:
    path = job_dir / c.LOG_FILE
    if not path.is_file():
        return None
    blob = artifacts.put_file(path)
    return {"path": c.LOG_FILE, "sha256": blob.sha256, "size": blob.size}
