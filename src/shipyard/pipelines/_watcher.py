"""The git watcher: a leader thread that reads each git trigger's branch head.

Every ``settings.git_poll_seconds`` (``SHIPYARD_GIT_POLL_SECONDS``, default 5 s) it runs
``git rev-parse`` on each git trigger's repository (``_git.head``) and hands a head other
than the trigger's ``state.last_commit`` to :meth:`TriggerService.poll_git`, which starts
its execution (key ``trigger:ID:commit:SHA``, the hook's key too) and records the head
with a compare-and-set. The last commit seen is in the store, not in this thread, so a
commit made while no server ran starts its execution at the first poll after; several
commits made meanwhile start one execution, for the newest (a hook reports each one).
"""

from __future__ import annotations

import logging
import threading

from shipyard.errors import ShipyardError
from shipyard.pipelines._triggers import TriggerService
from shipyard.store import ExecutionRecord

log = logging.getLogger("shipyard.pipelines")


class GitWatcher:
    """Polls the branch heads of git triggers on a thread of its own (leader only)."""

    def __init__(self, triggers: TriggerService, poll_seconds: float = 5.0) -> None:
        self.triggers = triggers
        self.poll_seconds = max(0.05, poll_seconds)
        #: The last problem logged per trigger, so a broken repository is logged once.
        self._problems: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[ExecutionRecord]:
        """Look at every enabled git trigger once; return the executions started."""
        started = []
        for trig in self.triggers.repo.triggers(kind="git"):
            if not trig.enabled:
                continue
            try:
                ex = self.triggers.poll_git(trig)
            except ShipyardError as exc:
                if self._problems.get(trig.id) != exc.message:
                    log.warning("git trigger %s of pipeline %s: %s", trig.id, trig.pipeline,
                                exc.message)
                    self._problems[trig.id] = exc.message
                continue
            self._problems.pop(trig.id, None)
            if ex is not None:
                log.info("git trigger %s started execution %s of pipeline %s for %s", trig.id,
                         ex.id, trig.pipeline, ex.trigger.get("commit"))
                started.append(ex)
        return started

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="shipyard-git-watcher",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a database hiccup: try again next tick
                log.exception("git watcher tick failed")
            self._stop.wait(self.poll_seconds)
