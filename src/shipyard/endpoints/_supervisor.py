"""The endpoint supervisor: runs, watches and restarts the serving instances of endpoints.

Each instance is ``python -m shipyard.serving BUNDLE --port N ...`` in a session of
its own, logging to ``$SHIPYARD_HOME/endpoints/<name>/<instance>.log``. A deploy
runs on a thread of its own (materialise the bundle, start the instances, wait for
``/health``); one daemon thread then polls every instance about twice a second and
restarts one that died, with backoff. The proxy asks :meth:`EndpointSupervisor.pick`
for a healthy instance: in memory, never the database, so an invocation never waits
on the control plane's own work. It counts each instance's requests in flight
(:meth:`~EndpointSupervisor.release`) and each variant's invocations, errors and
latencies; shadow variants get a copy of each request (:meth:`pick_shadows`).

A rolling update (:meth:`EndpointSupervisor.update`) starts the new instances (one
bundle folder per model version, ``bundles/<group>-<version>``), waits until all
answer ``/health``, swaps the routing table under the lock, then drains the old ones
(no new requests; SIGTERM once their in-flight count is 0). If a new instance fails
its health check the new ones are stopped and the old ones keep serving. With an
``autoscaling`` spec the watcher adds an instance while requests in flight per
instance exceed ``target_concurrency`` and removes one (drained the same way) after
``cooldown_seconds`` without any.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from shipyard.artifacts import ArtifactStore
from shipyard.endpoints._probe import flush_captures, unseen_summary
from shipyard.endpoints._reasons import instance_failed
from shipyard.endpoints._service import (
    ACTIVE,
    CREATING,
    DELETING,
    FAILED,
    IN_SERVICE,
    UPDATING,
    EndpointService,
)
from shipyard.errors import NotFound, ShipyardError
from shipyard.registry import RegistryService
from shipyard.settings import Settings
from shipyard.store import EndpointRecord

log = logging.getLogger("shipyard.endpoints")

POLL_SECONDS = 0.5
#: How long an instance gets to answer /health after it starts.
START_TIMEOUT = float(os.environ.get("SHIPYARD_ENDPOINT_START_TIMEOUT", "120"))
#: How long instances get to exit on SIGTERM before SIGKILL.
STOP_GRACE = 5.0
MAX_BACKOFF = 10.0
#: The reason an endpoint gives when the control plane stopped in the middle of its update.
INTERRUPTED_UPDATE = ("The control plane stopped during an update; the endpoint came back on "
                      "its previous version. Run the update again.")
#: An instance healthy this long has its restart backoff reset.
STABLE_SECONDS = 60.0
#: How long a rolling update lets the old instances finish their requests in flight.
DRAIN_TIMEOUT = 30.0
#: Latency samples kept per variant for p50/p99.
LATENCY_WINDOW = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    """One serving process of an endpoint variant, as the supervisor sees it."""

    endpoint: str
    name: str
    variant: str
    model_group: str
    model_version: int
    bundle: Path
    log_path: Path
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None
    healthy: bool = False
    healthy_since: float | None = None
    restarts: int = 0
    failures: int = 0
    next_start: float | None = None
    invocations: int = 0
    #: Requests the proxy sent that have not been answered yet.
    inflight: int = 0
    #: Replaced by an update: no longer routed to, restarted or counted.
    retired: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "variant": self.variant, "url": self.url, "pid": self.pid,
                "healthy": self.healthy, "alive": self.alive(), "restarts": self.restarts,
                "invocations": self.invocations, "inflight": self.inflight,
                "model": f"{self.model_group}:{self.model_version}"}


class _Stats:
    """One variant's invocation counters and its recent latencies (seconds)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.invocations = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)

    def to_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float | None:
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3)
        return {"invocations": self.invocations, "errors": self.errors,
                "p50_ms": pct(0.5), "p99_ms": pct(0.99), "window": len(lat)}


def _model(v: dict[str, Any]) -> str:
    return f"{v['model_group']}:{v['model_version']}"


