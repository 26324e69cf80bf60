"""Per-route body limits (declared and streamed) and the read timeout on request bodies.

The two reproductions of the issue: a 200 MB job spec used to be buffered whole before
its 10 MB script check (RSS +400 MB), and a 1 GiB Content-Length with a 10-byte body
held the request forever.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from shipyard.api import create_app
from shipyard.api._body import INVOCATION, JSON, UPLOAD
from shipyard.settings import Settings
from shipyard.testing import LocalServer

MIB = 1024**2
TIMEOUT = 2.0
pytestmark = pytest.mark.slow  # real servers, and bodies that time out


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer.start(tmp_path_factory.mktemp("limits") / "home",
                               SHIPYARD_BODY_TIMEOUT=str(TIMEOUT))
    try:
        yield server
    finally:
        server.stop()


def _head(srv: LocalServer, method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Authorization: Bearer {srv.admin_token}", *(f"{k}: {v}" for k, v in
                                                          headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, wait: float = 60.0) -> tuple[int, dict]:
    """Read one response (status, JSON body) from a raw socket."""
    sock.settimeout(wait)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split()[1]), json.loads(body[:length])


def _rss(srv: LocalServer) -> int:
    assert srv.proc is not None
    return psutil.Process(srv.proc.pid).memory_info().rss


def test_the_route_table_covers_every_write_route(tmp_path: Path) -> None:
    settings = Settings.from_env(home=tmp_path)
    app = create_app(settings)
    table = {(r.method, r.path): r for r in app.state.route_limits.table()}
    doc = app.openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            limit = table[(method.upper(), path)]
            content = (op.get("requestBody") or {}).get("content", {})
            if "multipart/form-data" in content:
                assert (limit.kind, limit.limit) == (UPLOAD, settings.max_upload_bytes), path
            elif path.endswith("/invocations"):
                assert limit.kind == INVOCATION and limit.limit <= 16 * MIB
            else:
                assert limit.kind == JSON and limit.limit <= 16 * MIB, path
    assert table[("POST", "/api/v1/jobs")].limit == 16 * MIB
    assert table[("PATCH", "/api/v1/jobs/{job_id}")].limit == settings.max_json_bytes == MIB


def test_declared_200_mb_spec_is_refused_unread(srv: LocalServer) -> None:
    before = _rss(srv)
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head(srv, "POST", "/api/v1/jobs", {
            "Content-Type": "application/json", "Content-Length": str(200 * MIB)}))
        sock.sendall(b'{"kind": "script", "script": {"filename": "a.py", "source": "')
        status, body = _answer(sock, wait=30)
    assert status == 413 and body["error"]["details"]["limit"] == 16 * MIB
    assert "POST /api/v1/jobs takes a JSON body of at most" in body["error"]["message"]
    growth = (_rss(srv) - before) / MIB
    print(f"\nRSS growth, declared 200 MB spec: {growth:.1f} MiB")
    assert growth < 32


def test_chunked_200_mb_spec_stops_at_the_limit(srv: LocalServer) -> None:
    """No Content-Length to check: the limit is enforced as the bytes arrive."""
    before = _rss(srv)
    sent = 0
    chunk = b"a" * MIB
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head(srv, "POST", "/api/v1/jobs", {
            "Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        try:
            for _ in range(200):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += 1
        except OSError:
            pass  # the server answered and closed: what is left was never read
        status, body = _answer(sock, wait=30)
    assert status == 413, body
    assert sent < 200, "the server read the whole 200 MB"
    growth = (_rss(srv) - before) / MIB
    print(f"\nRSS growth, chunked 200 MB spec: {growth:.1f} MiB ({sent} MiB sent before the "
          "413 closed the connection)")
    assert growth < 64
    assert srv.client().get("/api/v1/whoami").status_code == 200


@pytest.mark.parametrize(("path", "ctype", "prefix"), [
    # An upload may be 2 GiB, so 1 GiB declared is within its limit: only the timeout helps.
    ("/api/v1/datasets", "multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nslow\r\n'),
    # A JSON route: declared within the limit, then silence.
    ("/api/v1/experiments", "application/json", b'{"name": "sl'),
])
def test_a_silent_body_times_out(srv: LocalServer, path: str, ctype: str,
                                 prefix: bytes) -> None:
    declared = 2**30 if path == "/api/v1/datasets" else 1000
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head(srv, "POST", path, {"Content-Type": ctype,
                                                "Content-Length": str(declared)}))
        sock.sendall(prefix)
        status, body = _answer(sock, wait=60)
    waited = time.monotonic() - t0
    assert status == 408 and body["error"]["code"] == "request_timeout", body
    assert f"nothing came for {TIMEOUT:g} s after {len(prefix)} bytes" in \
        body["error"]["message"]
    assert waited >= TIMEOUT  # it did wait for the body first
    assert srv.client().get("/api/v1/datasets/slow").status_code == 404  # nothing stored


def test_a_1_gib_declaration_on_a_json_route_is_answered_at_once(srv: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head(srv, "POST", "/api/v1/jobs", {
            "Content-Type": "application/json", "Content-Length": str(2**30)}))
        sock.sendall(b"0123456789")
        status, body = _answer(sock, wait=30)
    assert status == 413 and "1073741824 bytes" in body["error"]["message"]


def test_a_stalled_chunked_body_times_out(srv: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head(srv, "POST", "/api/v1/datasets", {
            "Content-Type": "multipart/form-data; boundary=b",
            "Transfer-Encoding": "chunked"}))
        part = b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        status, body = _answer(sock, wait=60)
    assert status == 408, body


def test_small_overage_gets_its_413_not_a_reset(srv: LocalServer) -> None:
    """A body a little over its limit is read and dropped, so a plain client sees the 413."""
    big = {"name": "x", "description": "d" * (2 * MIB)}
    r = srv.client().post("/api/v1/experiments", json=big)
    assert r.status_code == 413 and r.json()["error"]["details"]["limit"] == MIB
    # The same connection goes on working.
    assert srv.client().get("/api/v1/whoami").status_code == 200


def test_uploads_over_their_limit(tmp_path: Path) -> None:
    """An upload past ``max_upload_bytes`` is refused while it streams; nothing is kept."""
    with LocalServer.start(tmp_path / "home", SHIPYARD_MAX_UPLOAD_BYTES=str(MIB)) as srv:
        rows = b"a,b\n" + b"1,2\n" * (MIB // 2)
        r = srv.client().post("/api/v1/datasets", data={"name": "big"},
                              files={"file": ("big.csv", rows, "text/csv")})
        assert r.status_code == 413, r.text
        assert "POST /api/v1/datasets takes an upload of at most 1048576 bytes" in \
            r.json()["error"]["message"]
        client = srv.client()
        assert client.get("/api/v1/datasets/big").status_code == 404
        assert not list((srv.home / "tmp").glob("upload-*"))
        ok = client.post("/api/v1/datasets", data={"name": "small"},
                         files={"file": ("s.csv", b"a,b\n1,2\n", "text/csv")})
        assert ok.status_code == 201
        assert httpx.get(srv.url + "/healthz").status_code == 200


def test_a_chunked_upload_over_its_limit(tmp_path: Path) -> None:
    """No Content-Length: the upload is cut when its bytes pass the limit, mid-parse."""
    with LocalServer.start(tmp_path / "home", SHIPYARD_MAX_UPLOAD_BYTES=str(MIB)) as srv:
        boundary = "shipyardlimit"

        def body() -> Iterator[bytes]:
            yield (f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'
                   f"big\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                   'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\na,b\n').encode()
            for _ in range(64):
                yield b"1,2\n" * 16384  # 64 KiB at a time, 4 MiB in all
            yield f"\r\n--{boundary}--\r\n".encode()

        client = srv.client()
        r = client.post("/api/v1/datasets", content=body(),
                        headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413, r.text
        assert client.get("/api/v1/datasets/big").status_code == 404
        assert not list((srv.home / "tmp").glob("upload-*"))
        assert "Exception in ASGI application" not in srv.log()
