"""The in-job entry of a ``transform`` job: a registered model over a dataset, chunk by chunk.

Runs in the job process (``shipyard.jobs.kinds._transform_entry:main``): it imports
only the runtime contract and, when it runs, the bundle loader and pyarrow; never
the server.

Reads ``input/config/transform.json`` (model, keep_columns, chunk_rows), the
bundle in ``input/model/`` and the Parquet parts of ``input/data/data/``. Each part
is streamed in batches of ``chunk_rows`` rows, so memory stays bounded by a chunk
whatever the dataset's size; each chunk's predictions are appended to
``output/data/<output>/part-00000.parquet`` by one Parquet writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.runtime import _contract as c

#: The input channel a transform job reads.
CHANNEL = "data"
#: The kind's settings (model, keep_columns, chunk_rows), written by the kind module.
CONFIG_NAME = "transform.json"
DEFAULT_CHUNK_ROWS = 10_000
#: Progress lines are written at most this often (and once at the end).
PROGRESS_SECONDS = 1.0


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path.name} must hold a JSON object.")
    return data


def predict_table(pipeline: Any, batch: Any, model_columns: list[str], keep: list[str],
                  first_row: int, model: str) -> Any:
    """One chunk's predictions as an Arrow table: the ``keep`` columns, then the model's.

    Raises:
        InvalidRequest: the chunk does not fit the model (naming its rows).
    """
    import pyarrow as pa

    frame = batch.select(model_columns).to_pandas()
    try:
        pipeline.validate_input(frame)
        predicted = pipeline.predict(frame)
    except InvalidRequest as exc:
        raise InvalidRequest(
            f"Rows {first_row + 1:,}-{first_row + batch.num_rows:,} do not fit model "
            f"{model}: {exc.message}") from None
    table = pa.Table.from_pandas(predicted, preserve_index=False)
    for i, name in enumerate(keep):
        table = table.add_column(i, name, batch.column(name))
    return table


def _numbered(files: list[Any], chunk_rows: int, columns: list[str]) -> Iterator[tuple[int, Any]]:
    """(number of rows before it, batch) for every non-empty batch of ``files``, in order."""
    first = 0
    for f in files:
        for batch in f.iter_batches(batch_size=chunk_rows, columns=columns):
            if batch.num_rows:
                yield first, batch
                first += batch.num_rows


def _predict_here(pipeline: Any, files: list[Any], tmp: Path, chunk_rows: int,
                  wanted: list[str], model_columns: list[str], keep: list[str], model: str,
                  total: int) -> int:
    """The one-process transform: chunk after chunk into one Parquet file; the rows."""
    import pyarrow.parquet as pq

    from shipyard import runtime

    writer: pq.ParquetWriter | None = None
    done = 0
    last = time.monotonic()
    try:
        for first, batch in _numbered(files, chunk_rows, wanted):
            table = predict_table(pipeline, batch, model_columns, keep, first, model)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            else:
                table = table.cast(writer.schema)
            writer.write_table(table)
            done += table.num_rows
            runtime.log_metric("rows", done, step=done)
            now = time.monotonic()
            if now - last >= PROGRESS_SECONDS or done == total:
                print(f"rows {done:,} / {total:,}", flush=True)
                last = now
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidRequest("The input dataset has no rows to transform.")
    return done


def main(job_dir: Path) -> None:
    """Run the transform; raise :class:`InvalidRequest` when the input does not fit the model."""
    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    (job_dir / c.OUTPUT_DIR).mkdir(parents=True, exist_ok=True)
    config = _read_json(job_dir / c.CONFIG_DIR / CONFIG_NAME)
    job = _read_json(job_dir / c.JOB_FILE)
    keep = [str(k) for k in config.get("keep_columns") or []]
    chunk_rows = int(config.get("chunk_rows") or DEFAULT_CHUNK_ROWS)
    outputs = job.get("outputs") or []
    if len(outputs) != 1:
        raise InvalidRequest("A transform job writes exactly one output dataset.")

    instances = int(config.get("instances") or 1)
    with contextlib.ExitStack() as stack:
        helpers = None
        if instances > 1:  # first, so the actors start while this process loads the bundle
            from shipyard.jobs.kinds._transform_ray import Instances

            helpers = stack.enter_context(Instances.start(job_dir / c.INPUT_MODEL_DIR,
                                                          instances))
        _transform(job_dir, config, outputs, keep, chunk_rows, helpers)


def _transform(job_dir: Path, config: dict[str, Any], outputs: list[str], keep: list[str],
               chunk_rows: int, helpers: Any) -> None:
    import pyarrow.parquet as pq

    from shipyard import runtime
    from shipyard.bundle import load_bundle

    pipeline = load_bundle(job_dir / c.INPUT_MODEL_DIR)
    signature = [str(e["name"]) for e in pipeline.input_signature]
    print(f"model {config.get('model')}: {pipeline.task}, {len(signature)} input columns",
          flush=True)

    parts = sorted((job_dir / c.INPUT_DATA_DIR / CHANNEL).glob("*.parquet"))
    files = [pq.ParquetFile(p) for p in parts]
    total = sum(f.metadata.num_rows for f in files)
    available = set(files[0].schema_arrow.names) if files else set()
    missing = [k for k in keep if k not in available]
    if missing:
        raise InvalidRequest(f"keep_columns: the input has no column {missing[0]!r}.")
    # Only the columns the model reads and those kept are read at all.
    wanted = list(dict.fromkeys([*keep, *(n for n in signature if n in available)]))
    model_columns = [n for n in signature if n in available]

    dest = job_dir / c.OUTPUT_DATA_DIR / outputs[0]
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "part-00000.parquet"
    tmp = path.with_name(path.name + ".tmp")
    start = last = time.monotonic()
    if helpers is not None:
        from shipyard.jobs.kinds._transform_ray import Work

        print(f"predicting on {len(helpers.pool) + 1} Ray instances", flush=True)

        def progress(rows: int) -> None:
            nonlocal last
            runtime.log_metric("rows", rows, step=rows)
            if time.monotonic() - last >= PROGRESS_SECONDS or rows == total:
                print(f"rows {rows:,} / {total:,}", flush=True)
                last = time.monotonic()

        how = Work(columns=wanted, model_columns=model_columns, keep=keep,
                   chunk_rows=chunk_rows, model=str(config.get("model")))
        done = helpers.predict(pipeline, parts, dest, how, progress)
        if done == 0:
            raise InvalidRequest("The input dataset has no rows to transform.")
    else:
        done = _predict_here(pipeline, files, tmp, chunk_rows, wanted, model_columns, keep,
                             str(config.get("model")), total)
        os.replace(tmp, path)
    seconds = max(time.monotonic() - start, 1e-6)
    runtime.log_metric("rows_per_second", done / seconds)
    print(f"wrote {done:,} predictions to {outputs[0]} in {seconds:.1f} s "
          f"({done / seconds:,.0f} rows/s)", flush=True)
