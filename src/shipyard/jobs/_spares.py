"""Warm runtimes ("spares") for built-in jobs: started ahead, each runs one job.

See :mod:`shipyard.runtime._spare` for the process side. The pool keeps one spare
of the server's own interpreter ready while idle, and one more for each job a spare
is running, up to ``most`` (``SHIPYARD_WARM_RUNTIMES``): taking one starts the next
ones in the background, so back-to-back jobs, and jobs that run side by side such as
a tuning job's trials, all start warm. Spares beyond what is needed once those jobs
have ended are stopped when the next job takes one (an idle spare holds ~170 MB).

When jobs run as the job user (a root server, :mod:`shipyard.jobs._identity`), the
spares are started as that user, so the job one takes never had the server's privileges.
"""

from __future__ import annotations

import json
import logging
import os
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
#: known; the spare keeps them at one thread and the job pins its threads to its cores.
_SPARE_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def spare_command_line(python: str = sys.executable) -> list[str]:
    return [python, "-m", "shipyard.runtime", "--spare"]


class SparePool:
    def __init__(self, log_dir: Path, enabled: bool = True,
                 user: JobUser | None = None, most: int = 2) -> None:
        self.log_dir = log_dir
        self.enabled = enabled
        self.user = user
        self.most = max(1, most)
        #: Ready (or still warming up) spares, the oldest first.
        self._spares: list[subprocess.Popen[bytes]] = []
        #: Spares handed a job: while they run, the pool keeps one more spare each.
        self._running: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._closed = False

    def _wanted(self) -> int:
        self._running = [p for p in self._running if p.poll() is None]
        return min(self.most, 1 + len(self._running))

    def _start(self) -> subprocess.Popen[bytes] | None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
        env.update(_SPARE_THREADS)
        drop: dict[str, Any] = {}
        if self.user is not None:
            drop = {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
            env["HOME"] = "/"  # not the server's home folder; the job sets its own
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.log_dir / "spare.log", "ab") as out:
                return subprocess.Popen(
                    spare_command_line(), stdin=subprocess.PIPE, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True, env=env,
                    cwd=self.log_dir, **drop,
                )
        except OSError as exc:
            log.warning("could not start a warm runtime: %s", exc)
            return None

    def fill(self, reopen: bool = False) -> None:
        """Start spares until as many as wanted are starting or ready, and stop the ones
        beyond that (no-op when disabled or closed).

        ``reopen``: a pool closed when its server stopped leading serves again.
        """
        extra: list[subprocess.Popen[bytes]] = []
        with self._lock:
            if reopen:
                self._closed = False
            if not self.enabled or self._closed:
                return
            self._spares = [p for p in self._spares if p.poll() is None]
            wanted = self._wanted()
            while len(self._spares) < wanted:
                spare = self._start()
                if spare is None:
                    break
                self._spares.append(spare)
            if len(self._spares) > wanted:  # the newest go: the oldest are the warmest
                self._spares, extra = self._spares[:wanted], self._spares[wanted:]
        for spare in extra:
            _stop(spare)

    def take(self, job_dir: Path, env: Mapping[str, str],
             cores: Sequence[int]) -> subprocess.Popen[bytes] | None:
        """Hand a job to the ready spare; None if there is none (start cold then)."""
        with self._lock:
            alive = [p for p in self._spares if p.poll() is None]
            spare = alive[0] if alive else None
            self._spares = alive[1:]
            if spare is not None:
                self._running.append(spare)
        if spare is None or spare.stdin is None:
            self._refill_later()
            return None
        order = {"job_dir": str(job_dir), "env": dict(env), "cores": list(cores)}
        try:
            spare.stdin.write((json.dumps(order) + "\n").encode())
            spare.stdin.close()
        except OSError:
            spare.kill()
            spare.wait()
            self._refill_later()
            return None
        self._refill_later()
        return spare

    def _refill_later(self) -> None:
        threading.Thread(target=self.fill, name="shipyard-spare", daemon=True).start()

    def close(self) -> None:
        """Stop the idle spares (closing its stdin makes a spare exit at once)."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
        for spare in spares:
            _stop(spare)


def _stop(spare: subprocess.Popen[bytes]) -> None:
    """End an idle spare: closing its stdin makes it exit at once."""
    if spare.poll() is not None:
        return
    try:
        if spare.stdin:
            spare.stdin.close()
        spare.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        spare.kill()
        spare.wait()
