"""Authentication (an ASGI middleware) and authorisation (a per-route dependency).

Every path but ``/healthz`` and the sign-in form needs a valid bearer token; the
middleware turns a missing or unknown token into 401 before any route code runs, so no
route can forget. A browser's session cookie (``_session.py``) stands for a token on
``GET`` of the API docs and document only; a browser without one asking for the docs
page is sent to the sign-in form. Each route then declares the permission it needs
with :func:`permit`, which both enforces it and records it in the OpenAPI document
(``x-shipyard-permission``), so the route inventory test can check every route.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import Depends, Request

from shipyard.api._body import BodyGuard
from shipyard.api._invoke import InvocationPath
from shipyard.api._session import COOKIE, DOCS, SIGN_IN, SIGN_OUT, Sessions, cookie_allowed
from shipyard.errors import Forbidden, Unauthenticated
from shipyard.tokens import Principal, TokenService

if TYPE_CHECKING:  # pragma: no cover - the studio imports this package
    from shipyard.studio import StudioGate

#: Paths that answer without a token: liveness, and how a browser signs in (or out).
OPEN_PATHS = frozenset({"/healthz", SIGN_IN, SIGN_OUT})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_json(send: Callable[[Any], Awaitable[None]], status: int, body: dict[str, Any],
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(raw)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


class AuthMiddleware:
    def __init__(self, app: ASGIApp, tokens: Callable[[], TokenService],
                 body: BodyGuard | None = None,
                 invocations: InvocationPath | None = None,
                 sessions: Callable[[], Sessions | None] | None = None,
                 studio: StudioGate | None = None) -> None:
        self.app = app
        self.tokens = tokens
        self.body = body
        self.invocations = invocations
        self.sessions = sessions
        self.studio = studio

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self.studio is not None and self.studio.wants(scope["path"]):
            # The studio's own checks: host, session cookie, CSRF, security headers.
            who, send, handled = await self.studio(scope, headers, send)
            if handled:
                return
            if who is None:  # its sign-in page and one-time link
                await self.app(scope, receive, send)
                return
            await self._admitted(scope, receive, send, headers, who)
            return
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            # A cached token costs no thread hop: most requests of a busy client are these.
            # The cache lives in the TokenService, so a revocation here forgets it at once.
            tokens = self.tokens()
            hit, principal = tokens.cached(token.strip())
            if not hit:
                principal = await anyio.to_thread.run_sync(tokens.authenticate, token.strip())
        if principal is None and cookie_allowed(scope["method"], scope["path"]):
            principal = await self._session(headers)
            if principal is None and scope["path"] == DOCS and _wants_html(headers):
                await _send_redirect(send, SIGN_IN)
                return
        if principal is None:
            err = Unauthenticated(
                "A valid bearer token is required: send 'Authorization: Bearer <token>' "
                "(the admin token is in $SHIPYARD_HOME/credentials)."
            )
            await _send_json(send, 401, err.to_dict(), [(b"www-authenticate", b"Bearer")])
            return
        await self._admitted(scope, receive, send, headers, principal)

    async def _admitted(self, scope: Scope, receive: Any, send: Any,
                        headers: dict[bytes, bytes], principal: Principal) -> None:
        """An authenticated request: its body checked, then the invocation fast path or
        the app."""
        if self.body is not None:  # per-route body limits, read timeout, JSON checks
            guarded = await self.body.guard(scope, receive, send, headers)
            if guarded is None:
                return
            receive, send = guarded
        if self.invocations is not None and (name := self.invocations.match(scope)):
            await self.invocations(name, principal, headers, receive, send,
                                   scope.get("query_string") or b"")
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _session(self, headers: dict[bytes, bytes]) -> Principal | None:
        """The principal of a valid session cookie (docs GETs only; see ``_session.py``)."""
        sessions = self.sessions() if self.sessions is not None else None
        raw = headers.get(b"cookie", b"").decode("latin-1")
        value = next((v for k, _, v in (p.strip().partition("=") for p in raw.split(";"))
                      if k == COOKIE), None)
        if sessions is None or not value:
            return None
        return await anyio.to_thread.run_sync(sessions.check, value)


def _wants_html(headers: dict[bytes, bytes]) -> bool:
    return b"text/html" in headers.get(b"accept", b"")


async def _send_redirect(send: Callable[[Any], Awaitable[None]], location: str) -> None:
    await send({"type": "http.response.start", "status": 303, "headers": [
        (b"location", location.encode()), (b"content-length", b"0"),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b""})


def current_principal(request: Request) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:  # only reachable if the middleware was not installed
        raise Unauthenticated("A valid bearer token is required.")
    return principal


#: Where a job's own token may read: its own job's document, log, metrics, artifacts.
JOB_ROUTES = "/api/v1/jobs/"


def _job_in_path(request: Request) -> str | None:
    """The job id of a ``/api/v1/jobs/{job_id}…`` route (None on any other route)."""
    job_id = request.path_params.get("job_id")
    path = request.scope.get("path", "")
    own = f"{JOB_ROUTES}{job_id}"
    if isinstance(job_id, str) and (path == own or path.startswith(own + "/")):
        return job_id
    return None


def require(permission: str) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal.is_job:
            if principal.may_use_job(_job_in_path(request), permission):
                return principal
            raise Forbidden(
                f"A job's own token ({principal.name}) may only read its own job "
                f"(GET /api/v1/jobs/{principal.job_id}, its logs, metrics and artifacts); "
                "this route needs a user's token."
            )
        if not principal.can(permission):
            raise Forbidden(
                f"Token {principal.name!r} has role {principal.role!r}, which may not {permission} "
                f"here; ask an admin for a token with a role that may."
            )
        return principal

    dependency.__name__ = f"require_{permission}"
    return dependency


def permit(permission: str) -> dict[str, Any]:
    """Keyword arguments for a route decorator: enforce and document ``permission``."""
    return {
        "dependencies": [Depends(require(permission))],
        "openapi_extra": {"x-shipyard-permission": permission},
    }


def with_extra(kwargs: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``permit(...)``/``owned(...)`` arguments with more of the route's OpenAPI operation
    (e.g. a request body the route reads itself)."""
    return {**kwargs, "openapi_extra": {**kwargs.get("openapi_extra", {}), **extra}}
