"""Who a studio browser is, and what it may send (see the package docstring).

Every ``/studio`` request passes :class:`StudioGate` (called by the auth middleware
before any route runs), in this order:

1. **Host.** The Host header must name this server (its bind address, its public URL,
   or ``localhost``/``127.0.0.1`` on its port; ``SHIPYARD_STUDIO_HOSTS`` adds more).
   Anything else is a 400: a page on another site that points its own domain at this
   address (DNS rebinding) gets nothing.
2. **Who.** The session cookie (``shipyard_studio``), or a bearer token (a script).
   Without either: a ``GET`` is sent to the sign-in page, anything else is a 401.
   The sign-in page and the one-time link are the only open paths. A principal that may
   ``label`` but not ``read`` (an annotator) reaches the labeling pages only
   (:data:`LABEL_ONLY`; its home ``/studio`` sends it to its queues); anything else is a 403.
3. **CSRF.** A state-changing request (not GET/HEAD) made with the cookie must carry the
   session's CSRF token in ``X-CSRF-Token`` (the studio's script adds it to every htmx
   request from the page's ``<meta name="csrf-token">``) and, when the browser sends an
   Origin, come from this origin. Otherwise 403, before any route code runs. A bearer
   token is not ambient (no browser sends it by itself), so it needs none.
4. **Headers** on every response: a Content-Security-Policy allowing this origin's
   scripts, styles and images only, no inline script, no framing (``frame-ancestors
   'none'``); ``X-Frame-Options: DENY``, ``nosniff``, no referrer, ``no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import anyio.to_thread

from shipyard.settings import Settings
from shipyard.tokens import Principal, TokenService

if TYPE_CHECKING:  # pragma: no cover - the API imports this module
    from shipyard.api._session import StudioSessions

PREFIX = "/studio"  # = shipyard.api._session.STUDIO_PREFIX
COOKIE = "shipyard_studio"  # = shipyard.api._session.STUDIO_COOKIE
SIGN_IN = f"{PREFIX}/sign-in"
LOGIN = f"{PREFIX}/login"
#: The studio's stylesheet: open too, so the sign-in page looks like the rest (it holds
#: nothing about the server or its data; the scripts stay behind the session).
STYLESHEET = f"{PREFIX}/static/studio.css"
#: Paths under the prefix that answer without a session.
OPEN = frozenset({SIGN_IN, LOGIN, STYLESHEET})
#: An annotator's part of the studio (``label`` without ``read``): its queues and items,
#: the static files, and signing out.
LABELING = f"{PREFIX}/labeling"
LABEL_ONLY = (LABELING, f"{PREFIX}/static", f"{PREFIX}/sign-out")
CSRF_HEADER = b"x-csrf-token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"cache-control", b"no-store")]
#: How long a one-time sign-in link is good for.
LINK_SECONDS = 300.0
SAFE_METHODS = frozenset({"GET", "HEAD"})

Scope = MutableMapping[str, Any]
Send = Callable[[Any], Awaitable[None]]


class LoginLinks:
    """One-time sign-in codes, kept hashed in this server's memory (a link opens the
    server that made it; a restart forgets the unused ones)."""

    def __init__(self, seconds: float = LINK_SECONDS) -> None:
        self.seconds = seconds
        self._codes: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _hash(code: str) -> str:
        return hashlib.sha256(code.encode()).hexdigest()

    def create(self, name: str) -> tuple[str, float]:
        """A new code for the token named ``name``, and when it expires (epoch seconds)."""
        code = secrets.token_urlsafe(32)
        expires = time.time() + self.seconds
        with self._lock:
            now = time.time()
            self._codes = {k: v for k, v in self._codes.items() if v[1] > now}
            self._codes[self._hash(code)] = (name, expires)
        return code, expires

    def redeem(self, code: str) -> str | None:
        """The token name a current, unused code stands for (the code is spent)."""
        if not code or len(code) > 128:
            return None
        with self._lock:
            found = self._codes.pop(self._hash(code), None)
        if found is None or found[1] < time.time():
            return None
        return found[0]


def allowed_hosts(settings: Settings, extra: str = "") -> frozenset[str]:
    """The Host header values the studio answers to."""
    hosts = {f"localhost:{settings.port}", f"127.0.0.1:{settings.port}",
             f"[::1]:{settings.port}"}
    for url in (settings.url, settings.public_url):
        netloc = urlsplit(url).netloc
        if netloc:
            hosts.add(netloc)
    hosts.update(h.strip() for h in extra.split(",") if h.strip())
    return frozenset(h.lower() for h in hosts)


def cookie_value(headers: dict[bytes, bytes], name: str = COOKIE) -> str | None:
    raw = headers.get(b"cookie", b"").decode("latin-1")
    return next((v for k, _, v in (p.strip().partition("=") for p in raw.split(";"))
                 if k == name), None)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a studio path of this server only."""
    if path and path.startswith(PREFIX) and not path.startswith("//") \
            and "\\" not in path and all(c.isprintable() for c in path):
        return path
    return PREFIX


def _sign_in_from(headers: dict[bytes, bytes], path: str) -> str:
    """The sign-in page, then back to the page an htmx request came from (its
    ``HX-Current-URL``; the request's own path when that names no studio page)."""
    current = urlsplit(headers.get(b"hx-current-url", b"").decode("latin-1"))
    page = current.path + (f"?{current.query}" if current.query else "")
    back = safe_next(page) if page.startswith(PREFIX) else safe_next(path)
    return f"{SIGN_IN}?next={quote(back, safe='')}"


