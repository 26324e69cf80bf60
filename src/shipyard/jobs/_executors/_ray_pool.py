"""The Ray executor's warm pool: idle job runners started before their jobs.

Most of a job's start on Ray was the creation of its actor (a new worker process that
imports Shipyard: 1.3-1.7 s of a 1-2.3 s start, traced). The pool keeps
``SHIPYARD_RAY_WARM_RUNNERS`` idle :class:`~._ray_worker.JobRunner` actors started
(detached, named ``shipyard-pool-<owner>-<id>`` in namespace ``shipyard``). A
launching job takes one and hands it its package (``JobRunner.assign``); a
replacement is started on a thread of its own. From then on the runner is that job's
actor, named in the job's handle state, and ends with the job.

Resources: Ray fixes an actor's resources when it creates it, and an idle runner does
not know its job yet. So an idle runner asks Ray for nothing (0 CPUs: it costs the
memory of one idle worker process, which Ray does not count), and the job that takes
it reserves its CPUs and memory on the runner's node (:func:`reserve`: a detached
placement group of one bundle, pinned with the ``ray.io/node-id`` label, named after
the runner), removed when the job is released. Ray counts the job's CPUs and memory
while it runs, as it does for a job's own actor, and an idle pool keeps no CPU from
other jobs. A job whose reservation does not fit on the runner's node at once goes
the cold way (an actor of its own, placed by Ray where it fits) and the runner stays
in the pool.

Owner: ``<owner>`` hashes this machine's name and the home folder. A control plane
that starts (:func:`reap`) kills the pool runners, and their reservations, that a
previous process of its home left behind, except those its recovery took back as
running jobs' actors; pools of other control planes on the same cluster are not its
to touch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("shipyard.jobs")

#: Every pool runner's name starts with this (then the owner, then a random id).
POOL_PREFIX = "shipyard-pool-"
#: A job's reservation is named after its runner, with this suffix.
RESERVATION_SUFFIX = "-reservation"
#: How long a job waits for its reservation on the runner's node before it goes cold.
RESERVE_WAIT = 0.5
#: How long a job with no idle runner waits for one being started for it.
TAKE_WAIT = 5.0
#: How long a new runner may take to start before it is given up.
START_TIMEOUT = 120.0


def pool_prefix(home: Path) -> str:
    """``shipyard-pool-<owner>-``: the names of this machine's and home's runners."""
    owner = f"{socket.gethostname()}\0{home.expanduser().resolve()}"
    return f"{POOL_PREFIX}{hashlib.sha256(owner.encode()).hexdigest()[:12]}-"


def reservation_name(runner: str) -> str:
    return runner + RESERVATION_SUFFIX


@dataclass(frozen=True)
class Runner:
    """An idle runner: its actor's name and handle, and the node it lives on."""

    name: str
    actor: Any
    node: str


def reserve(ray: Any, runner: Runner, cpus: int, memory_bytes: int) -> str | None:
    """Reserve ``cpus`` and ``memory_bytes`` on ``runner``'s node for its job.

    Returns:
        The reservation's name (a detached placement group, so it outlives a control-plane
        restart), or None when the node has no room within :data:`RESERVE_WAIT`.
    """
    from ray.util.placement_group import placement_group, remove_placement_group

    bundle = {k: float(v) for k, v in (("CPU", cpus), ("memory", memory_bytes)) if v > 0}
    name = reservation_name(runner.name)
    group = placement_group([bundle], strategy="STRICT_PACK", name=name, lifetime="detached",
                            bundle_label_selector=[{"ray.io/node-id": runner.node}])
    ready, _ = ray.wait([group.ready()], timeout=RESERVE_WAIT)
    if not ready:
        remove_placement_group(group)
        return None
    return name


def unreserve(name: str) -> None:
    """Remove the reservation ``name`` (gone already: nothing to do)."""
    from ray.util.placement_group import get_placement_group, remove_placement_group

    with contextlib.suppress(Exception):
        remove_placement_group(get_placement_group(name))


