"""The fast path of ``POST /api/v1/endpoints/{name}/invocations`` inside the ASGI stack.

Every prediction through the stable URL passes here, so the auth middleware hands
it over straight after authenticating, instead of going through FastAPI's router,
its dependency threads and a general HTTP client: the body is read with the
endpoint's payload cap, forwarded by :func:`shipyard.endpoints.invoke`, and the
instance's answer written back. The permission is the route's (``read``), and
errors leave in the API's usual ``{"error": {"code", "message"}}`` shape. The
documented FastAPI route runs the same function.

On a follower control plane (``shipyard.api._leadership``) the endpoint's instances
are the leader's, so :meth:`InvocationPath.match` declines and the request goes
down the app's stack to the follower middleware, which forwards it to the leader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from shipyard.endpoints import Forwarder, invoke
from shipyard.errors import Forbidden, ShipyardError
from shipyard.serving import DEFAULT_MAX_BODY_BYTES
from shipyard.serving._app import read_body
from shipyard.tokens import Principal

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.api._context import Services
    from shipyard.api._leadership import LeaderProxy
    from shipyard.store import EndpointRecord

PATH = re.compile(r"^/api/v1/endpoints/([^/]+)/invocations$")
PERMISSION = "read"

Send = Callable[[Any], Awaitable[None]]
Receive = Callable[[], Awaitable[Any]]


class InvocationPath:
    """Serve invocations of the stable URL; ``match`` says whether a request is one."""

    def __init__(self, services: Callable[[], Services], forwarder: Callable[[], Forwarder],
                 max_body: int = DEFAULT_MAX_BODY_BYTES,
                 proxy: LeaderProxy | None = None) -> None:
        self.services = services
        self.forwarder = forwarder
        self.max_body = max_body
        self.proxy = proxy

    def match(self, scope: dict[str, Any] | Any) -> str | None:
        """The endpoint name when ``scope`` is ``POST …/endpoints/{name}/invocations`` and
        this server runs the instances (None on a follower: the request is forwarded)."""
        if scope.get("method") != "POST":
            return None
        m = PATH.match(scope["path"])
        if m is None or (self.proxy is not None and self.proxy.should_forward(scope)):
            return None
        return m.group(1)

    async def __call__(self, name: str, principal: Principal, headers: dict[bytes, bytes],
                       receive: Receive, send: Send, query: bytes = b"") -> None:
        try:
            if not principal.can(PERMISSION):
                raise Forbidden(
                    f"Token {principal.name!r} has role {principal.role!r}, which may not "
                    f"{PERMISSION} here; ask an admin for a token with a role that may.")
            body = await read_body(receive, headers.get(b"content-length"), self.max_body)
            svc = self.services()
            answer = await invoke(svc.endpoint_supervisor, self.forwarder(), _finder(svc), name,
                                  body, headers.get(b"content-type", b""), query)
        except ShipyardError as exc:
            raw = json.dumps(exc.to_dict()).encode()
            await _respond(send, exc.http_status,
                           [(b"content-type", b"application/json")], raw)
            return
        await _respond(send, answer.status, answer.headers, answer.body)


def _finder(svc: Services) -> Callable[[str], Awaitable[EndpointRecord | None]]:
    async def find(name: str) -> EndpointRecord | None:
        return await anyio.to_thread.run_sync(svc.endpoints.repo.find, name)
    return find


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                   body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
