"""Subscribing to the audit log: deploys and pipelines react to what other parts did.

Every state change worth knowing about is an event row (``shipyard.store.EventLog``),
written in the same transaction as the change. The :class:`EventDispatcher` follows
that table and calls in-process subscribers for each new committed event, in order.
It polls the table rather than hooking commits, so it also sees events written by
other processes sharing the database (a second server, a CLI tool), and a
subscriber never sees an event whose change was rolled back. Other processes
follow the same log over HTTP with ``GET /api/v1/events?after_id=N``.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from shipyard.store import EventLog, EventRecord

log = logging.getLogger("shipyard.events")

Callback = Callable[[EventRecord], None]


@dataclass(frozen=True)
class Subscription:
    pattern: str
    callback: Callback


class EventDispatcher:
    """Calls subscribers for each new event whose kind matches their pattern.

    Patterns are shell-style: ``"model_version.status_changed"``, ``"model_version.*"``,
    ``"*"``. A subscriber that raises is logged and does not stop the others.
    """

    def __init__(self, events: EventLog, poll_interval: float = 0.5) -> None:
        self.events = events
        self.poll_interval = poll_interval
        self.after_id = events.latest_id()  # deliver what happens from now on
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, pattern: str, callback: Callback) -> Callable[[], None]:
        """Register ``callback`` for events matching ``pattern``; return an unsubscribe."""
        sub = Subscription(pattern, callback)
        with self._lock:
            self._subs.append(sub)

        def unsubscribe() -> None:
            with self._lock:
                if sub in self._subs:
                    self._subs.remove(sub)

        return unsubscribe

    def poll(self) -> int:
        """Deliver the events committed since the last poll; return how many were read."""
        batch = self.events.list(after_id=self.after_id, limit=1000)
        for event in batch:
            self.after_id = event.id
            with self._lock:
                subs = [s for s in self._subs if fnmatch.fnmatchcase(event.kind, s.pattern)]
            for sub in subs:
                try:
                    sub.callback(event)
                except Exception:  # noqa: BLE001 - one subscriber must not stop the rest
                    log.exception("event subscriber %r failed on %s #%d", sub.callback,
                                  event.kind, event.id)
        return len(batch)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="shipyard-events",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.poll() >= 1000:
                    pass
            except Exception:  # noqa: BLE001 - a database hiccup: try again next tick
                log.exception("reading the event log failed")
            self._stop.wait(self.poll_interval)
