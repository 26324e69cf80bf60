"""The control plane's keep-alive forwarder, against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from shipyard.endpoints import Forwarder, ForwardError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    return await reader.readexactly(length)


async def _stop(server: asyncio.Server, fwd: Forwarder) -> None:
    await fwd.aclose()
    await asyncio.sleep(0.05)  # let the handlers see the end of their connections
    server.close()
    await server.wait_closed()


def _answer(body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


def test_keeps_connections_alive_and_echoes_status_headers_body() -> None:
    async def main() -> None:
        connections = 0

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            while (body := await _read_request(reader)) is not None:
                writer.write(_answer(b'{"got": ' + str(len(body)).encode() + b"}",
                                     b"x-extra: 1\r\n"))
                await writer.drain()
            writer.close()

        server, port = await _serve(echo)
        fwd = Forwarder()
        for n in range(20):
            answer = await fwd.post(port, "/invocations", b"x" * n,
                                    [(b"content-type", b"application/json")])
            assert answer.status == 200
            assert answer.body == b'{"got": ' + str(n).encode() + b"}"
            assert (b"x-extra", b"1") in answer.headers
        assert connections == 1
        await _stop(server, fwd)

    asyncio.run(main())


def test_a_connection_the_instance_closed_while_idle_is_replaced() -> None:
    async def main() -> None:
        served = 0

        async def one_shot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal served
            await _read_request(reader)
            served += 1
            writer.write(_answer(b"{}"))  # keep-alive promised, then closed (idle timeout)
            await writer.drain()
            writer.close()

        server, port = await _serve(one_shot)
        fwd = Forwarder()
        for _ in range(5):
            await asyncio.sleep(0.05)
            assert (await fwd.post(port, "/invocations", b"{}", [])).status == 200
        assert served == 5
        await _stop(server, fwd)

    asyncio.run(main())


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nno length",
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ncut",
])
def test_malformed_or_cut_answers_are_forward_errors(answer: bytes) -> None:
    async def main() -> None:
        async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            writer.write(answer)
            await writer.drain()
            writer.close()

        server, port = await _serve(bad)
        fwd = Forwarder()
        with pytest.raises(ForwardError):
            await fwd.post(port, "/invocations", b"{}", [])
        await _stop(server, fwd)

    asyncio.run(main())


def test_nothing_listening_is_a_forward_error() -> None:
    async def main() -> None:
        server, port = await _serve(lambda r, w: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        with pytest.raises(ForwardError, match="cannot connect"):
            await Forwarder().post(port, "/invocations", b"{}", [])

    asyncio.run(main())
