"""What a job's own code uses: its inputs, hyperparameters, outputs, model folder, metrics.

Runs inside the job process, never in the server. It imports only the standard
library (pandas and pyarrow are imported when a table is read or written), so a
job starts fast::

    from shipyard import runtime

    df = runtime.read_input("raw")
    runtime.log_metric("rows", len(df))
    runtime.write_output(df.dropna(), "churn-clean")

Parts of a job timed with ``with runtime.phase("read"): ...`` show in its profile.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = [
    "checkpoint_dir", "hyperparameters", "input_dir", "job_dir", "job_id", "log_metric",
    "model_dir", "output_dir", "phase", "read_input", "record_phase", "watch",
    "write_output",
]

_metrics_lock = threading.Lock()
#: Metric names the platform keeps for itself (see shipyard/jobs/_profile.py).
SYSTEM_PREFIX = "system."


class NotInJob(RuntimeError):
    """The in-job API was called outside a Shipyard job."""


def job_dir() -> Path:
    """The job's working folder (``$SHIPYARD_JOB_DIR``)."""
    value = os.environ.get(c.ENV_JOB_DIR)
    if not value:
        raise NotInJob(
            f"{c.ENV_JOB_DIR} is not set: shipyard.runtime works inside a Shipyard job; "
            "submit the script as a job (or set the variable to a prepared working folder)."
        )
    return Path(value)


def job_id() -> str | None:
    """The id of the running job (``$SHIPYARD_JOB_ID``), or None outside a job."""
    return os.environ.get(c.ENV_JOB_ID)


def _read_json(rel: str) -> dict[str, Any]:
    path = job_dir() / rel
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except FileNotFoundError:
        return {}


def hyperparameters() -> dict[str, Any]:
    """The job's hyperparameters, with the JSON types they were submitted with."""
    return _read_json(c.HYPERPARAMETERS_FILE)


def input_dir(channel: str) -> Path:
    """The folder holding the Parquet parts of input ``channel``."""
    path = os.environ.get(c.ENV_CHANNEL_PREFIX + c.env_suffix(channel))
    if path:
        return Path(path)
    known = sorted(_read_json(c.INPUTDATA_FILE))
    raise KeyError(f"The job has no input channel {channel!r}; its channels are {known}.")


def read_input(channel: str) -> pandas.DataFrame:
    """Read input ``channel`` (every Parquet part, in order) as a pandas DataFrame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(p for p in input_dir(channel).iterdir() if p.suffix == ".parquet")
    if not parts:
        raise FileNotFoundError(f"Input channel {channel!r} holds no Parquet files.")
    tables = [pq.read_table(p) for p in parts]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    return table.to_pandas()


def output_dir(name: str) -> Path:
    """The folder whose files become a new version of output dataset ``name``."""
    path = os.environ.get(c.ENV_OUTPUT_DATA_PREFIX + c.env_suffix(name))
    if not path:
        declared = _read_json(c.JOB_FILE).get("outputs", [])
        raise KeyError(
            f"The job has no output {name!r}; declare it in the job's 'outputs' "
            f"(declared: {declared})."
        )
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_output(df: pandas.DataFrame, name: str) -> Path:
    """Write ``df`` as the next Parquet part of output dataset ``name``; return the file."""
    folder = output_dir(name)
    n = sum(1 for p in folder.iterdir() if p.suffix == ".parquet")
    path = folder / f"part-{n:05d}.parquet"
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def model_dir() -> Path:
    """The folder whose files become the job's model artifact."""
    return Path(os.environ.get(c.ENV_MODEL_DIR) or job_dir() / c.MODEL_DIR)


