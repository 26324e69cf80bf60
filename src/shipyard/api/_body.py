"""Request bodies: a size limit per route, a read timeout, and JSON checked once for all routes.

The auth middleware hands every authenticated request to :meth:`BodyGuard.guard`
before any route (or the invocation fast path) sees it:

- **Limits by route.** :class:`RouteLimits` is a table built from the app's own
  OpenAPI document, so a route added later gets a limit without anyone listing it:
  a route that takes ``multipart/form-data`` is an upload (``max_upload_bytes``),
  the invocation URL takes its endpoint's cap, a few routes have their own entry
  in :data:`OVERRIDES` (a job spec carries a script of up to 10 MB), the studio's
  uploads (not in the document: a ``POST`` to ``/studio/…/upload``,
  :data:`STUDIO_UPLOAD`) take ``max_upload_bytes`` too, and every other route takes
  JSON up to ``max_json_bytes``. The limit is checked against
  ``Content-Length`` before a byte is read, and again while the body streams
  (chunked bodies have no length to check): 413 at the first byte past it, so a
  200 MB spec is never buffered.
- **A read timeout.** A body that sends nothing for ``body_timeout`` seconds is
  answered 408 (a 1 GiB ``Content-Length`` with 10 bytes behind it used to hold a
  worker forever).
- **JSON checked once.** A JSON route's body is read here (it is small), checked
  by :func:`shipyard.safejson.loads` (depth, number range, NaN/Infinity, lone
  surrogates, NUL) and replayed to the route, so no route can forget and no client
  mistake in JSON reaches a 500.

Uploads and invocations are not buffered here: their ``receive`` is wrapped to
count and time the bytes as the route reads them. When a limit or the timeout
strikes mid-stream, the error is answered at once, the route sees the client as
disconnected, and whatever it still tries to send is dropped.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from shipyard import safejson
from shipyard.errors import InvalidRequest, PayloadTooLarge, RequestTimeout, ShipyardError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON, UPLOAD, INVOCATION = "json", "upload", "invocation"
MIB = 1024**2
#: Routes whose limit is not their kind's default: (method, OpenAPI path) → bytes.
OVERRIDES: dict[tuple[str, str], int] = {
    # A job spec carries a script of up to 10 MB (jobs._spec.MAX_SCRIPT_BYTES) as one JSON
    # string, which escaping can grow.
    ("POST", "/api/v1/jobs"): 16 * MIB,
}
INVOCATIONS = ("POST", "/api/v1/endpoints/{name}/invocations")
#: The studio's pages are not in the OpenAPI document: a studio POST whose path ends in
#: ``/upload`` takes a file (multipart) and gets the upload limit; every other studio
#: request gets the JSON limit (its forms are small).
STUDIO_UPLOAD = re.compile(r"^/studio/.+/upload$")
#: A declared body at most this much over its limit is read (and dropped) before the 413.
DRAIN_BYTES = 8 * MIB
_DISCONNECT: Message = {"type": "http.disconnect"}


@dataclass(frozen=True)
class RouteLimit:
    """How one route's body is read: ``kind`` (json, upload, invocation) and ``limit`` bytes."""

    method: str
    path: str
    kind: str
    limit: int


def _regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    out = "".join(
        ("(.+)" if p.endswith(":path}") else "([^/]+)") if p.startswith("{") else re.escape(p)
        for p in parts)
    return re.compile(f"^{out}$")


class RouteLimits:
    """The body limit of every route, from the app's OpenAPI document (built on first use)."""

    def __init__(self, openapi: Callable[[], dict[str, Any]], *, json_limit: int,
                 upload_limit: int, invocation_limit: int) -> None:
        self._openapi = openapi
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.invocation_limit = invocation_limit
        self._table: list[tuple[re.Pattern[str], RouteLimit]] | None = None
        self._seen: dict[tuple[str, str], RouteLimit] = {}

    def table(self) -> list[RouteLimit]:
        return [limit for _, limit in self._routes()]

    def _routes(self) -> list[tuple[re.Pattern[str], RouteLimit]]:
        if self._table is None:
            rows = []
            for path, ops in self._openapi().get("paths", {}).items():
                for method, op in ops.items():
                    method = method.upper()
                    content = (op.get("requestBody") or {}).get("content", {})
                    if (method, path) == INVOCATIONS:
                        kind, limit = INVOCATION, self.invocation_limit
                    elif "multipart/form-data" in content:
                        kind, limit = UPLOAD, self.upload_limit
                    else:
                        kind, limit = JSON, self.json_limit
                    limit = OVERRIDES.get((method, path), limit)
                    rows.append((_regex(path), RouteLimit(method, path, kind, limit)))
            # Literal segments win over parameters (/jobs/x before /jobs/{id}).
            rows.sort(key=lambda r: r[1].path.count("{"))
            self._table = rows
        return self._table

    def find(self, method: str, path: str) -> RouteLimit:
        key = (method, path)
        hit = self._seen.get(key)
        if hit is not None:
            return hit
        found = next((limit for regex, limit in self._routes()
                      if limit.method == method and regex.match(path)), None)
        if found is None and method == "POST" and STUDIO_UPLOAD.match(path):
            found = RouteLimit(method, path, UPLOAD, self.upload_limit)
        if found is None:
            found = RouteLimit(method, path, JSON, self.json_limit)
        if len(self._seen) > 4096:  # paths carry names: keep the memo bounded
            self._seen.clear()
        self._seen[key] = found
        return found


def _content_type(headers: dict[bytes, bytes]) -> str:
    return headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()


