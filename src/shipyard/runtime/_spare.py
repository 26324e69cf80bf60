"""The warm runtime: a fork server that has already imported what a built-in job needs.

A fresh interpreter spends seconds importing pandas, scikit-learn, the boosting
libraries and matplotlib before a built-in entry does any work. The local executor
keeps one *warm runtime* process (``python -m shipyard.runtime --spare``) started
ahead of time: it imports those modules once, then serves orders, one JSON line each
on its stdin (a job's folder, environment and CPU cores). For each order it forks: the
child starts a session of its own, takes on the job's environment, redirects its output
to the job's log, pins itself to the job's cores and runs the very same bootstrap as
``python -m shipyard.runtime JOB_DIR``, in milliseconds and sharing the imported
modules' memory copy-on-write. So a tuning study's trials, or any jobs back to back or
side by side, all start warm, and no CPU goes into warming a new interpreter per job.

The protocol, on the server's side in :mod:`shipyard.jobs._spares`:

- the server writes ``{"job_dir": ..., "env": {...}, "cores": [...]}``;
- the fork server answers ``{"pid": N}`` (or ``{"error": "..."}``) once the child runs;
- when a child ends, it reports ``{"exit": N, "code": C}`` (``C`` as ``Popen`` reports
  it: negative for a signal), so a job killed by a signal is told from one that was
  lost (the bootstrap's ``exit_code`` file covers only a process that returned).

The fork server holds one thread when it forks (the libraries are only imported, no
pool has run), so the child starts from a consistent state; the child reseeds NumPy's
global generator (Python's own reseeds at fork). A child ends like a cold job process
except for the interpreter's final teardown (hundreds of ms with these modules loaded):
it waits for its non-daemon threads, runs the ``atexit`` handlers, flushes its output
and leaves with :func:`os._exit`. If the server dies, the fork server's stdin reaches
end of file and it exits; running jobs go on in their own sessions, as cold ones do.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

from shipyard.runtime import _contract as c

#: Imported ahead of time; each is optional (a missing extra just stays cold). ``skops.io``
#: (every scikit-learn model's file, read and written) goes through
#: :func:`shipyard.bundle._skops.skops_io`, which keeps PyTorch out; ``shap`` serves the
#: final model's and the explain job's SHAP values; CatBoost is in AutoML's portfolio.
#: Each was imported by every job that used it: 2.4-2.6 s of CPU for skops.io alone (2
#: cores, busy), for each linear or forest candidate of an AutoML job and its final job.
#: None of them starts a thread at import (checked: the fork server forks a one-thread
#: process).
WARM_MODULES = (
    "numpy", "pandas", "pyarrow.parquet", "sklearn.metrics", "sklearn.linear_model",
    "sklearn.ensemble", "shipyard.training", "xgboost", "lightgbm", "catboost", "shap",
    "shipyard.bundle._skops:skops_io",
    "matplotlib.backends.backend_agg", "matplotlib.figure",
)


def _matplotlib_dir() -> None:
    """A config folder for matplotlib that this process alone removes at its exit.

    Without a writable one, matplotlib makes a temporary folder and registers its removal
    at exit: every forked job would inherit that registration, the first to end would
    remove the folder under the others, and each later one would print a traceback."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="shipyard-matplotlib-")
    os.environ["MPLCONFIGDIR"] = folder
    owner = os.getpid()

    def _remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(_remove)


def warm_up() -> list[str]:
    """Import the warm modules; return the ones that could not be imported."""
    import importlib

    _matplotlib_dir()
    missing = []
    for name in WARM_MODULES:
        module, _, call = name.partition(":")
        try:
            loaded = importlib.import_module(module)
            if call:
                getattr(loaded, call)()
        except Exception:  # noqa: BLE001 - an optional extra that is not installed
            missing.append(name)
    return missing


def _pin(cores: list[int]) -> None:
    """Pin every thread of this process to ``cores``."""
    if not cores or not hasattr(os, "sched_setaffinity"):
        return
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:
            continue


