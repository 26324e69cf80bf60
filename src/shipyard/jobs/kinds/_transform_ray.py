"""A batch transform's chunks in parallel on Ray: ``instances`` predictors.

Runs inside the transform job's process when its spec asks for ``instances`` > 1
(only on the Ray executor, which gives the job ``SHIPYARD_RAY_ADDRESS``). The job's
process connects to the cluster as a driver and is the first instance; as its first
step, before it loads the bundle itself, it starts one :class:`Predictor` actor for
each other one (:meth:`Instances.start`), each asking for the job's CPUs and loading
the bundle once (its files travel through Ray's object store, so an actor may
be on any node). The input's Parquet row groups are the pieces of work: their raw
bytes go through the object store, and each instance decodes, predicts and encodes.
Results are written in input order, one part file per piece, so the output dataset
is the same, row for row, as the one-process transform's.

On the Ray executor the other instances are the transform kind's helper actors
(``JobKind.helpers``): the executor starts them as the job launches, before the
input is staged, so their cold start (a worker process, pyarrow, scikit-learn and
the boosting libraries) is spent while the job is staged and starts; the job's
process finds them by name (``SHIPYARD_RAY_HELPERS``) and loads its model into them.
They end with the attempt. Anywhere else the job's process starts its own actors,
which end with it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.runtime._contract import ENV_RAY_HELPERS

#: Chunks in flight per instance (one predicting, one waiting), so no actor idles.
IN_FLIGHT_PER_INSTANCE = 2
#: Slices of each of the last row groups (see :func:`_units`).
TAIL_SLICES = 4
ADDRESS_VARIABLE = "SHIPYARD_RAY_ADDRESS"
#: Ray's namespace of Shipyard's actors (the executor's).
NAMESPACE = "shipyard"
#: The model libraries a helper imports before it knows the model (the built-ins').
PRELOADED = ("sklearn.pipeline", "xgboost", "lightgbm")


class Predictor:
    """One instance: the bundle loaded once, then row group after row group.

    Started with ``files`` by the job's process, or without, as the transform kind's
    helper actor the Ray executor starts while the job is staged (``JobKind.helpers``):
    it then imports what predicting needs at once, and the job :meth:`load` s the bundle.
    """

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        import importlib

        import pyarrow.parquet  # noqa: F401 - imported now, while the job is staged

        from shipyard import bundle  # noqa: F401

        self.pipeline: Any = None
        for library in PRELOADED:
            try:
                importlib.import_module(library)
            except ImportError:
                continue
        if files is not None:
            self.load(files)

    def load(self, files: dict[str, bytes]) -> bool:
        from shipyard.bundle import load_bundle

        self._dir = tempfile.TemporaryDirectory(prefix="shipyard-bundle-")
        root = Path(self._dir.name)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        self.pipeline = load_bundle(root)
        return True

    def predict(self, part: Any, row_group: int, offset: int, length: int, first_row: int,
                how: Work) -> tuple[bytes, int]:
        return predict_piece(self.pipeline, part, row_group, offset, length, first_row, how)


def predict_piece(pipeline: Any, part: Any, row_group: int, offset: int, length: int,
                  first_row: int, how: Work) -> tuple[bytes, int]:
    """Predictions of rows ``offset``..``offset + length`` of one row group of ``part`` (a
    Parquet file's bytes) as the bytes of a Parquet file, and its number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shipyard.jobs.kinds._transform_entry import predict_table

    source = pq.ParquetFile(pa.BufferReader(pa.py_buffer(part)))
    rows_in = source.read_row_group(row_group, columns=how.columns).slice(offset, length)
    sink = pa.BufferOutputStream()
    writer: pq.ParquetWriter | None = None
    rows = 0
    for batch in rows_in.to_batches(max_chunksize=how.chunk_rows):
        if not batch.num_rows:
            continue
        table = predict_table(pipeline, batch, how.model_columns, how.keep,
                              first_row + rows, how.model)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema)
        writer.write_table(table)
        rows += batch.num_rows
    if writer is None:
        return b"", 0
    writer.close()
    return sink.getvalue().to_pybytes(), rows


@dataclass(frozen=True)
class Work:
    """What every piece is predicted with: the columns read, the model's, those kept."""

    columns: list[str]
    model_columns: list[str]
    keep: list[str]
    chunk_rows: int
    model: str


def _bundle_files(bundle_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(bundle_dir).as_posix(): p.read_bytes()
            for p in sorted(bundle_dir.rglob("*")) if p.is_file()}