def checkpoint_dir() -> Path:
    """The job's ``checkpoints/`` folder, kept across its attempts.

    The server syncs it to the artifact store while the job runs and puts its last
    synced files back before a retried (``worker_lost``) or resumed
    (``shipyard jobs resume``) attempt starts. Write each file under a temporary name and
    rename it, so only complete files are synced (names starting with ``.`` or ending in
    ``.tmp``, ``.part``, ``.bak``, ``~`` never are)::

        state = runtime.checkpoint_dir() / "state.json"
        start = json.loads(state.read_text())["epoch"] if state.exists() else 0
        ...
        tmp = state.with_name("state.json.tmp")
        tmp.write_text(json.dumps({"epoch": epoch}))
        os.replace(tmp, state)
    """
    folder = job_dir() / c.CHECKPOINTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record one point of metric ``name``; the server collects it while the job runs.

    Names starting with ``system.`` are the platform's (a job's profile); time a part
    of the job with :func:`phase` instead.
    """
    if isinstance(name, str) and name.startswith(SYSTEM_PREFIX):
        raise ValueError(f"Metric names starting with {SYSTEM_PREFIX!r} are Shipyard's own; "
                         f"rename {name!r} (time a part of the job with runtime.phase()).")
    _write_metric(name, value, step)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Time a part of the job (``with runtime.phase("read"): ...``): its seconds show in
    the job's profile (``shipyard jobs profile ID``), beside its CPU, memory and I/O.
    A phase entered again adds up."""
    _phase_name(name)
    started = time.perf_counter()
    try:
        yield
    finally:
        record_phase(name, time.perf_counter() - started)


def record_phase(name: str, seconds: float) -> None:
    """Add ``seconds`` to phase ``name`` of the job's profile (what :func:`phase` does
    when its block ends), for code that times its parts itself."""
    _write_metric(f"{SYSTEM_PREFIX}phase.{_phase_name(name)}", seconds, None)


def system_metric(name: str, value: float, step: int | None = None) -> None:
    """A fact the platform's own in-job code records about the job (``system.<name>``:
    kept out of the job's metrics; the debugger's rules read it). Not for job code."""
    _write_metric(f"{SYSTEM_PREFIX}{name}", value, step)


def watch(model: Any, every: int = 1) -> Any:
    """Record the total gradient norm of a PyTorch ``model`` after every ``every``-th
    backward pass (``system.gradients.norm``), so the debugger's ``vanishing_gradient``
    and ``exploding_gradient`` rules can judge it. Returns a handle; ``.remove()`` stops.

    Raises:
        TypeError: ``model`` has no parameters that need gradients.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TypeError("runtime.watch() needs a torch model with parameters that require "
                        "gradients.")
    return _GradientWatch(params, every)


class _GradientWatch:
    """Sums the squares of each parameter's gradient as it is accumulated; when all of
    them are in (one backward pass), writes the norm."""

    def __init__(self, params: list[Any], every: int) -> None:
        self.count, self.every = len(params), max(1, int(every))
        self.seen, self.squares, self.step = 0, 0.0, 0
        self.hooks = [p.register_post_accumulate_grad_hook(self._after) for p in params]

    def _after(self, param: Any) -> None:
        if param.grad is not None:
            self.squares += float(param.grad.detach().float().pow(2).sum())
        self.seen += 1
        if self.seen < self.count:
            return
        if self.step % self.every == 0:
            norm = math.sqrt(self.squares)
            _write_metric(f"{SYSTEM_PREFIX}gradients.norm",
                          norm if math.isfinite(norm) else 1e300, self.step)
        self.seen, self.squares, self.step = 0, 0.0, self.step + 1

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()


def _phase_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 64 \
            or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"A phase name is 1-64 letters, digits, '_' or '-'; got {name!r}.")
    return name


def _write_metric(name: str, value: float, step: int | None) -> None:
    if not isinstance(name, str) or not name or len(name) > 128:
        raise ValueError(f"A metric name must be a string of 1-128 characters; got {name!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Metric {name!r} must be a finite number; got {value!r}.")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise ValueError(f"A metric step must be an integer; got {step!r}.")
    line = json.dumps({"name": name, "value": number, "step": step, "timestamp": time.time()})
    path = Path(os.environ.get(c.ENV_OUTPUT_DIR) or job_dir() / c.OUTPUT_DIR) / "metrics.jsonl"
    with _metrics_lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