@dataclass
class _Live:
    """An endpoint whose instances this server runs."""

    name: str
    status: str
    spec: dict[str, Any]
    weights: dict[str, float] = field(default_factory=dict)
    shadow: set[str] = field(default_factory=set)
    #: The routing table: the instances invocations go to (swapped whole by an update).
    instances: list[Instance] = field(default_factory=list)
    deploying: bool = True
    removed: bool = False
    rr: dict[str, int] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    #: Autoscaling per variant: when it last scaled, since when it has been idle.
    scaled_at: dict[str, float] = field(default_factory=dict)
    idle_since: dict[str, float] = field(default_factory=dict)
    stats: dict[str, _Stats] = field(default_factory=dict)

    def route(self, spec: dict[str, Any]) -> None:
        """Take weights, shadows and stats from ``spec`` (caller holds the lock)."""
        variants = spec.get("variants", [])
        self.spec = spec
        self.weights = {v["name"]: float(v.get("weight", 1.0)) for v in variants}
        self.shadow = {v["name"] for v in variants if v.get("shadow")}
        stats = {}
        for v in variants:
            old = self.stats.get(v["name"])
            stats[v["name"]] = old if old is not None and old.model == _model(v) \
                else _Stats(_model(v))
        self.stats = stats


class EndpointSupervisor:
    def __init__(self, service: EndpointService, registry: RegistryService,
                 artifacts: ArtifactStore, settings: Settings) -> None:
        self.service = service
        self.repo = service.repo
        self.registry = registry
        self.artifacts = artifacts
        self.settings = settings
        self.root = settings.home / "endpoints"
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=1.0)
        service.supervisor = self

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Kill instances a killed server left behind, then bring active endpoints back."""
        if self._thread is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.kill_orphans()
        for rec in self.repo.list():
            if rec.status == DELETING:
                shutil.rmtree(self.root / rec.name, ignore_errors=True)
                with contextlib.suppress(NotFound):
                    self.repo.delete(rec.name, None)
            elif rec.status == UPDATING:
                # The update's new instances died with the server; the spec is still the
                # previous one, so the endpoint comes back on it, and says so.
                self.deploy(self.repo.update(
                    rec.name, status=CREATING, reason=INTERRUPTED_UPDATE,
                    event="endpoint.update_failed"))
            elif rec.status in ACTIVE:
                self.deploy(rec)
        self._thread = threading.Thread(target=self._loop, name="shipyard-endpoints",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """On server shutdown: stop every instance (their endpoints start again next time)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            lives = list(self._live.values())
            for live in lives:
                live.removed = True
            self._live.clear()
        _stop_all([i for live in lives for i in live.instances])
        for t in list(self._threads):
            t.join(timeout=10)
        self._http.close()

    def kill_orphans(self) -> int:
        """Kill serving processes whose bundle lies under this home's endpoints folder."""
        prefix = str(self.root) + os.sep
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            cmd = proc.info.get("cmdline") or []
            if "shipyard.serving" in cmd and any(a.startswith(prefix) for a in cmd):
                found.append(proc)
        for proc in found:
            with contextlib.suppress(psutil.Error):
                log.warning("killing orphan endpoint instance pid %d", proc.pid)
                proc.terminate()
        _, alive = psutil.wait_procs(found, timeout=STOP_GRACE)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=STOP_GRACE)
        return len(found)

    # -- deploy and remove -----------------------------------------------------------------
    def deploy(self, rec: EndpointRecord) -> None:
        """Start deploying ``rec`` on a thread of its own."""
        live = _Live(rec.name, rec.status, rec.spec)
        live.route(rec.spec)
        with self._lock:
            old = self._live.get(rec.name)
            if old is not None:
                old.removed = True
            self._live[rec.name] = live
        if old is not None:
            _stop_all(old.instances)
        t = threading.Thread(target=self._deploy, args=(rec, live),
                             name=f"shipyard-deploy-{rec.name}", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _start_instances(self, live: _Live, spec: dict[str, Any],
                         into: list[Instance]) -> bool:
        """Materialise bundles and launch ``spec``'s instances into ``into`` (False: removed)."""
        folder = self.root / live.name
        for v in spec.get("variants", []):
            group, version = v["model_group"], int(v["model_version"])
            bundle = folder / "bundles" / f"{group}-{version}"
            done = folder / "bundles" / f"{group}-{version}.ok"
            if not done.exists():
                self._materialise(group, version, bundle)
                done.touch()
            for _ in range(int(v.get("instances", 1))):
                with self._lock:
                    if live.removed:
                        return False
                    n = live.seq.get(v["name"], 0) + 1
                    live.seq[v["name"]] = n
                    inst = Instance(live.name, f"{v['name']}-{n}", v["name"], group, version,
                                    bundle, folder / f"{v['name']}-{n}.log")
                    into.append(inst)
                    self._launch(inst, spec)
        return True

    def _deploy(self, rec: EndpointRecord, live: _Live) -> None:
        try:
            if not self._start_instances(live, rec.spec, live.instances):
                return
            problem = self._wait_healthy(live, live.instances)
        except ShipyardError as exc:
            problem = exc.message
        except Exception as exc:  # noqa: BLE001 - recorded as the endpoint's failure
            log.exception("deploying endpoint %s failed", rec.name)
            problem = f"Deploying failed: {type(exc).__name__}: {exc}"
        if live.removed:
            return
        try:
            if problem is None:
                with self._lock:
                    live.deploying = False
                    live.status = IN_SERVICE
                if self.repo.get(rec.name).status != IN_SERVICE:
                    self.repo.update(rec.name, status=IN_SERVICE, reason=rec.reason)
                log.warning("endpoint %s is InService", rec.name)
                return
            with self._lock:
                live.removed = True
                if self._live.get(rec.name) is live:
                    del self._live[rec.name]
            _stop_all(live.instances)
            self.repo.update(rec.name, status=FAILED, reason=problem)
            log.warning("endpoint %s failed: %s", rec.name, problem)
        except NotFound:  # deleted meanwhile
            return

    def _materialise(self, group: str, version: int, bundle: Path) -> None:
        """Write verified copies of the version's bundle files into ``bundle``."""
        rec = self.registry.get(group, version)
        root = bundle.resolve()
        for entry in rec.bundle.get("files", []):
            target = (root / entry["path"]).resolve()
            if not target.is_relative_to(root):
                raise ShipyardError(f"Refusing the unsafe bundle file path {entry['path']!r}.")
            self.artifacts.copy_to(entry["sha256"], target)

    def _launch(self, inst: Instance, spec: dict[str, Any]) -> None:
        """Start ``inst``'s process on a new free port (caller holds the lock)."""
        inst.port = free_port()
        inst.healthy = False
        inst.healthy_since = None
        inst.next_start = None
        capture = self.root / inst.endpoint / "capture"
        cmd = [sys.executable, "-m", "shipyard.serving", str(inst.bundle),
               "--host", "127.0.0.1", "--port", str(inst.port),
               "--variant", inst.variant, "--model-group", inst.model_group,
               "--model-version", str(inst.model_version),
               "--instance", f"{inst.endpoint}-{inst.name}",
               "--capture-dir", str(capture),
               "--capture-percent", str(spec.get("capture_percent", 0.0)),
               "--unseen-categories", str(spec.get("unseen_categories") or "warn")]
        inst.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(inst.log_path, "ab") as out:
            out.write(f"--- starting {inst.name} on port {inst.port} at "
                      f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            out.flush()
            inst.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          cwd=str(inst.log_path.parent))

    def _probe(self, inst: Instance) -> bool:
        try:
            return self._http.get(inst.url + "/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait_healthy(self, live: _Live, instances: list[Instance]) -> str | None:
        """None once every instance answers /health; else why not."""
        deadline = time.monotonic() + START_TIMEOUT
        pending = list(instances)
        while pending:
            if live.removed or self._stop.is_set():
                return "The server stopped while the endpoint was starting."
            for inst in list(pending):
                if not inst.alive():
                    code = inst.popen.poll() if inst.popen else None
                    return instance_failed(inst.name, f"exited with code {code} before it "
                                           "was healthy", inst.log_path)
                if self._probe(inst):
                    with self._lock:
                        inst.healthy = True
                        inst.healthy_since = time.monotonic()
                    pending.remove(inst)
            if pending and time.monotonic() > deadline:
                inst = pending[0]
                return instance_failed(inst.name, f"did not answer /health within "
                                       f"{START_TIMEOUT:.0f} s", inst.log_path)
            if pending:
                time.sleep(0.1)
        return None

    # -- rolling updates ------------------------------------------------------------------
    def update(self, name: str, spec: dict[str, Any], actor: str | None) -> None:
        """Roll ``name`` over to ``spec`` on a thread of its own (see :meth:`_update`)."""
        with self._lock:
            live = self._live.get(name)
            if live is None or live.removed:
                raise NotFound(f"Endpoint {name!r} is not running on this server.")
            live.status = UPDATING
        t = threading.Thread(target=self._update, args=(live, spec, actor),
                             name=f"shipyard-update-{name}", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _update(self, live: _Live, spec: dict[str, Any], actor: str | None) -> None:
        """Start the new instances; once all are healthy swap the routing table, then drain.

        If any new instance fails its health check the new ones are stopped and the old
        ones go on serving (``endpoint.update_failed``, with the reason on the endpoint).
        """
        new: list[Instance] = []
        try:
            problem = (self._wait_healthy(live, new)
                       if self._start_instances(live, spec, new)
                       else "The endpoint was removed during the update.")
        except ShipyardError as exc:
            problem = exc.message
        except Exception as exc:  # noqa: BLE001 - recorded as the update's failure
            log.exception("updating endpoint %s failed", live.name)
            problem = f"Updating failed: {type(exc).__name__}: {exc}"
        if problem is not None:
            _stop_all(new)
            with self._lock:
                if live.removed:
                    return
                live.status = IN_SERVICE
            log.warning("update of endpoint %s failed: %s", live.name, problem)
            with contextlib.suppress(NotFound):
                self.repo.update(live.name, status=IN_SERVICE, actor=actor,
                                 reason=f"The update failed and was rolled back: {problem}",
                                 event="endpoint.update_failed", target=spec)
            return
        with self._lock:
            if live.removed:
                old: list[Instance] = []
            else:
                old = live.instances
                for inst in old:
                    inst.retired = True
                live.instances = new
                live.route(spec)
                live.status = IN_SERVICE
        if live.removed:
            _stop_all(new)
            return
        with contextlib.suppress(NotFound):
            self.repo.update(live.name, status=IN_SERVICE, spec=spec, actor=actor,
                             event="endpoint.updated", spec_after=spec)
        log.warning("endpoint %s updated; draining %d old instances", live.name, len(old))
        self._drain(old)

    def _drain(self, old: list[Instance]) -> None:
        """Wait for the requests in flight to ``old`` to finish (up to a limit), stop them."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while any(i.inflight > 0 for i in old) and time.monotonic() < deadline:
            time.sleep(0.05)
        _stop_all(old)

    def remove(self, name: str) -> None:
        """Stop ``name``'s instances and remove its folder (the row is the caller's)."""
        with self._lock:
            live = self._live.pop(name, None)
            if live is not None:
                live.removed = True
        if live is not None:
            _stop_all(live.instances)
        shutil.rmtree(self.root / name, ignore_errors=True)

    # -- watching ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the watcher must keep running
                log.exception("endpoint supervisor tick failed")

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            lives = [x for x in self._live.values() if not x.deploying and not x.removed]
        for live in lives:
            for inst in list(live.instances):
                self._watch(live, inst, now)
            if live.spec.get("autoscaling") and live.status == IN_SERVICE:
                self._autoscale(live, live.spec["autoscaling"], now)

    # -- autoscaling ------------------------------------------------------------------------
    def _autoscale(self, live: _Live, auto: dict[str, Any], now: float) -> None:
        """Scale each production variant by its requests in flight per instance.

        Out (one instance at a time, once the last one is healthy) while the load is
        above ``target_concurrency`` per instance; in (one at a time) after the variant
        has had nothing in flight for ``cooldown_seconds``.
        """
        lo, hi = int(auto["min_instances"]), int(auto["max_instances"])
        target, cooldown = float(auto["target_concurrency"]), float(auto["cooldown_seconds"])
        for v in live.spec.get("variants", []):
            if v.get("shadow"):
                continue
            name = v["name"]
            with self._lock:
                insts = [i for i in live.instances if i.variant == name]
                load = sum(i.inflight for i in insts)
                settled = all(i.healthy for i in insts)
            if load > 0:
                live.idle_since.pop(name, None)
            else:
                live.idle_since.setdefault(name, now)
            if load > target * len(insts) and len(insts) < hi and settled:
                self._scale_out(live, v)
                live.scaled_at[name] = now
            elif (load == 0 and len(insts) > lo and settled
                  and now - live.idle_since[name] >= cooldown
                  and now - live.scaled_at.get(name, 0.0) >= cooldown):
                self._scale_in(live, insts[-1])
                live.scaled_at[name] = now

    def _scale_out(self, live: _Live, v: dict[str, Any]) -> None:
        group, version = v["model_group"], int(v["model_version"])
        folder = self.root / live.name
        with self._lock:
            if live.removed:
                return
            n = live.seq.get(v["name"], 0) + 1
            live.seq[v["name"]] = n
            inst = Instance(live.name, f"{v['name']}-{n}", v["name"], group, version,
                            folder / "bundles" / f"{group}-{version}",
                            folder / f"{v['name']}-{n}.log")
            self._launch(inst, live.spec)
            live.instances = [*live.instances, inst]  # routed once /health answers
            count = sum(1 for i in live.instances if i.variant == v["name"])
        log.warning("endpoint %s variant %s scales out to %d", live.name, v["name"], count)
        with contextlib.suppress(ShipyardError):
            self.repo.record(live.name, "endpoint.scaled_out", variant=v["name"],
                             instance=inst.name, instances=count)

    def _scale_in(self, live: _Live, inst: Instance) -> None:
        with self._lock:
            inst.retired = True
            live.instances = [i for i in live.instances if i is not inst]
            count = sum(1 for i in live.instances if i.variant == inst.variant)
        log.warning("endpoint %s variant %s scales in to %d", live.name, inst.variant, count)
        t = threading.Thread(target=self._drain, args=([inst],),
                             name=f"shipyard-drain-{live.name}", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()
        with contextlib.suppress(ShipyardError):
            self.repo.record(live.name, "endpoint.scaled_in", variant=inst.variant,
                             instance=inst.name, instances=count)

    def _watch(self, live: _Live, inst: Instance, now: float) -> None:
        if inst.retired:
            return
        if inst.alive():
            if inst.healthy:
                if inst.failures and inst.healthy_since and now - inst.healthy_since > \
                        STABLE_SECONDS:
                    inst.failures = 0
            elif self._probe(inst):
                with self._lock:
                    inst.healthy = True
                    inst.healthy_since = now
                log.warning("endpoint %s instance %s is healthy again", live.name, inst.name)
            return
        if inst.next_start is None:  # just died
            code = inst.popen.poll() if inst.popen else None
            with self._lock:
                inst.healthy = False
                inst.failures += 1
                inst.next_start = now + min(0.25 * 2 ** (inst.failures - 1), MAX_BACKOFF)
            log.warning("endpoint %s instance %s (pid %s) exited with %s; restarting",
                        live.name, inst.name, inst.pid, code)
            with contextlib.suppress(ShipyardError):
                self.repo.record(live.name, "endpoint.instance_exited", instance=inst.name,
                                 pid=inst.pid, exit_code=code)
            return
        if now < inst.next_start:
            return
        with self._lock:
            if live.removed or inst.retired:
                return
            inst.restarts += 1
            self._launch(inst, live.spec)
        with contextlib.suppress(ShipyardError):
            self.repo.record(live.name, "endpoint.instance_restarted", instance=inst.name,
                             pid=inst.pid, restarts=inst.restarts)

    # -- the hot path -----------------------------------------------------------------------
    def status(self, name: str) -> str | None:
        """The endpoint's status as this server runs it (None: it runs no instances)."""
        live = self._live.get(name)
        return None if live is None or live.removed else live.status

    def pick(self, name: str) -> Instance | None:
        """A healthy production instance of ``name`` (weighted across variants, round robin
        within); its in-flight count is raised until :meth:`release`."""
        with self._lock:
            live = self._live.get(name)
            if live is None or live.removed:
                return None
            by_variant: dict[str, list[Instance]] = {}
            for inst in live.instances:
                if inst.healthy and inst.variant not in live.shadow:
                    by_variant.setdefault(inst.variant, []).append(inst)
            if not by_variant:
                return None
            names = list(by_variant)
            if len(names) == 1:
                variant = names[0]
            else:
                weights = [max(live.weights.get(n, 1.0), 0.0) for n in names]
                variant = random.choices(  # noqa: S311 - a traffic split, not a secret
                    names, weights=weights if sum(weights) else None)[0]
            return self._take(live, variant, by_variant[variant])

    def pick_shadows(self, name: str) -> list[Instance]:
        """One healthy instance of each shadow variant of ``name`` (each gets a copy)."""
        with self._lock:
            live = self._live.get(name)
            if live is None or live.removed or not live.shadow:
                return []
            out = []
            for variant in sorted(live.shadow):
                pool = [i for i in live.instances if i.healthy and i.variant == variant]
                if pool:
                    out.append(self._take(live, variant, pool))
            return out

    @staticmethod
    def _take(live: _Live, variant: str, pool: list[Instance]) -> Instance:
        k = live.rr.get(variant, 0)
        live.rr[variant] = k + 1
        inst = pool[k % len(pool)]
        inst.invocations += 1
        inst.inflight += 1
        return inst

    def release(self, inst: Instance, status_code: int | None, seconds: float) -> None:
        """The proxy's request to ``inst`` ended (``status_code`` None: unreachable)."""
        with self._lock:
            inst.inflight = max(0, inst.inflight - 1)
            live = self._live.get(inst.endpoint)
            stats = live.stats.get(inst.variant) if live is not None else None
            if stats is None or stats.model != f"{inst.model_group}:{inst.model_version}":
                return
            stats.invocations += 1
            if status_code is None or status_code >= 500:
                stats.errors += 1
            else:
                stats.latencies.append(seconds)

    def stats(self, name: str) -> dict[str, dict[str, Any]]:
        """Per variant: invocations, errors and p50/p99 latency over the recent window."""
        with self._lock:
            live = self._live.get(name)
            if live is None:
                return {}
            return {k: v.to_dict() for k, v in live.stats.items()}

    def latencies(self, name: str) -> dict[str, list[float]]:
        """Per variant: the latencies (ms) of its recent answered requests, oldest first
        (the window p50/p99 are computed over)."""
        with self._lock:
            live = self._live.get(name)
            if live is None:
                return {}
            return {k: [round(s * 1000, 3) for s in v.latencies] for k, v in live.stats.items()}

    def capture_dir(self, name: str) -> Path:
        return self.root / name / "capture"

    def _running(self, name: str, healthy: bool = False) -> list[Instance]:
        with self._lock:
            live = self._live.get(name)
            if live is None or live.removed:
                return []
            return [i for i in live.instances if not healthy or i.healthy]

    def flush_capture(self, name: str) -> list[str]:
        """Have every running instance of ``name`` write its captured rows now."""
        return flush_captures(self._running(name), self._http)

    def unseen(self, name: str) -> dict[str, Any]:
        """Categories the model never saw, as the healthy instances of ``name`` counted them."""
        return unseen_summary(self._running(name, healthy=True), self._http)

    def mark_unhealthy(self, inst: Instance) -> None:
        """The proxy could not reach ``inst``: take it out of rotation until it answers."""
        with self._lock:
            inst.healthy = False

    def snapshot(self, name: str) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            live = self._live.get(name)
            if live is None:
                return {}
            out: dict[str, list[dict[str, Any]]] = {}
            for inst in live.instances:
                out.setdefault(inst.variant, []).append(inst.to_dict())
            return out


def _stop_all(instances: list[Instance]) -> None:
    """SIGTERM every instance's process group, wait a grace, SIGKILL what is left."""
    procs = [i.popen for i in instances if i.popen is not None]
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)
    for i in instances:
        i.healthy = False
