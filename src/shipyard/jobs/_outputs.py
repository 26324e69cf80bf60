"""In the control plane: a finished job's output files, already in the store, become datasets.

The executor's :meth:`~shipyard.jobs.JobHandle.collect` put them into the artifact
store wherever the job ran; here each declared output is ingested from there as a
new dataset version (``replace`` mode: it holds exactly what the job wrote). The
job's folder is never read.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.jobs._workdir import JobFailure
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.datasets import DatasetService


@contextmanager
def _local_files(artifacts: ArtifactStore, name: str, entries: list[dict[str, Any]],
                 tmp_dir: Path | None) -> Iterator[list[tuple[str, Path]]]:
    """``(display name, checked local file)`` of each entry; copies only off a remote store."""
    prefix = f"{c.OUTPUT_DATA_DIR}/{name}/"
    display = [str(e["path"]).removeprefix(prefix).replace("/", "_") for e in entries]
    if artifacts.backend.local_path("objects") is not None:
        yield [(d, artifacts.verified_path(e["sha256"])) for d, e in zip(display, entries,
                                                                        strict=True)]
        return
    tmp = Path(tempfile.mkdtemp(prefix="outputs-", dir=tmp_dir))
    try:
        files = []
        for i, (d, e) in enumerate(zip(display, entries, strict=True)):
            dest = tmp / f"{i:05d}-{Path(d).name}"
            artifacts.copy_to(e["sha256"], dest)
            files.append((d, dest))
        yield files
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ingest_outputs(job_id: str, data: dict[str, list[dict[str, Any]]], actor: str | None,
                   datasets: DatasetService, artifacts: ArtifactStore,
                   tmp_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Make each output's stored files a new version of that dataset; return name → version.

    Raises:
        JobFailure: ``output_error`` if an output cannot be ingested (nothing of it is kept).
    """
    done: dict[str, dict[str, Any]] = {}
    for name, entries in data.items():
        try:
            with _local_files(artifacts, name, entries, tmp_dir) as files:
                rec = datasets.ingest(name, files, mode="replace",
                                      source={"type": "job", "job_id": job_id}, actor=actor)
        except Exception as exc:  # noqa: BLE001 - any ingest failure is the output's
            msg = exc.message if isinstance(exc, ShipyardError) else repr(exc)
            raise JobFailure(st.OUTPUT_ERROR,
                             f"The output {name!r} could not be stored as a dataset: {msg}") \
                from None
        done[name] = {"dataset": rec.dataset, "version": rec.version}
    return done
