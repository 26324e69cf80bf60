"""The bootstrap of a job process: read the config, run the kind's entry, report a failure.

``python -m shipyard.runtime JOB_DIR`` reads ``input/config/job.json``, starts the
heartbeat (and the log-metric scanner when the spec defines metrics), imports the
entry point the job's kind named there (``"module:function"``) and calls it with the
folder. The bootstrap knows no kind: script mode is just another entry
(:mod:`shipyard.runtime._script`).

A failure is written to ``output/failure`` (first line the reason, then a message)
so the supervisor can tell a script error from an out-of-memory error from a lost
worker. The message is one sentence (:mod:`shipyard.runtime._failure`: the last frame
of the user's code and the exception line); the traceback itself goes to the job log
like everything the job prints.
The exit code is written to ``exit_code`` as the bootstrap returns, for an executor
that can no longer wait for the process (see docs/architecture.md, "Recovery").

A gated job (``"gated": true``) waits, heartbeat running, until the control plane
admits its attempt (:data:`~shipyard.runtime._contract.ADMITTED_FILE`) before it
imports the entry: no code of the job runs for an attempt the control plane never
recorded as Running, so a restart never runs a job's code twice.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard.runtime import _contract as c
from shipyard.runtime._failure import failure_sentence
from shipyard.runtime._heartbeat import Heartbeat
from shipyard.runtime._logmetrics import LogMetricScanner


def write_failure(job_dir: Path, reason: str, message: str) -> None:
    path = job_dir / c.FAILURE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{reason}\n{message}\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m shipyard.runtime JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[0]).resolve()
    code = 1
    try:
        code = run(job_dir)
    finally:
        with contextlib.suppress(OSError):
            (job_dir / c.EXIT_FILE).write_text(f"{code}\n", encoding="utf-8")
    return code


def run(job_dir: Path) -> int:
    """Run the job in ``job_dir``; return its exit code."""
    config = json.loads((job_dir / c.JOB_FILE).read_text(encoding="utf-8"))
    heartbeat = Heartbeat(job_dir / c.HEARTBEAT_FILE)
    heartbeat.start()
    scanner = _log_scanner(job_dir, config.get("metric_definitions") or [])
    try:
        if config.get("gated") and not wait_admitted(job_dir, int(config.get("attempt") or 1)):
            message = (f"The control plane did not admit attempt {config.get('attempt')} within "
                       f"{c.ADMIT_TIMEOUT_SECONDS:g} s of its start (it went away); none of the "
                       "job's code ran.")
            sys.stderr.write(message + "\n")
            write_failure(job_dir, c.ENVIRONMENT_ERROR, message)
            return 1
        return _run_entry(job_dir, config)
    finally:
        if scanner is not None:
            scanner.stop()
        heartbeat.stop()


def wait_admitted(job_dir: Path, attempt: int,
                  timeout: float = c.ADMIT_TIMEOUT_SECONDS) -> bool:
    """Wait until ``admitted`` names ``attempt``; False after ``timeout`` seconds.

    Polled: a few ms at first (the control plane admits right after its Running record,
    usually before this interpreter got here), then less often."""
    path = job_dir / c.ADMITTED_FILE
    want = str(attempt)
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        try:
            if path.read_text(encoding="utf-8").strip() == want:
                return True
        except (OSError, UnicodeDecodeError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 1.5, 0.05)


def resolve_entry(entry: str) -> Callable[[Path], Any]:
    """Import ``"module:function"`` (a plug-in kind's module is imported right here)."""
    module, _, name = entry.partition(":")
    func = getattr(importlib.import_module(module), name)
    if not callable(func):
        raise TypeError(f"{entry} is not a function")
    return func


def _run_entry(job_dir: Path, config: dict[str, Any]) -> int:
    os.chdir(job_dir)
    what = f"The {config.get('kind') or 'job'} job"
    entry = str(config.get("entry") or "")
    try:
        func = resolve_entry(entry)
    except Exception as exc:  # noqa: BLE001 - reported as the job's failure
        message = (f"{what}'s entry point {entry!r} could not be loaded where the job runs "
                   f"({type(exc).__name__}: {exc}); install the package that defines the kind "
                   "there.")
        sys.stderr.write(message + "\n")
        write_failure(job_dir, c.ENVIRONMENT_ERROR, message)
        return 1
    try:
        from shipyard.errors import InvalidRequest

        try:
            result = func(job_dir)
        except InvalidRequest as exc:  # the data or settings, not a bug: say so plainly
            sys.stderr.write(f"error: {exc.message}\n")
            write_failure(job_dir, c.INPUT_ERROR, exc.message)
            return 1
        except SystemExit as exc:
            if exc.code in (None, 0):
                return 0
            code = exc.code if isinstance(exc.code, int) else 1
            if not (job_dir / c.FAILURE_FILE).exists():
                write_failure(job_dir, c.SCRIPT_ERROR, f"{what} exited with code {code}.")
            return code
        return int(result or 0)
    except MemoryError:
        sys.stderr.write(traceback.format_exc())
        write_failure(job_dir, c.MEMORY_LIMIT,
                      f"{what} ran out of memory (MemoryError); ask for more memory in "
                      "resources.memory or give it less data at a time.")
        return 1
    except BaseException as exc:  # noqa: BLE001 - reported as the job's failure
        sys.stderr.write(traceback.format_exc())
        write_failure(job_dir, c.SCRIPT_ERROR, failure_sentence(exc, what=what))
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _log_scanner(job_dir: Path, definitions: list[dict[str, str]]) -> LogMetricScanner | None:
    """Start reading metrics from the job's own log, if the spec defines any."""
    if not definitions:
        return None
    from shipyard.runtime import log_metric

    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    scanner = LogMetricScanner(job_dir / c.LOG_FILE, definitions,
                               lambda name, value, step: log_metric(name, value, step=step))
    scanner.start()
    return scanner
