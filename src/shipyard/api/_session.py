"""A browser's sign-in for the API docs: a signed session cookie, never the token.

A browser cannot send a bearer header, so ``/api/v1/sign-in`` takes a token pasted into
a form and answers with a cookie that stands for it. The cookie holds the token's name,
an expiry time and an HMAC-SHA256 over both *and the token's stored hash*, keyed by a
secret of this home (``$SHIPYARD_HOME/session.key``, 0600). So:

- the token itself never reaches the cookie, and nothing is stored per session;
- the session ends when it expires (``SHIPYARD_SESSION_SECONDS``, 8 h by default), when
  the token is revoked, and when the token gets a new secret (``tokens reset-admin``):
  each check reads the token's current hash;
- a copy of the database alone cannot forge one (it lacks the home's key).

The auth middleware accepts the cookie for ``GET`` of ``/api/v1/docs`` (and its
assets) and ``/api/v1/openapi.json`` only: every other route still needs the bearer
token, so the cookie cannot change anything (the studio will add CSRF before it may).
The cookie is ``HttpOnly`` and ``SameSite=Strict``, ``Secure`` when the server is
reached over https.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard.settings import Settings
from shipyard.tokens import Principal, TokenService, hash_token

COOKIE = "shipyard_session"
#: The studio's own session cookie and the path it is sent on (shipyard.studio).
STUDIO_COOKIE = "shipyard_studio"
STUDIO_PREFIX = "/studio"
SIGN_IN = "/api/v1/sign-in"
SIGN_OUT = "/api/v1/sign-out"
DOCS = "/api/v1/docs"
#: What a session cookie opens: the docs page, its assets and the API document; GET only.
COOKIE_PATHS = (DOCS, "/api/v1/openapi.json")
#: The sign-in form is tiny: a longer body is refused before it is read whole.
MAX_FORM_BYTES = 4096
#: The sign-in pages run no script and load nothing but their own form.
PAGE_CSP = ("default-src 'none'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")


def cookie_allowed(method: str, path: str) -> bool:
    """Whether a session cookie may stand for a token on this request."""
    return method in ("GET", "HEAD") and (
        path in COOKIE_PATHS or path.startswith(DOCS + "/"))


def _key(home: Path) -> bytes:
    """This home's session key: made once (0600), read after."""
    path = home / "session.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    os.replace(tmp, path)  # two servers racing both write a key; the last one stays
    return bytes.fromhex(path.read_text().strip())


class Sessions:
    """Issue and check session cookies (see the module docstring)."""

    def __init__(self, tokens: TokenService, settings: Settings) -> None:
        self.tokens = tokens
        self.seconds = settings.session_seconds
        self.secure = settings.public_url.startswith("https://")
        self._key = _key(settings.home)

    def _mac(self, name: str, expires: int, token_hash: str) -> str:
        msg = f"{name}\n{expires}\n{token_hash}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def issue(self, token: str) -> tuple[str, Principal] | None:
        """A cookie value for a valid ``token`` (None for anything else)."""
        principal = self.tokens.authenticate(token)
        if principal is None or principal.is_job:  # a job's token signs no browser in
            return None
        expires = int(time.time() + self.seconds)
        name = base64.urlsafe_b64encode(principal.name.encode()).decode().rstrip("=")
        return f"{name}.{expires}.{self._mac(principal.name, expires, hash_token(token))}", \
            principal

    def check(self, value: str) -> Principal | None:
        """The principal a cookie value stands for, if it is genuine, current and its token
        still active with the same secret."""
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(value) > 512:
            return None
        try:
            name = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        expires = int(parts[1])
        if expires < time.time():
            return None
        found = self.tokens.repo.active_hash(name)
        if found is None:
            return None
        rec, token_hash = found
        if not hmac.compare_digest(parts[2], self._mac(name, expires, token_hash)):
            return None
        return Principal(rec.name, rec.role)

    def set_cookie(self, response: Response, value: str, *, https: bool) -> None:
        """``Secure`` when this request came over https or the server's URL is https."""
        response.set_cookie(COOKIE, value, max_age=int(self.seconds), path="/api/v1",
                            httponly=True, samesite="strict", secure=self.secure or https)


