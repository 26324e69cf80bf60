"""The HTTP client: finding the server and the token, and turning errors into exceptions."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Self

import httpx

from shipyard import __version__
from shipyard.credentials import read_credentials
from shipyard.errors import (
    IntegrityError,
    ServerUnavailable,
    ShipyardError,
    Unauthenticated,
    error_from_response,
)
from shipyard.settings import Settings

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)

_default: Client | None = None


class _BrokenTransfer(Exception):
    """The server started its answer and stopped before the end (see Client.download)."""


class Client:
    """A session with one Shipyard server (an ``httpx.Client`` with the bearer token).

    Errors the server answers with become the matching :class:`ShipyardError`
    subclass carrying the server's message; a server that cannot be reached
    becomes :class:`ServerUnavailable`.
    """

    def __init__(self, url: str, token: str | None = None, *,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"User-Agent": f"shipyard-sdk/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  transport=transport)

    def __repr__(self) -> str:
        return f"<shipyard.Client {self.url}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------
    def _full_path(self, path: str) -> str:
        return path if path.startswith("/healthz") else API_PREFIX + path

    def _check_token(self, path: str) -> None:
        if not self.token and not path.startswith("/healthz"):
            raise Unauthenticated(
                f"No token for the server at {self.url}: set SHIPYARD_TOKEN, or SHIPYARD_HOME "
                "to the home whose credentials file holds one."
            )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to ``/api/v1{path}``; return the response or raise a typed error."""
        self._check_token(path)
        try:
            response = self._http.request(method, self._full_path(path), **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """Like :meth:`request`, but the body is read by the caller (for downloads)."""
        self._check_token(path)
        try:
            with self._http.stream(method, self._full_path(path), **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def download(self, path: str, dest: Path, params: dict[str, Any] | None = None, *,
                 what: str | None = None, sha256: str | None = None) -> int:
        """Stream ``GET path`` into ``dest``, checked, written whole or not at all; return its size.

        The bytes are checked against the server's ``X-Shipyard-SHA256`` (or ``sha256``
        when the caller knows it); on a mismatch nothing is written and
        :class:`IntegrityError` names the file (``what``). A transfer the server cuts
        off (it does so when the stored file fails its own check) is asked for once
        more with ``verify=true``, so the answer is either the file or the server's
        clear error.

        Raises:
            IntegrityError: the file is damaged (on the server, or on the way).
        """
        tmp = dest.with_name(dest.name + ".part")
        try:
            with open(tmp, "wb") as fh:
                size = self._checked_get(path, params, fh, what or path, sha256)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def fetch(self, path: str, params: dict[str, Any] | None = None, *,
              what: str | None = None, sha256: str | None = None) -> bytes:
        """The body of ``GET path`` in memory, checked as :meth:`download` checks it."""
        buf = io.BytesIO()
        self._checked_get(path, params, buf, what or path, sha256)
        return buf.getvalue()

    def _checked_get(self, path: str, params: dict[str, Any] | None, sink: IO[bytes],
                     what: str, sha256: str | None) -> int:
        try:
            return self._receive(path, params, sink, what, sha256)
        except _BrokenTransfer:
            sink.seek(0)
            sink.truncate()
        try:  # once more, asking the server to check the whole file before the first byte
            return self._receive(path, {**(params or {}), "verify": "true"}, sink, what, sha256)
        except _BrokenTransfer as exc:
            raise ServerUnavailable(
                f"The download of {what} from {self.url} broke off twice before the end "
                f"({exc}); nothing was kept. Check the server's log.") from None

    def _receive(self, path: str, params: dict[str, Any] | None, sink: IO[bytes], what: str,
                 sha256: str | None) -> int:
        self._check_token(path)
        digest, size, expected = hashlib.sha256(), 0, sha256
        try:
            with self._http.stream("GET", self._full_path(path), params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                expected = response.headers.get("x-shipyard-sha256") or sha256
                try:
                    for chunk in response.iter_bytes():
                        sink.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                except httpx.TransportError as exc:
                    raise _BrokenTransfer(f"{size} of {response.headers.get('content-length')}"
                                          " bytes came") from exc
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if expected and digest.hexdigest() != expected:
            raise IntegrityError(
                f"The download of {what} does not match its SHA-256 (expected {expected[:12]}…,"
                f" got {digest.hexdigest()[:12]}…); it was damaged, so it was discarded.")
        return size

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs).json()

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, json=json, **kwargs).json()

    def get_bytes(self, path: str, **params: Any) -> bytes:
        """The body of ``GET path`` as bytes (small files: artifacts, plots, cards), checked
        against ``X-Shipyard-SHA256`` when the server sends it."""
        clean = {k: v for k, v in params.items() if v is not None}
        return self.fetch(path, clean)

    def delete(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        response = self.request("DELETE", path, params=clean)
        return response.json() if response.content else None

    def _unreachable(self, exc: httpx.TransportError) -> ShipyardError:
        if isinstance(exc, httpx.TimeoutException):
            return ServerUnavailable(
                f"The server at {self.url} did not answer in time ({type(exc).__name__}); "
                "check that it is running with `shipyard server status`."
            )
        if isinstance(exc, httpx.RemoteProtocolError):
            return ServerUnavailable(
                f"The server at {self.url} closed the connection before its answer was "
                f"complete ({exc}); if this repeats, check the server's log.")
        return ServerUnavailable(
            f"Cannot reach the server at {self.url}; start it with `shipyard server start`."
        )

    @staticmethod
    def _error(response: httpx.Response) -> ShipyardError:
        try:
            body = response.json()
        except ValueError:
            body = None
        err = error_from_response(response.status_code, body)
        if body is None:
            text = " ".join(response.text.split())[:200]
            err.message = f"HTTP {response.status_code} from {response.request.url}: {text}"
            err.args = (err.message,)
        return err

    # -- system -----------------------------------------------------------------------------
    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def whoami(self) -> dict[str, Any]:
        """The name and role of this client's token."""
        return self.get("/whoami")

    def studio_link(self) -> dict[str, Any]:
        """A one-time sign-in link to the studio for this client's token: ``path`` (under
        the server's URL) and ``expires_at`` (epoch seconds); good once, for 5 minutes."""
        return self.post("/studio/links")

    def tokens(self) -> list[dict[str, Any]]:
        """Every token (admin only); secrets are never listed."""
        return self.get("/tokens")

    def create_token(self, name: str, role: str) -> dict[str, Any]:
        """Create a token; the answer's ``token`` is the secret, shown only this once."""
        return self.post("/tokens", {"name": name, "role": role})

    def revoke_token(self, name: str) -> dict[str, Any]:
        return self.delete(f"/tokens/{name}")


# -- discovery --------------------------------------------------------------------------------
def discover_url(url: str | None, settings: Settings) -> tuple[str, bool]:
    """The server URL, and whether it was given explicitly (by argument or ``SHIPYARD_URL``)."""
    if url:
        return url.rstrip("/"), True
    env_url = os.environ.get("SHIPYARD_URL")
    if env_url:
        return env_url.rstrip("/"), True
    from shipyard.server import server_info

    info = server_info(settings) or {}
    if isinstance(info.get("url"), str):
        return str(info["url"]).rstrip("/"), False
    return settings.url, False


def discover_token(token: str | None, settings: Settings) -> str | None:
    """The token: argument, else ``SHIPYARD_TOKEN``, else the home's credentials file."""
    if token:
        return token
    if os.environ.get("SHIPYARD_TOKEN"):
        return os.environ["SHIPYARD_TOKEN"]
    creds = read_credentials(settings.credentials_path)
    return creds["token"] if creds else None


def _ensure_local_server(url: str, settings: Settings) -> str:
    """Return a URL that answers, starting a server for ``settings.home`` if none does.

    The server is started by ``shipyard server start`` in a short-lived process (which
    calls :func:`shipyard.server.start_detached`), so it is not this process's child:
    a notebook that stops it later leaves no zombie behind, and the server outlives it.
    """
    from shipyard.server import is_healthy

    for candidate in dict.fromkeys([url, settings.url]):
        if is_healthy(candidate):
            return candidate
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.cli", "server", "start", "--home", str(settings.home),
         "--host", settings.host, "--port", str(settings.port), "--json"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )
    if done.returncode != 0 or not is_healthy(settings.url):
        why = done.stderr.strip().removeprefix("Error: ") or f"exit code {done.returncode}"
        raise ServerUnavailable(f"Could not start a server for {settings.home}: {why}")
    return settings.url


def connect(url: str | None = None, token: str | None = None, home: str | Path | None = None,
            *, autostart: bool = True, set_default: bool = True) -> Client:
    """Attach to a Shipyard server and make it the default for ``Dataset`` and ``Job``.

    The URL is ``url``, else ``SHIPYARD_URL``, else where the home's running server
    listens (``server.json``), else ``http://127.0.0.1:8484``. When no URL was given
    explicitly and nothing answers there, a local server is started in the background
    for the home (``SHIPYARD_HOME``, default ``~/.shipyard``).

    The token is ``token``, else ``SHIPYARD_TOKEN``, else the home's credentials file.
    """
    global _default
    settings = Settings.from_env(home=home)
    resolved, explicit = discover_url(url, settings)
    if autostart and not explicit:
        resolved = _ensure_local_server(resolved, settings)
    client = Client(resolved, discover_token(token, settings))
    if set_default:
        # The previous default is left open: the caller may still hold and use it.
        _default = client
    return client


def default_client() -> Client:
    """The client set by the last :func:`connect`, connecting with defaults if none was."""
    return _default if _default is not None else connect()


class Resource:
    """Base of the SDK's resource objects: a server document and the client it came from.

    A subclass sets its identifying attributes, calls :meth:`_attach`, and says where
    it lives with :meth:`_path`.
    """

    _client: Client | None
    _doc: dict[str, Any]

    def _attach(self, client: Client | None, doc: dict[str, Any] | None) -> None:
        self._client = client
        self._doc = doc if doc is not None else self.client.get(self._path())

    @property
    def client(self) -> Client:
        return self._client or default_client()

    def _path(self, suffix: str = "") -> str:
        raise NotImplementedError

    def refresh(self) -> Self:
        """Read the resource again from the server."""
        self._doc = self.client.get(self._path())
        return self
