"""The bootstrap of a job process: read the config, run the user's script, report a failure.

A failure is written to ``output/failure`` (first line the reason, then a message)
so the supervisor can tell a script error from an out-of-memory error from a lost
worker. The message is one sentence (:mod:`shipyard.runtime._failure`: the last frame
of the user's code and the exception line); the traceback itself goes to the job log
like everything the script prints.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from pathlib import Path

from shipyard.runtime import _contract as c
from shipyard.runtime._failure import failure_sentence, user_frame
from shipyard.runtime._logmetrics import LogMetricScanner


def write_failure(job_dir: Path, reason: str, message: str) -> None:
    path = job_dir / c.FAILURE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{reason}\n{message}\n", encoding="utf-8")


def _run_builtin_training(job_dir: Path) -> int:
    """A ``training`` job: the built-in entry instead of a user script, same failure rules."""
    return _run_builtin(job_dir, "training")


def _run_builtin_transform(job_dir: Path) -> int:
    """A ``transform`` job: a registered model over a dataset, chunk by chunk."""
    return _run_builtin(job_dir, "transform")


def _run_builtin(job_dir: Path, kind: str) -> int:
    os.chdir(job_dir)
    what = {"training": "Training", "wrangle": "The wrangle job",
            "monitoring": "The monitoring job"}.get(kind, "The transform")
    try:
        from shipyard.errors import InvalidRequest

        if kind == "training":
            from shipyard.training import main as entry
        elif kind == "wrangle":
            from shipyard.runtime._wrangle import main as entry
        elif kind == "monitoring":
            from shipyard.monitoring._job import main as entry
        else:
            from shipyard.runtime._transform import main as entry

        try:
            entry(job_dir)
        except InvalidRequest as exc:  # the data or settings, not a bug: say so plainly
            sys.stderr.write(f"error: {exc.message}\n")
            write_failure(job_dir, c.INPUT_ERROR, exc.message)
            return 1
    except MemoryError:
        sys.stderr.write(traceback.format_exc())
        write_failure(job_dir, c.MEMORY_LIMIT,
                      f"{what} ran out of memory (MemoryError); ask for more memory in "
                      "resources.memory" + (" or use a smaller chunk_rows" if kind == "transform"
                                            else "") + ".")
        return 1
    except BaseException as exc:  # noqa: BLE001 - reported as the job's failure
        sys.stderr.write(traceback.format_exc())
        write_failure(job_dir, c.SCRIPT_ERROR, failure_sentence(exc, what=what))
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m shipyard.runtime JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[0]).resolve()
    config = json.loads((job_dir / c.JOB_FILE).read_text(encoding="utf-8"))
    if config["kind"] == "training":
        return _run_builtin_training(job_dir)
    if config["kind"] == "transform":
        return _run_builtin_transform(job_dir)
    if config["kind"] in ("wrangle", "monitoring"):
        return _run_builtin(job_dir, config["kind"])
    scanner = _log_scanner(job_dir, config.get("metric_definitions") or [])
    try:
        return _run_script(job_dir, config)
    finally:
        if scanner is not None:
            scanner.stop()


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


def _run_script(job_dir: Path, config: dict[str, object]) -> int:
    script = job_dir / c.CODE_DIR / str(config["script"])
    os.chdir(job_dir)
    sys.path.insert(0, str(job_dir / c.CODE_DIR))
    sys.argv = [str(script)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code in (None, 0):
            return 0
        code = exc.code if isinstance(exc.code, int) else 1
        if not (job_dir / c.FAILURE_FILE).exists():
            detail = "" if isinstance(exc.code, int) else f": {exc.code}"
            write_failure(job_dir, c.SCRIPT_ERROR,
                          f"The script exited with code {code}{detail}.")
        return code
    except MemoryError as exc:
        sys.stderr.write(traceback.format_exc())
        where = user_frame(exc, job_dir / c.CODE_DIR)
        at = f" at {where}" if where else ""
        write_failure(job_dir, c.MEMORY_LIMIT,
                      f"The script ran out of memory (MemoryError){at}; ask for more memory "
                      "in resources.memory or use less.")
        return 1
    except BaseException as exc:  # noqa: BLE001 - any error of the user's script is its failure
        sys.stderr.write(traceback.format_exc())
        write_failure(job_dir, c.SCRIPT_ERROR, failure_sentence(exc, job_dir / c.CODE_DIR))
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0
