"""The job's heartbeat: a file the runtime touches every few seconds while the job runs.

A daemon thread, so it beats while the job's own code works; it stops when the
process is stopped (SIGSTOP), hangs in the kernel, or dies, and the executor,
which reads the file's time, then counts the job as lost once it has been silent
for the server's heartbeat timeout. Standard library only.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from shipyard.runtime import _contract as c


class Heartbeat:
    """Touches ``path`` now and every ``every`` seconds until :meth:`stop`."""

    def __init__(self, path: Path, every: float = c.HEARTBEAT_SECONDS) -> None:
        self.path = path
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipyard-heartbeat",
                                        daemon=True)

    def beat(self) -> None:
        with contextlib.suppress(OSError):  # a folder being cleaned up: nothing to report to
            self.path.touch()

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()