def _is_json(ctype: str) -> bool:
    return ctype == "application/json" or ctype.endswith("+json")


async def answer(send: Send, exc: ShipyardError, *, close: bool = False) -> None:
    """Send ``exc`` as the API's JSON error (``close``: the body was not read to its end)."""
    raw = json.dumps(exc.to_dict()).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(raw)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


class BodyGuard:
    """Applies :class:`RouteLimits`, the read timeout and the JSON check to a request."""

    def __init__(self, limits: RouteLimits, timeout: Callable[[], float]) -> None:
        self.limits = limits
        self.timeout = timeout

    async def guard(self, scope: Scope, receive: Receive, send: Send,
                    headers: dict[bytes, bytes]) -> tuple[Receive, Send] | None:
        """``(receive, send)`` for the app, or None when the request was answered here."""
        route = self.limits.find(scope["method"], scope["path"])
        try:
            _check_url(scope)
            declared = _declared_length(headers)
        except ShipyardError as exc:
            await answer(send, exc, close=True)
            return None
        if declared is not None and declared > route.limit:
            # A body a little over its limit is read and dropped, so the client, still
            # sending, gets the 413 rather than a reset; a large one is cut at once.
            drained = declared - route.limit <= DRAIN_BYTES and \
                await _drain(receive, declared, self.timeout())
            await answer(send, self._too_large(route, f"The request body is {declared} bytes"),
                         close=not drained)
            return None
        # No body on its way (a GET, an empty POST): nothing to time, and no timer to pay for.
        has_body = bool(declared) or b"transfer-encoding" in headers
        stream = _Stream(receive, send, route, self.timeout() if has_body else None, self)
        if route.kind != JSON:
            return stream.receive, stream.send
        ctype = _content_type(headers)
        if not (_is_json(ctype) or not ctype):
            return stream.receive, stream.send  # the route refuses the media type itself
        body = await stream.read_all()
        if body is None:  # answered (413, 408) or the client went away
            return None
        if body.strip():
            try:
                safejson.loads(body)
            except InvalidRequest as exc:
                if not _malformed(body):
                    await answer(send, exc)
                    return None
                # Plain malformed JSON: the route answers it in its own words (422 or 400).
        return _replay(body, receive), send

    @staticmethod
    def _too_large(route: RouteLimit, got: str) -> PayloadTooLarge:
        what = {UPLOAD: "an upload", INVOCATION: "an invocation"}.get(route.kind, "a JSON body")
        fix = ("split the upload into several versions" if route.kind == UPLOAD else
               "send fewer rows per request" if route.kind == INVOCATION else
               "send less, or upload large content as a dataset")
        return PayloadTooLarge(
            f"{got}; {route.method} {route.path} takes {what} of at most {route.limit} bytes: "
            f"{fix}.", limit=route.limit)


def _malformed(body: bytes) -> bool:
    """True when ``body`` is not JSON at all (as opposed to JSON holding something refused)."""
    try:
        json.loads(body)
    except (RecursionError, UnicodeDecodeError):
        return False
    except ValueError as exc:
        return isinstance(exc, json.JSONDecodeError)
    return False


async def _drain(receive: Receive, declared: int, timeout: float) -> bool:
    """Read and drop a body of ``declared`` bytes; False when it did not all come."""
    size = 0
    while size <= declared:
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError:
            return False
        if message["type"] != "http.request":
            return False
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False


def _check_url(scope: Scope) -> None:
    if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
        raise InvalidRequest("The URL holds a NUL character (%00); remove it from the path "
                             "and query.")


def _declared_length(headers: dict[bytes, bytes]) -> int | None:
    raw = headers.get(b"content-length")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise InvalidRequest(f"The Content-Length header must be a number of bytes; got "
                             f"{raw[:40].decode('latin-1')!r}.")
    return int(raw)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body read already, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


class _Stream:
    """``receive``/``send`` wrappers that count and time the body as the app reads it."""

    def __init__(self, receive: Receive, send: Send, route: RouteLimit,
                 timeout: float | None, guard: BodyGuard) -> None:
        self._receive = receive
        self._send = send
        self.route = route
        self.timeout = timeout
        self.guard = guard
        self.size = 0
        self.done = False
        self.started = False
        self.failed = False

    async def receive(self) -> Message:
        if self.failed:
            return _DISCONNECT
        if self.done or self.timeout is None:  # no body (left) to wait for
            return await self._receive()
        try:
            # asyncio's own timeout: half the cost of anyio's cancel scope on this hot path
            # (every invocation passes here), and uvicorn runs the app on asyncio.
            async with asyncio.timeout(self.timeout):
                message = await self._receive()
        except TimeoutError:
            await self._fail(RequestTimeout(
                f"The request body stopped arriving: nothing came for {self.timeout:g} s after "
                f"{self.size} bytes. Send the whole body (and a Content-Length that matches "
                "it)."))
            return _DISCONNECT
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.route.limit:
                await self._fail(self.guard._too_large(
                    self.route, f"The request body is over {self.route.limit} bytes"))
                return _DISCONNECT
            if not message.get("more_body", False):
                self.done = True
        else:
            self.done = True
        return message

    async def send(self, message: Message) -> None:
        if self.failed:
            return  # the error was answered already; the app's late answer is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _fail(self, exc: ShipyardError) -> None:
        self.failed = True
        if not self.started:
            self.started = True
            await answer(self._send, exc, close=True)

    async def read_all(self) -> bytes | None:
        """The whole body, or None when it was refused (answered) or the client left."""
        chunks: list[bytes] = []
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