def reap(ray: Any, prefix: str, keep: Collection[str]) -> list[str]:
    """Kill the runners named ``prefix…`` but not in ``keep`` (actors that recovery took
    back), and remove their reservations: what a previous process of this home left.

    Returns:
        The names of the runners killed.
    """
    from shipyard.jobs._executors._ray import NAMESPACE

    killed = []
    for name in ray.util.list_named_actors():
        if not name.startswith(prefix) or name in keep:
            continue
        with contextlib.suppress(Exception):  # it ended meanwhile
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
            killed.append(name)
    try:  # a reservation may outlive its runner (a node lost while nobody watched)
        from ray.util.placement_group import placement_group_table

        groups = placement_group_table().values()
    except Exception:  # noqa: BLE001 - a developer API: fall back to the runners' own
        groups = [{"name": reservation_name(n), "state": "?"} for n in killed]
    for info in groups:
        name = str(info.get("name") or "")
        if (name.startswith(prefix) and info.get("state") != "REMOVED"
                and name.removesuffix(RESERVATION_SUFFIX) not in keep):
            unreserve(name)
    if killed:
        log.warning("killed %d idle or orphaned Ray job runners a previous server left: %s",
                    len(killed), ", ".join(killed))
    return killed


class RunnerPool:
    """Keeps ``size`` idle runners started (see the module docstring).

    Args:
        ray: the connected ``ray`` module.
        size: how many idle runners to keep.
        prefix: their names' start (:func:`pool_prefix`).
        create: starts the actor of a runner named so (returns its handle at once).
    """

    def __init__(self, ray: Any, size: int, prefix: str, create: Callable[[str], Any]) -> None:
        self.ray = ray
        self.size = size
        self.prefix = prefix
        self._create = create
        self._cond = threading.Condition()
        self._idle: list[Runner] = []
        #: Runners being started: name → actor (killed by close() too).
        self._starting: dict[str, Any] = {}
        #: Jobs waiting for one of those.
        self._waiters = 0
        self._closed = False

    @property
    def idle(self) -> list[str]:
        with self._cond:
            return [r.name for r in self._idle]

    def refill(self) -> None:
        """Start, each on a thread, the runners missing from ``size``."""
        with self._cond:
            if self._closed:
                return
            missing = self.size - len(self._idle) - len(self._starting)
            names = [f"{self.prefix}{uuid.uuid4().hex[:12]}" for _ in range(max(missing, 0))]
            for name in names:
                self._starting[name] = None
        for name in names:
            threading.Thread(target=self._start_one, args=(name,), daemon=True,
                             name="shipyard-ray-pool").start()

    def _start_one(self, name: str) -> None:
        actor = None
        try:
            actor = self._create(name)
            with self._cond:
                self._starting[name] = actor
                closed = self._closed
            if closed:
                raise RuntimeError("the pool closed")
            node = str(self.ray.get(actor.node.remote(), timeout=START_TIMEOUT))
        except Exception as exc:  # noqa: BLE001 - the next launch tries again
            with self._cond:
                closed = self._closed
            if not closed:
                log.warning("a warm Ray job runner could not start: %r", exc)
            if actor is not None:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor, no_restart=True)
            with self._cond:
                self._starting.pop(name, None)
                self._cond.notify_all()
            return
        with self._cond:
            self._starting.pop(name, None)
            keep = not self._closed
            if keep:
                self._idle.append(Runner(name, actor, node))
            self._cond.notify_all()
        if not keep:
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)

    def take(self, should_abort: Callable[[], bool], wait: float = TAKE_WAIT) -> Runner | None:
        """An idle runner; with none idle, one being started that no other job waits for
        (within ``wait`` s, so no slower than a new actor); else None (go cold)."""
        deadline = time.monotonic() + wait
        with self._cond:
            if self._closed or (not self._idle and len(self._starting) <= self._waiters):
                return None
            self._waiters += 1
        try:
            while True:
                with self._cond:
                    if self._idle:
                        return self._idle.pop(0)
                    if self._closed or not self._starting or time.monotonic() > deadline:
                        return None
                    self._cond.wait(0.05)
                if should_abort():
                    return None
        finally:
            with self._cond:
                self._waiters -= 1

    def put_back(self, runner: Runner) -> None:
        """A runner taken but not assigned (its job went the cold way)."""
        with self._cond:
            keep = not self._closed and len(self._idle) + len(self._starting) < self.size
            if keep:
                self._idle.insert(0, runner)
                self._cond.notify_all()
        if not keep:
            with contextlib.suppress(Exception):
                self.ray.kill(runner.actor, no_restart=True)

    def close(self) -> None:
        """Kill the idle runners and those being started."""
        with self._cond:
            self._closed = True
            actors = [r.actor for r in self._idle]
            actors += [a for a in self._starting.values() if a is not None]
            self._idle.clear()
            self._cond.notify_all()
        for actor in actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)