class StudioSessions(Sessions):
    """The studio's session cookies: the API docs' scheme under a cookie of their own,
    scoped to ``/studio``, plus a CSRF token derived from each cookie."""

    def set_cookie(self, response: Response, value: str, *, https: bool) -> None:
        response.set_cookie(STUDIO_COOKIE, value, max_age=int(self.seconds), path=STUDIO_PREFIX,
                            httponly=True, samesite="strict", secure=self.secure or https)

    def clear_cookie(self, response: Response, *, https: bool) -> None:
        response.delete_cookie(STUDIO_COOKIE, path=STUDIO_PREFIX, httponly=True,
                               samesite="strict", secure=self.secure or https)

    def issue_for(self, name: str) -> str | None:
        """A cookie value for the active token named ``name`` (a redeemed one-time link)."""
        found = self.tokens.repo.active_hash(name)
        if found is None:
            return None
        rec, token_hash = found
        if rec.role == "job":
            return None
        expires = int(time.time() + self.seconds)
        encoded = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        return f"{encoded}.{expires}.{self._mac(name, expires, token_hash)}"

    def csrf(self, value: str) -> str:
        """The CSRF token of the session whose cookie is ``value``."""
        return hmac.new(self._key, b"csrf\n" + value.encode(), hashlib.sha256).hexdigest()[:40]


router = APIRouter(include_in_schema=False)


def _page(message: str = "", status: int = 200) -> HTMLResponse:
    note = f'<p role="alert">{escape(message)}</p>' if message else ""
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Shipyard</title></head>
<body><h1>Sign in to the Shipyard API docs</h1>{note}
<form method="post" action="{SIGN_IN}">
<p><label for="token">Token</label><br>
<input id="token" name="token" type="password" autocomplete="off" required size="60"></p>
<p><button type="submit">Sign in</button></p></form>
<p>Paste a Shipyard token (an admin's is in <code>$SHIPYARD_HOME/credentials</code>;
<code>shipyard tokens create</code> makes others). The browser keeps a session cookie
that opens these docs only, never the token itself.</p></body></html>"""
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store",
        "X-Frame-Options": "DENY"})


@router.get(SIGN_IN)
def sign_in_form() -> HTMLResponse:
    """The sign-in form (open: it is how a browser gets in)."""
    return _page()


async def _form_token(request: Request) -> str | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("token") or [""]
    return values[0].strip() or None


def _same_origin(request: Request) -> bool:
    """A form posted from another site (login CSRF) is refused; a browser sends Origin."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


@router.post(SIGN_IN)
async def sign_in(request: Request) -> Response:
    """Check the pasted token; on success set the session cookie and go to the docs."""
    if not _same_origin(request):
        return _page("This form can only be sent from this server's own page.", 403)
    token = await _form_token(request)
    sessions: Sessions = request.app.state.sessions
    issued = None
    if token is not None:
        issued = await anyio.to_thread.run_sync(sessions.issue, token)
    if issued is None:
        return _page("That is not an active Shipyard token; check it and paste it again.",
                     401)
    response = RedirectResponse(DOCS, status_code=303)
    sessions.set_cookie(response, issued[0], https=request.url.scheme == "https")
    return response


@router.post(SIGN_OUT)
def sign_out(request: Request) -> Response:
    """Forget the session cookie in this browser (the token itself stays valid)."""
    response = RedirectResponse(SIGN_IN, status_code=303)
    sessions: Sessions = request.app.state.sessions
    response.delete_cookie(COOKIE, path="/api/v1", httponly=True, samesite="strict",
                           secure=sessions.secure or request.url.scheme == "https")
    return response
