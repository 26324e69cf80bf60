"""A batch transform's chunks in parallel on Ray: ``instances`` predictor actors.

Runs inside the transform job's process when its spec asks for ``instances`` > 1
(only on the Ray executor, which gives the job ``SHIPYARD_RAY_ADDRESS``). The job
process connects to the cluster as a driver, starts one :class:`Predictor` actor
per instance, each asking for the job's CPUs and loading the bundle once (its
files travel through Ray's object store, so an instance may be on any node), and
streams the chunks to them round robin. Results come back in input order, so
the output is the same, row for row, as the one-process transform's.

The actors belong to the job's process: they end when it ends (or is killed).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest

#: Chunks in flight per instance (one predicting, one waiting), so no actor idles.
IN_FLIGHT_PER_INSTANCE = 2
ADDRESS_VARIABLE = "SHIPYARD_RAY_ADDRESS"


class Predictor:
    """One instance: the bundle loaded once, then chunk after chunk."""

    def __init__(self, files: dict[str, bytes], model_columns: list[str], keep: list[str],
                 model: str) -> None:
        from shipyard.bundle import load_bundle

        self._dir = tempfile.TemporaryDirectory(prefix="shipyard-bundle-")
        root = Path(self._dir.name)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        self.pipeline = load_bundle(root)
        self.model_columns, self.keep, self.model = model_columns, keep, model

    def predict(self, first_row: int, batch: Any) -> Any:
        from shipyard.jobs.kinds._transform_entry import predict_table

        return predict_table(self.pipeline, batch, self.model_columns, self.keep, first_row,
                             self.model)


def _bundle_files(bundle_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(bundle_dir).as_posix(): p.read_bytes()
            for p in sorted(bundle_dir.rglob("*")) if p.is_file()}


def predict_on_ray(bundle_dir: Path, batches: Iterable[tuple[int, Any]], *, instances: int,
                   model_columns: list[str], keep: list[str], model: str) -> Iterator[Any]:
    """Predictions of every batch, in order, from ``instances`` actors on the cluster.

    Raises:
        InvalidRequest: no Ray cluster is given to the job, or a chunk does not fit the
            model (the instance's message, naming its rows).
    """
    address = os.environ.get(ADDRESS_VARIABLE)
    if not address:
        raise InvalidRequest(f"instances={instances} needs the Ray executor; this job runs "
                             "without a Ray cluster. Use instances=1.")
    import ray

    cpus = int(os.environ.get("SHIPYARD_NUM_CPUS") or 1)
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        files = ray.put(_bundle_files(bundle_dir))
        actor = ray.remote(Predictor).options(num_cpus=cpus)
        pool: list[Any] = [actor.remote(files, model_columns, keep, model)
                           for _ in range(instances)]
        pending: deque[Any] = deque()
        for i, (first, batch) in enumerate(batches):
            pending.append(pool[i % instances].predict.remote(first, batch))
            if len(pending) >= instances * IN_FLIGHT_PER_INSTANCE:
                yield _get(ray, pending.popleft())
        while pending:
            yield _get(ray, pending.popleft())
    finally:
        ray.shutdown()


def _get(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, InvalidRequest):
            raise InvalidRequest(cause.message) from None
        raise