def take_order(order: dict[str, Any]) -> Path:
    """Become the job: its environment, its log as stdout/stderr, its cores, its folder."""
    job_dir = Path(str(order["job_dir"]))
    env = order.get("env") or {}
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(env).items()})
    # What a fresh interpreter would put on its path (a plug-in kind's folder).
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = [p for p in extra if p not in sys.path]
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(job_dir / c.LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _pin([int(x) for x in order.get("cores") or []])
    os.chdir(job_dir)
    return job_dir


class _Server:
    """The fork server's loop: orders on stdin, answers and exit reports on ``out``."""

    def __init__(self) -> None:
        # Answers go through a copy of the pipe the server reads; fd 1 becomes the log.
        self.out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        with contextlib.suppress(OSError):
            os.dup2(2, 1)  # anything printed goes to the fork server's log (stderr)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        self.buffer = b""

    def _say(self, doc: dict[str, Any]) -> None:
        with contextlib.suppress(OSError, ValueError):  # the server went away
            self.out.write(json.dumps(doc) + "\n")

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._say({"exit": pid, "code": os.waitstatus_to_exitcode(status)})

    def serve(self) -> int:
        """Serve orders until stdin closes; returns in the fork server, or runs a job in
        a child (which never returns)."""
        while True:
            try:
                ready, _, _ = select.select([0, self.wake_r], [], [])
            except InterruptedError:
                continue
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.read(self.wake_r, 4096)
            self._reap()
            if 0 not in ready:
                continue
            data = os.read(0, 1 << 16)
            if not data:
                return 0  # the server went away, or closed the warm runtime
            self.buffer += data
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.strip():
                    self._order(line)

    def _order(self, line: bytes) -> None:
        try:
            order = json.loads(line)
            if not isinstance(order, dict) or not order.get("job_dir"):
                raise ValueError("an order names a job_dir")
        except ValueError as exc:
            self._say({"error": f"a bad order: {exc}"})
            return
        try:
            pid = os.fork()
        except OSError as exc:
            self._say({"error": f"fork failed: {exc}"})
            return
        if pid == 0:
            self._child(order)
        self._say({"pid": pid})

    def _child(self, order: dict[str, Any]) -> NoReturn:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self.wake_r, self.wake_w):
                os.close(fd)
            self.out.close()
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)  # not the orders pipe
            os.close(null)
            os.setsid()  # its own session and process group, as a cold job's
            _reseed()
            job_dir = take_order(order)
            sys.argv = [sys.argv[0], str(job_dir)]  # as ``python -m shipyard.runtime JOB_DIR``
            _thread_pools(len(order.get("cores") or []))
            from shipyard.runtime._bootstrap import main

            code = main([str(job_dir)])
        except BaseException:  # noqa: BLE001 - reported in the job's log; exit non-zero
            import traceback

            with contextlib.suppress(Exception):
                traceback.print_exc()
        _leave(code)


def _reseed() -> None:
    np = sys.modules.get("numpy")
    if np is not None:
        with contextlib.suppress(Exception):
            np.random.seed()  # the fork server's state would repeat in every child


def _thread_pools(cpus: int) -> None:
    """The BLAS and OpenMP pools were loaded at one thread: give the job its cores' worth
    (the boosting libraries take theirs from the job's n_jobs anyway)."""
    if cpus <= 1:
        return
    with contextlib.suppress(Exception):  # threadpoolctl comes with scikit-learn
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=cpus)


def _leave(code: int) -> NoReturn:
    """End a forked job: its threads, its atexit handlers, its output; no module teardown."""
    try:
        me = threading.current_thread()
        for t in threading.enumerate():
            if t is not me and not t.daemon:
                t.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


def serve(argv: list[str]) -> int:
    """``python -m shipyard.runtime --spare``: warm up, then fork a child per order."""
    missing = warm_up()
    if missing:
        print(f"warm runtime: not warmed: {', '.join(missing)}", file=sys.stderr, flush=True)
    return _Server().serve()