class Instances:
    """The Ray actors of one transform, started as the job's first step.

    :meth:`start` connects to the cluster and asks for the actors before the job's
    process loads the bundle itself: a cold actor (a new Ray worker process, the
    imports of pyarrow, scikit-learn and the model's library, the bundle) takes several
    seconds, and they are spent while the job's process does the same work instead of
    after it. Use as a context manager: leaving it disconnects, and the actors end.
    """

    def __init__(self, ray: Any, pool: list[Any]) -> None:
        self.ray = ray
        self.pool = pool

    @classmethod
    def start(cls, bundle_dir: Path, instances: int) -> Instances:
        """Connect and start ``instances - 1`` actors (the job's process is the other one).

        Raises:
            InvalidRequest: no Ray cluster is given to the job.
        """
        address = os.environ.get(ADDRESS_VARIABLE)
        if not address:
            raise InvalidRequest(f"instances={instances} needs the Ray executor; this job "
                                 "runs without a Ray cluster. Use instances=1.")
        import ray

        cpus = int(os.environ.get("SHIPYARD_NUM_CPUS") or 1)
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        try:
            files = ray.put(_bundle_files(bundle_dir))
            names = [n for n in os.environ.get(ENV_RAY_HELPERS, "").split(",") if n]
            pool: list[Any] = [ray.get_actor(n, namespace=NAMESPACE)
                               for n in names[:instances - 1]]
            for helper in pool:  # started as the job launched: they load the model now
                helper.load.remote(files)
            actor = ray.remote(Predictor).options(num_cpus=cpus)
            pool += [actor.remote(files) for _ in range(instances - 1 - len(pool))]
            return cls(ray, pool)
        except BaseException:
            ray.shutdown()
            raise

    def __enter__(self) -> Instances:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ray.shutdown()

    def predict(self, here: Any, parts: list[Path], dest: Path, how: Work,
                progress: Callable[[int], None]) -> int:
        """Write the predictions of every row group of ``parts`` into ``dest`` as
        ``part-NNNNN.parquet`` files, in input order; return the rows.

        ``here`` is the job process's own loaded bundle: the process is one of the
        instances and predicts a piece itself whenever no actor's result is ready (so
        it works while the actors start), and writes the pieces in input order. Each
        instance decodes its piece, predicts chunk by chunk and encodes the result; only
        bytes travel.

        Raises:
            InvalidRequest: a chunk does not fit the model (the instance's message,
                naming its rows).
        """
        ray, pool = self.ray, self.pool
        arrays, refs, units = _units(ray, parts, (len(pool) + 1) * IN_FLIGHT_PER_INSTANCE)
        print(f"{len(units)} pieces over {len(pool) + 1} instances (this job's process "
              f"and {len(pool)} Ray actors)", flush=True)
        results: dict[int, tuple[bytes, int]] = {}
        running: dict[Any, int] = {}
        done = written = turn = given = here_pieces = 0
        here_seconds = 0.0
        started, first_back = time.monotonic(), None
        while written < len(units):
            while given < len(units) and len(running) < len(pool) * IN_FLIGHT_PER_INSTANCE:
                part, rg, offset, length, first = units[given]
                ref = pool[turn % len(pool)].predict.remote(refs[part], rg, offset, length,
                                                            first, how)
                running[ref], turn, given = given, turn + 1, given + 1
            ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0) \
                if running else ([], [])
            for ref in ready:
                results[running.pop(ref)] = _get(ray, ref)
                if first_back is None:
                    first_back = time.monotonic() - started
            if not ready and given < len(units):  # nothing back yet: predict a piece here
                part, rg, offset, length, first = units[given]
                t0 = time.monotonic()
                results[given] = predict_piece(here, arrays[part], rg, offset, length, first,
                                               how)
                here_seconds += time.monotonic() - t0
                given, here_pieces = given + 1, here_pieces + 1
            elif not ready:
                ray.wait(list(running), num_returns=1)
            while written in results:
                data, rows = results.pop(written)
                (dest / f"part-{written:05d}.parquet").write_bytes(data)
                written, done = written + 1, done + rows
                progress(done)
        print(f"this job's process predicted {here_pieces} of {len(units)} pieces "
              f"({here_seconds:.1f} s of {time.monotonic() - started:.1f} s); the actors' "
              f"first result came {first_back or 0:.1f} s in", flush=True)
        return done


def _units(ray: Any, parts: list[Path], at_least: int
           ) -> tuple[list[Any], list[Any], list[tuple[int, int, int, int, int]]]:
    """Each part's raw bytes (nothing decoded here), the same in Ray's object store, and the
    pieces of work: (part, row group, offset, length, rows before).

    A piece is a row group, or a slice of one (the whole row group is then decoded for
    each slice): when there are fewer row groups than ``at_least``, every group is
    sliced; and the last ``at_least`` row groups are cut into :data:`TAIL_SLICES` each,
    so the work ends in small pieces - with whole row groups, an instance could be left
    with a queue of big ones while the others have nothing more to take.
    """
    import numpy as np
    import pyarrow.parquet as pq

    metas = [pq.ParquetFile(path).metadata for path in parts]
    groups = sum(m.num_row_groups for m in metas)
    every = max(1, -(-at_least // max(groups, 1)))
    arrays = [np.frombuffer(path.read_bytes(), dtype=np.uint8) for path in parts]
    refs = [ray.put(a) for a in arrays]
    units: list[tuple[int, int, int, int, int]] = []
    first = index = 0
    for i, meta in enumerate(metas):
        for rg in range(meta.num_row_groups):
            n = meta.row_group(rg).num_rows
            slices = max(every, TAIL_SLICES) if index >= groups - at_least else every
            step = max(1, -(-n // slices))
            for offset in range(0, n, step):
                units.append((i, rg, offset, min(step, n - offset), first + offset))
            first, index = first + n, index + 1
    return arrays, refs, units


def _get(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, InvalidRequest):
            raise InvalidRequest(cause.message) from None
        raise
