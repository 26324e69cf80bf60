"""The warm runtime for built-in jobs: one fork server, started ahead, forks each job.

See :mod:`shipyard.runtime._spare` for the process side and its protocol. The
executor starts the fork server with the server's own interpreter when it starts (and
again whenever it finds it gone); :meth:`WarmRuntime.take` hands it a job and returns
the job process's pid within milliseconds, so every job of a warm kind starts warm,
however many run back to back or side by side (a tuning study's trials).

A job the fork server started is not the executor's child: the executor watches it by
pid and start time (as a job re-attached after a restart), and learns its exit code
from the fork server's report (:meth:`WarmRuntime.exit_code`), which also tells a job
killed by a signal from one that returned.

When jobs run as the job user (a root server, :mod:`shipyard.jobs._identity`), the
fork server is started as that user, so the jobs it forks never had the server's
privileges.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.jobs._identity import JobUser

log = logging.getLogger("shipyard.jobs")

#: The libraries' own thread pools start at import, before the job's CPU count is
#: known; the fork server keeps them at one thread and each job sets its own count.
_SPARE_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: How long a job waits for the fork server's answer before it starts cold (the first
#: job after the server starts waits out the imports, a few seconds).
TAKE_TIMEOUT = 60.0


def spare_command_line(python: str = sys.executable) -> list[str]:
    return [python, "-m", "shipyard.runtime", "--spare"]


class WarmRuntime:
    """The fork server of this executor, and what it reported."""

    def __init__(self, log_dir: Path, enabled: bool = True,
                 user: JobUser | None = None) -> None:
        self.log_dir = log_dir
        self.enabled = enabled
        self.user = user
        self.proc: subprocess.Popen[bytes] | None = None
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        #: Exit codes the fork server reported, by pid, until a handle reads them.
        self._exits: dict[int, int] = {}
        #: Pids forked by the current fork server and not yet reported ended.
        self._children: set[int] = set()
        self._lock = threading.Lock()  # one order at a time
        self._state = threading.Lock()
        self._closed = False

    # -- the process ---------------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes] | None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
        env.update(_SPARE_THREADS)
        drop: dict[str, Any] = {}
        if self.user is not None:
            drop = {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
            env["HOME"] = "/"  # not the server's home folder; the job sets its own
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.log_dir / "spare.log", "ab") as err:
                proc = subprocess.Popen(
                    spare_command_line(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=err, start_new_session=True, env=env, cwd=self.log_dir, **drop,
                )
        except OSError as exc:
            log.warning("could not start the warm runtime: %s", exc)
            return None
        self._answers = queue.Queue()
        with self._state:
            self._children = set()  # this fork server's: an earlier one's report no more
        threading.Thread(target=self._read, args=(proc, self._answers, self._children),
                         daemon=True, name="shipyard-warm-runtime").start()
        return proc

    def _read(self, proc: subprocess.Popen[bytes], answers: queue.Queue[dict[str, Any]],
              children: set[int]) -> None:
        """Sort the fork server's lines: a child's pid is noted before its exit report
        can arrive (the fork server says them in that order), answers go to take()."""
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                doc = json.loads(raw)
                if not isinstance(doc, dict):
                    continue
                if "exit" in doc:
                    pid, code = int(doc["exit"]), int(doc["code"])
                    with self._state:
                        if pid in children:
                            children.discard(pid)
                            self._exits[pid] = code
                    continue
                if "pid" in doc:
                    with self._state:
                        pid = int(doc["pid"])
                        self._exits.pop(pid, None)  # a reused pid's old report
                        children.add(pid)
            except (ValueError, TypeError):
                continue
            answers.put(doc)
        proc.stdout.close()
        answers.put({"error": "the warm runtime ended"})
        with self._state:
            children.clear()  # what it forked is no longer reported: see exit_code

    def fill(self, reopen: bool = False) -> None:
        """Start the fork server if it is not running (no-op when disabled or closed).

        ``reopen``: a runtime closed when its server stopped leading serves again.
        """
        with self._lock:
            if reopen:
                self._closed = False
            if not self.enabled or self._closed:
                return
            if self.proc is None or self.proc.poll() is not None:
                self.proc = self._start()

    def take(self, job_dir: Path, env: Mapping[str, str], cores: Sequence[int]) -> int | None:
        """Fork the job's process from the warm runtime; its pid, or None (start cold)."""
        self.fill()
        order = {"job_dir": str(job_dir), "env": dict(env), "cores": list(cores)}
        with self._lock:
            proc = self.proc
            if proc is None or proc.stdin is None or proc.poll() is not None:
                return None
            try:
                proc.stdin.write((json.dumps(order) + "\n").encode())
                proc.stdin.flush()
                answer = self._answers.get(timeout=TAKE_TIMEOUT)
            except (OSError, queue.Empty) as exc:
                log.warning("the warm runtime did not answer (%s); restarting it", exc)
                _stop(proc, kill=True)
                self.proc = None
                return None
            if "pid" not in answer:
                log.warning("the warm runtime could not start a job: %s", answer.get("error"))
                return None
            pid = int(answer["pid"])
            if not _child_of(pid, proc.pid):
                # The fork server runs as the job user: a pid it names is checked, so no
                # answer makes the executor watch or signal a process that is not its job.
                log.warning("the warm runtime named pid %s, not a child of its own; "
                            "restarting it", pid)
                _stop(proc, kill=True)
                self.proc = None
                return None
            return pid

    def exit_code(self, pid: int) -> tuple[bool, int | None]:
        """``(known, code)``: the exit code the fork server reported for ``pid`` (read
        once); ``known`` False while it may still report one (it has not yet reaped the
        child), True with ``code`` None when it never will (it ended before)."""
        with self._state:
            if pid in self._exits:
                return True, self._exits.pop(pid)
            if pid in self._children:
                return False, None
            return True, None

    def close(self) -> None:
        """Stop the fork server (closing its stdin ends it; the jobs it runs go on)."""
        with self._lock:
            self._closed = True
            proc, self.proc = self.proc, None
        if proc is not None:
            _stop(proc)


def _child_of(pid: int, parent: int) -> bool:
    """``pid`` is ``parent``'s child, or already gone (a job that failed at once)."""
    import psutil

    try:
        return bool(pid > 0 and psutil.Process(pid).ppid() == parent)
    except psutil.NoSuchProcess:
        return pid > 0
    except psutil.Error:
        return False


def _stop(proc: subprocess.Popen[bytes], kill: bool = False) -> None:
    """End the fork server (its reader thread closes its stdout at end of file)."""
    try:
        if kill:
            proc.kill()
        elif proc.stdin:
            proc.stdin.close()
        proc.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