async def _plain(send: Send, status: int, text: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), *HEADERS, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def _json_error(send: Send, status: int, code: str, message: str,
                      extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *(extra or []), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


async def _html_error(send: Send, status: int, message: str, href: str, where: str) -> None:
    """A refused page that a browser opened itself (a link, a bookmark, the address bar):
    the message and a way on, in the studio's look, rather than JSON in the window."""
    body = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<title>Not for this token · Shipyard</title>'
            f'<link rel="icon" href="data:,"><link rel="stylesheet" href="{STYLESHEET}">'
            '</head><body><header><span class="brand">Shipyard</span></header>'
            '<main id="main"><h1>Not for this token</h1>'
            f'<p class="error" role="alert">{html.escape(message)}</p>'
            f'<p><a href="{html.escape(href)}">{html.escape(where)}</a></p>'
            '</main></body></html>').encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class StudioGate:
    """The checks of every ``/studio`` request (see the module docstring)."""

    def __init__(self, settings: Settings, tokens: Callable[[], TokenService],
                 sessions: Callable[[], StudioSessions | None]) -> None:
        self.hosts = allowed_hosts(settings, settings.studio_hosts)
        self.tokens = tokens
        self.sessions = sessions

    @staticmethod
    def wants(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def with_headers(self, send: Send) -> Send:
        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers") or []}
                message = {**message, "headers": [
                    *(message.get("headers") or []),
                    *(h for h in HEADERS if h[0] not in names)]}
            await send(message)
        return wrapped

    async def __call__(self, scope: Scope, headers: dict[bytes, bytes], send: Send
                       ) -> tuple[Principal | None, Send, bool]:
        """``(principal, send, handled)``: ``handled`` means a response was sent here.

        An open path comes back with no principal and ``handled`` False."""
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            await _plain(send, 400, "This server does not answer to that host name; open "
                                    "the studio at the URL `shipyard studio` prints.")
            return None, send, True
        send = self.with_headers(send)
        path, method = scope["path"], scope["method"]
        if path in OPEN:
            return None, send, False
        principal, value = await self._who(headers)
        if principal is None:
            if headers.get(b"hx-request") == b"true":
                # A page's own request (an answer, a poll) after its session ended: the
                # browser goes to sign in and back to that page. Answered as below, the
                # gate's JSON (or, for a GET, the sign-in page) took the place of the
                # item or fragment the request was for.
                await _json_error(send, 401, "unauthenticated",
                                  "Sign in to the studio first (your session has expired).",
                                  [(b"hx-redirect", _sign_in_from(headers, path).encode())])
                return None, send, True
            if method in SAFE_METHODS:
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                await send({"type": "http.response.start", "status": 303, "headers": [
                    (b"location", f"{SIGN_IN}?next={quote(target, safe='')}".encode()),
                    (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
            else:
                await _json_error(send, 401, "unauthenticated",
                                  "Sign in to the studio first (your session has expired).")
            return None, send, True
        page = method in SAFE_METHODS and headers.get(b"hx-request") != b"true"
        if not principal.can("read") and \
                not await self._labeling_only(principal, path, method, send, page):
            return None, send, True
        csrf = ""
        sessions = self.sessions()
        if value is not None and sessions is not None:
            csrf = sessions.csrf(value)
            if method not in SAFE_METHODS:
                sent = headers.get(CSRF_HEADER, b"").decode("latin-1")
                origin = headers.get(b"origin", b"").decode("latin-1")
                if origin and urlsplit(origin).netloc.lower() != host:
                    await _json_error(send, 403, "forbidden",
                                      "This request came from another site; it was refused.")
                    return None, send, True
                if not hmac.compare_digest(sent, csrf):
                    await _json_error(send, 403, "forbidden",
                                      "This request lacks the page's CSRF token; reload the "
                                      "page and try again.")
                    return None, send, True
        scope.setdefault("state", {})["csrf"] = csrf
        return principal, send, False

    @staticmethod
    async def _labeling_only(principal: Principal, path: str, method: str, send: Send,
                             page: bool = False) -> bool:
        """Whether a principal that may not ``read`` (an annotator) may go on to ``path``.

        Its work is labeling, so it reaches the labeling pages, the static files and
        sign-out; its home is its queues; anything else is a 403 before any route runs,
        as the REST API refuses it too.
        """
        if principal.can("label"):
            if path == PREFIX and method in SAFE_METHODS:
                await send({"type": "http.response.start", "status": 303, "headers": [
                    (b"location", LABELING.encode()), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return False
            if any(path == p or path.startswith(p + "/") for p in LABEL_ONLY):
                return True
        home = LABELING if principal.can("label") else PREFIX
        message = (f"Token {principal.name!r} has role {principal.role!r}, which may not "
                   f"read this studio page; its work is at {home}.")
        if page and principal.can("label"):
            await _html_error(send, 403, message, home, "Your labeling queues")
        else:
            await _json_error(send, 403, "forbidden", message)
        return False

    async def _who(self, headers: dict[bytes, bytes]) -> tuple[Principal | None, str | None]:
        """The principal and the session cookie's value (None for a bearer token)."""
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            principal = await anyio.to_thread.run_sync(self.tokens().authenticate,
                                                       token.strip())
            if principal is not None and not principal.is_job:
                return principal, None
            return None, None
        value = cookie_value(headers)
        sessions = self.sessions()
        if not value or sessions is None:
            return None, None
        principal = await anyio.to_thread.run_sync(sessions.check, value)
        return (principal, value) if principal is not None else (None, None)
