"""A lean keep-alive HTTP/1.1 forwarder from the control plane to serving instances.

The stable invocation URL is on the hot path of every prediction, so the control
plane does not route it through FastAPI and a general-purpose client. Both ends
are Shipyard's own: an instance is ``python -m shipyard.serving`` under uvicorn,
which answers every invocation with a ``content-length`` body, on 127.0.0.1. That
narrow contract is what this client speaks, over ``asyncio`` streams with a pool
of idle connections per instance:

- a request is written in one ``write`` (head and body);
- the answer's head is read up to the blank line; a body is read by its
  ``content-length`` (a ``transfer-encoding: chunked`` answer is refused as a
  protocol error rather than misread);
- a connection goes back to the pool only when the answer was complete and
  did not say ``connection: close``.

A request written on a pooled connection that the instance had already closed
(idle keep-alive timeout) fails before any byte of answer; only then is it sent
once more on a fresh connection. Any other failure raises :class:`ForwardError`
and the caller marks the instance unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

#: Idle connections kept per instance; more are opened under load and closed after use.
MAX_IDLE = 64
#: The longest an instance may take to answer one invocation.
READ_TIMEOUT = 60.0
_MAX_HEAD = 64 * 1024


class ForwardError(Exception):
    """The instance could not be reached, or its answer was cut off or malformed."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Forwarder:
    """Send ``POST`` requests to ``127.0.0.1:port`` instances over pooled connections."""

    def __init__(self, host: str = "127.0.0.1", max_idle: int = MAX_IDLE,
                 timeout: float = READ_TIMEOUT) -> None:
        self.host = host
        self.max_idle = max_idle
        self.timeout = timeout
        self._idle: dict[int, deque[_Conn]] = {}
        self._closed = False

    async def post(self, port: int, path: str, body: bytes,
                   headers: list[tuple[bytes, bytes]]) -> Answer:
        """Forward one request; raises :class:`ForwardError` when the instance fails it."""
        head = [b"POST ", path.encode("latin-1"), b" HTTP/1.1\r\nhost: ", self.host.encode(),
                b"\r\ncontent-length: ", str(len(body)).encode()]
        for name, value in headers:
            head += [b"\r\n", name, b": ", value]
        head.append(b"\r\n\r\n")
        request = b"".join(head) + body
        pool = self._idle.setdefault(port, deque())
        while pool:
            conn = pool.pop()
            try:
                return await self._exchange(conn, port, request, reused=True)
            except _StaleConnection:
                continue  # the instance closed it while idle; nothing of the request ran
        conn = await self._connect(port)
        try:
            return await self._exchange(conn, port, request, reused=False)
        except _StaleConnection as exc:
            raise ForwardError(f"instance on port {port} closed the connection") from exc

    async def _connect(self, port: int) -> _Conn:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, port), timeout=5.0)
        except (OSError, TimeoutError) as exc:
            raise ForwardError(f"cannot connect to instance on port {port}: {exc}") from exc
        return _Conn(reader, writer)

    async def _exchange(self, conn: _Conn, port: int, request: bytes, reused: bool) -> Answer:
        try:
            conn.writer.write(request)
            await conn.writer.drain()
            try:
                raw = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), self.timeout)
            except asyncio.IncompleteReadError as exc:
                if reused and not exc.partial:
                    raise _StaleConnection from exc
                raise
            status, headers, length, keep = _parse_head(raw)
            body = await asyncio.wait_for(conn.reader.readexactly(length), self.timeout)
        except _StaleConnection:
            conn.close()
            raise
        except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError) as exc:
            conn.close()
            if reused and isinstance(exc, ConnectionResetError | BrokenPipeError):
                raise _StaleConnection from exc
            raise ForwardError(f"instance on port {port} failed the request: {exc!r}") from exc
        pool = self._idle.setdefault(port, deque())
        if keep and not self._closed and len(pool) < self.max_idle:
            pool.append(conn)
        else:
            conn.close()
        return Answer(status, headers, body)

    def forget(self, port: int) -> None:
        """Close the idle connections to an instance that stopped or failed."""
        for conn in self._idle.pop(port, ()):
            conn.close()

    async def aclose(self) -> None:
        self._closed = True
        for port in list(self._idle):
            self.forget(port)


class _StaleConnection(Exception):
    pass


def _parse_head(raw: bytes) -> tuple[int, list[tuple[bytes, bytes]], int, bool]:
    if len(raw) > _MAX_HEAD:
        raise ValueError("response head too large")
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(parts[1])
    headers: list[tuple[bytes, bytes]] = []
    length = None
    keep = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"malformed header line {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not part of the instance protocol")
        elif name == b"connection":
            keep = value.lower() == b"keep-alive" or (keep and value.lower() != b"close")
        headers.append((name, value))
    if length is None:
        raise ValueError("the answer has no content-length")
    return status, headers, length, keep
