"""The in-job entry of a ``wrangle`` job: a SQL query or a feature recipe that writes one dataset.

Runs in the job process (``shipyard.jobs.kinds._wrangle_entry:main``); it imports the
SQL sandbox or the feature recipes when it runs, never the server.

Reads ``input/config/wrangle.json``. A query runs in the same sandbox as
``shipyard sql``: each input channel is a table of its name (its Parquet parts
are the only dataset files it may read), and the catalog tables pinned at submit
time are views over their files. A recipe is fitted on its one input and the
resulting table (its features, and the target column it kept aside) is the
output. Either way the rows go to ``output/data/<output>/part-00000.parquet``,
which becomes a new version of the output dataset.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.runtime import _contract as c

#: Of the job's memory limit, the share DuckDB may use before it spills to disk.
DUCKDB_MEMORY_SHARE = 0.6
#: The job's own limit (max_runtime_seconds) stops it; the sandbox timer only backs it up.
QUERY_TIMEOUT_SECONDS = 31 * 86400.0
#: The kind's settings (query or recipe, output, pinned catalog tables).
CONFIG_NAME = "wrangle.json"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _channel_files(job_dir: Path) -> dict[str, list[str]]:
    inputs = _read_json(job_dir / c.INPUTDATA_FILE)
    return {channel: sorted(str(p) for p in (job_dir / c.INPUT_DATA_DIR / channel)
                            .glob("*.parquet"))
            for channel in inputs}


def _run_sql(job_dir: Path, config: dict[str, Any], dest: Path) -> int:
    from shipyard.sandbox import Limits, Sources, View, pinned_sources, write_parquet

    channels = _channel_files(job_dir)
    views = [View(name=channel, files=tuple(files)) for channel, files in channels.items()]
    tables, filesystems = pinned_sources(config)
    views += tables
    resources = _read_json(job_dir / c.RESOURCES_FILE)
    memory = int(int(resources.get("memory_bytes") or 2 * 1024**3) * DUCKDB_MEMORY_SHARE)
    limits = Limits(timeout_seconds=QUERY_TIMEOUT_SECONDS, memory_limit=f"{memory // 1024**2}MB",
                    threads=int(resources.get("cpus") or 1), temp_directory=job_dir / "tmp")
    sources = Sources(views=tuple(views),
                      allowed_directories=tuple(config.get("allowed_directories") or []),
                      allowed_paths=tuple(f for files in channels.values() for f in files),
                      filesystems=tuple(filesystems))
    return write_parquet(config["sql"], sources, dest, limits)


def _run_recipe(job_dir: Path, config: dict[str, Any], dest: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shipyard.features import Recipe

    (files,) = _channel_files(job_dir).values()
    frame = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
    recipe = Recipe.from_dict(config["recipe"])
    _, out = recipe.fit_transform(frame, config.get("target"))
    table = pa.Table.from_pandas(out, preserve_index=False)
    pq.write_table(table, dest, compression="zstd")
    return int(table.num_rows)


def main(job_dir: Path) -> None:
    """Run the wrangle job; raise :class:`InvalidRequest` when its query or recipe cannot."""
    from shipyard import runtime

    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    config = _read_json(job_dir / c.CONFIG_DIR / CONFIG_NAME)
    output = str(config["output"])
    folder = job_dir / c.OUTPUT_DATA_DIR / output
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / "part-00000.parquet"
    tmp = dest.with_name(dest.name + ".tmp")
    start = time.monotonic()
    what = "query" if config.get("sql") else "recipe"
    print(f"running the {what} into {output}", flush=True)
    try:
        rows = (_run_sql if config.get("sql") else _run_recipe)(job_dir, config, tmp)
        if rows == 0:
            raise InvalidRequest(f"The {what} produced no rows, so there is nothing to write to "
                                 f"{output!r}; check its filters and inputs.")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = max(time.monotonic() - start, 1e-6)
    runtime.log_metric("rows", rows)
    print(f"wrote {rows:,} rows to {output} in {seconds:.1f} s", flush=True)
