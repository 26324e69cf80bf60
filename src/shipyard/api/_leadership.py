"""What only the leader control plane runs, and how followers send endpoint traffic to it.

Every control plane serves the API. The leader (``shipyard.store.Election``) also
runs its :class:`Duties`: the job supervisor with its startup recovery, the
endpoint supervisor, the schedules, the event subscribers (auto-deploy,
monitor harvests, pipeline triggers) and the git watcher of pipeline triggers.
A job's claim (Pending → Starting) is an atomic update either
way, so even a misbehaving replica could not start a job twice.

Endpoint instances are processes of the leader, and capture files and live job logs
lie in its home, so a follower forwards the requests that read them
(:data:`LEADER_ROUTES`: ``/api/v1/endpoints…`` with invocations, a monitor's run,
a job's log) to the leader's URL with the caller's own token: :class:`LeaderProxy`.
A request that was forwarded once is never forwarded again (``x-shipyard-forwarded``),
so two replicas that both think the other leads answer 503 instead of bouncing it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx
import psutil

from shipyard.api._body import answer
from shipyard.endpoints import AutoDeployer, EndpointSupervisor
from shipyard.errors import ServerUnavailable, ShipyardError
from shipyard.events import EventDispatcher
from shipyard.jobs import Supervisor
from shipyard.jobs import _states as job_states
from shipyard.jobs._executors._local import find_job_processes
from shipyard.pipelines import TRIGGER_EVENTS, GitWatcher, PipelineEngine
from shipyard.store import Election, LeaderInfo

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.api._context import Services

log = logging.getLogger("shipyard.server")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Requests a follower forwards to the leader, (method or None for any, path pattern):
#: what reads the leader's own home (instances, capture files, live job logs).
LEADER_ROUTES: tuple[tuple[str | None, re.Pattern[str]], ...] = (
    (None, re.compile(r"^/api/v1/endpoints(/|$)")),
    ("POST", re.compile(r"^/api/v1/monitors/[^/]+/executions$")),  # snapshots the capture
    ("GET", re.compile(r"^/api/v1/jobs/[^/]+/logs$")),  # a running job's log is there
)
FORWARDED = b"x-shipyard-forwarded"
#: How long a follower trusts what it read about the leader (seconds).
LEADER_CACHE_SECONDS = 1.0
#: Request headers not passed on (hop by hop, or set again by the client).
_DROP_REQUEST = frozenset({b"host", b"content-length", b"connection", b"keep-alive",
                           b"transfer-encoding", b"te", b"upgrade", b"expect"})
_DROP_ANSWER = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                          "date", "server", "content-encoding"})


class Duties:
    """Starts and stops what only the leader runs (``Election``'s two callbacks)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._used = False

    def start(self) -> None:
        svc = self.svc
        if self._used:  # this process led before: its stopped parts cannot start again
            renew(svc)
        else:  # deliver events from now on, not from when this server started
            svc.dispatcher = EventDispatcher(svc.events)
        self._used = True
        svc.supervisor.start()  # recovery of what a previous leader left, then the loop
        svc.dispatcher.subscribe("model_version.status_changed",
                                 AutoDeployer(svc.registry, svc.endpoints))
        svc.dispatcher.subscribe("job.status_changed", svc.monitors.on_job_event)
        svc.dispatcher.subscribe("job.status_changed", svc.registry.on_job_event)
        svc.dispatcher.subscribe("job.status_changed", svc.pipeline_engine.on_event)
        svc.dispatcher.subscribe("job.status_changed", svc.labeling.on_job_event)
        svc.dispatcher.subscribe("model_version.status_changed", svc.pipeline_engine.on_event)
        svc.dispatcher.subscribe("endpoint.*", svc.pipeline_engine.on_event)
        for kind in TRIGGER_EVENTS:  # approvals, monitor alerts, dataset versions
            svc.dispatcher.subscribe(kind, svc.pipeline_triggers.on_event)
        svc.dispatcher.start()
        svc.endpoint_supervisor.start()
        svc.scheduler.start()
        svc.pipeline_engine.start()
        svc.git_watcher.start()

    def stop(self) -> None:
        """Stop each part, even when another fails (the database may be what went away)."""
        svc = self.svc
        for part in (svc.git_watcher, svc.pipeline_engine, svc.scheduler,
                     svc.endpoint_supervisor, svc.dispatcher, svc.supervisor):
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - logged; the next part must still stop
                log.exception("stopping %s failed", type(part).__name__)


def renew(svc: Services) -> None:
    """Fresh, unstarted supervisors and dispatcher for a process that leads again."""
    svc.supervisor = Supervisor(svc.jobs, svc.settings)
    svc.endpoint_supervisor = EndpointSupervisor(svc.endpoints, svc.registry, svc.artifacts,
                                                 svc.settings)
    svc.dispatcher = EventDispatcher(svc.events)
    svc.pipeline_engine = PipelineEngine(svc.pipelines)
    svc.git_watcher = GitWatcher(svc.pipeline_triggers, svc.settings.git_poll_seconds)


def reap_orphans(svc: Services) -> int:
    """Kill job and endpoint processes a killed server of *this home* left running.

    Safe in any role: the home lock says no other live server owns this home. A job
    process is kept only while its job is still active with this machine's process
    recorded as its attempt's (the leader's recovery re-attaches it, so a job outlives
    a control-plane restart); one whose job ended, was retried elsewhere or is gone is
    an orphan nobody will harvest.
    """
    jobs_dir = svc.settings.jobs_dir
    dirs = {d for d in jobs_dir.iterdir() if d.is_dir()} if jobs_dir.is_dir() else set()
    found = find_job_processes(dirs) if dirs else {}
    host = socket.gethostname()
    procs = []
    for job_dir, processes in found.items():
        try:
            job = svc.jobs.repo.get(job_dir.name)
        except ShipyardError:
            job = None
        state = (job.handle or {}) if job is not None else {}
        keep = (job is not None and job.status in job_states.ACTIVE
                and state.get("host") == host)
        if not keep:
            procs.extend(processes)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            log.warning("killing orphan job process pid %d", proc.pid)
            proc.kill()
    psutil.wait_procs(procs, timeout=5)
    return len(procs) + svc.endpoint_supervisor.kill_orphans()


class LeaderProxy:
    """Forwards leader-only requests from a follower to the leader (see the module doc)."""

    def __init__(self, election: Callable[[], Election | None]) -> None:
        self.election = election
        self._client: httpx.AsyncClient | None = None
        self._cached: tuple[float, LeaderInfo | None] | None = None

    def should_forward(self, scope: Scope) -> bool:
        election = self.election()
        if election is None or election.leading:
            return False
        return any((method is None or method == scope["method"]) and rx.match(scope["path"])
                   for method, rx in LEADER_ROUTES)

    def _leader(self, election: Election) -> LeaderInfo | None:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > LEADER_CACHE_SECONDS:
            try:
                info = election.lock.leader()
            except Exception:  # noqa: BLE001 - the database is away: no leader known
                log.exception("finding the leader failed")
                info = None
            self._cached = (now, info)
        return self._cached[1]

    async def forward(self, scope: Scope, receive: Receive, send: Send,
                      body: bytes | None = None) -> None:
        """Send the request to the leader and its answer back (503 when there is none)."""
        election = self.election()
        headers = list(scope.get("headers") or [])
        try:
            if election is None:
                raise ServerUnavailable("This server is not running its supervisors yet.")
            if any(k == FORWARDED for k, _ in headers):
                raise ServerUnavailable(
                    "This request was forwarded to a control plane that does not lead; the "
                    "leader is changing. Retry in a few seconds.")
            info = self._leader(election)
            if info is None or not info.url:
                raise ServerUnavailable(
                    "No control plane leads right now (the leader went away and another is "
                    "taking over), so endpoints cannot be reached; retry in a few seconds.")
            if body is None:
                body = await _read(receive)
            answer_ = await self._send(info.url, scope, headers, body)
        except ServerUnavailable as exc:
            await answer(send, exc)
            return
        out = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in answer_.headers.items() if k.lower() not in _DROP_ANSWER]
        out += [(b"content-length", str(len(answer_.content)).encode()),
                (b"x-shipyard-leader", info.url.encode("latin-1"))]
        await send({"type": "http.response.start", "status": answer_.status_code,
                    "headers": out})
        await send({"type": "http.response.body", "body": answer_.content})

    async def _send(self, url: str, scope: Scope, headers: list[tuple[bytes, bytes]],
                    body: bytes) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0))
        target = url.rstrip("/") + scope["path"]
        query = scope.get("query_string") or b""
        if query:
            target += "?" + query.decode("latin-1")
        sent = [(k, v) for k, v in headers if k.lower() not in _DROP_REQUEST]
        sent.append((FORWARDED, b"1"))
        try:
            return await self._client.request(scope["method"], target, content=body,
                                              headers=sent)
        except httpx.HTTPError as exc:
            self._cached = None
            raise ServerUnavailable(
                f"The leader control plane at {url} did not answer ({type(exc).__name__}); "
                "retry in a few seconds.") from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ServerUnavailable("The client went away before its body was complete.")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class FollowerMiddleware:
    """The ASGI face of :class:`LeaderProxy`, inside the auth middleware."""

    def __init__(self, app: ASGIApp, proxy: LeaderProxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.proxy.should_forward(scope):
            await self.proxy.forward(scope, receive, send)
            return
        await self.app(scope, receive, send)
