"""Hostile files at ingest: decompression bombs (413, nothing stored, memory bounded),
control characters in column names, ±inf values, lone surrogates in JSON."""

from __future__ import annotations

import gzip
import io
import json
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from shipyard.testing import LocalServer

#: The server's limits here: small enough for the bombs below to cross them in seconds.
MAX_ROWS = 2_000_000
MAX_BYTES = 256 * 1024**2


def _bomb(rows: int) -> bytes:
    """A .csv.gz of ``rows`` repeated lines, streamed through zlib (never whole in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    block = b"1,2\n" * (1 << 18)
    out = [packer.compress(b"a,b\n")]
    for _ in range(rows // (1 << 18)):
        out.append(packer.compress(block))
    out.append(packer.flush())
    return b"".join(out)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("home"),
                            SHIPYARD_MAX_UPLOAD_ROWS=str(MAX_ROWS),
                            SHIPYARD_MAX_DECOMPRESSED_BYTES=str(MAX_BYTES))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client() as c:  # 60 s per request
        yield c


def _objects(server: LocalServer) -> set[Path]:
    root = server.home / "artifacts" / "objects"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


class _PeakRss:
    """The server process's largest resident set size while the block runs, sampled."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.before = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _post(client: httpx.Client, name: str, filename: str, data: bytes,
          **fields: str) -> httpx.Response:
    return client.post("/api/v1/datasets", data={"name": name, **fields},
                       files={"file": (filename, data)})


@pytest.mark.slow
@pytest.mark.parametrize(("rows", "setting"), [
    (150_000_000, "SHIPYARD_MAX_DECOMPRESSED_BYTES"),  # 583 KB → 600 MB: the bytes cap
    (25_000_000, "SHIPYARD_MAX_UPLOAD_ROWS"),  # 100 MB, under the bytes cap: the rows cap
])
def test_a_decompression_bomb_is_refused(server: LocalServer, client: httpx.Client,
                                         rows: int, setting: str) -> None:
    bomb = _bomb(rows)
    assert len(bomb) < 1024 * 1024
    objects = _objects(server)
    assert server.proc is not None
    with _PeakRss(server.proc.pid) as rss:
        started = time.monotonic()
        r = _post(client, "bomb", "bomb.csv.gz", bomb)
        seconds = time.monotonic() - started
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "payload_too_large" and setting in error["message"]
    assert error["details"]["setting"] == setting
    assert client.get("/api/v1/datasets/bomb").status_code == 404
    assert _objects(server) == objects
    assert not list((server.home / "tmp").glob("ingest-*"))
    print(f"\n{len(bomb):,} B gzip of {rows:,} rows refused in {seconds:.1f} s by {setting}; "
          f"server RSS {rss.before / 2**20:.0f} MB before, {rss.peak / 2**20:.0f} MB at peak")


def test_a_json_bomb_is_refused(client: httpx.Client) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b'{"a": 1},' * (1 << 17)
    parts = [packer.compress(b"[")]
    for _ in range(MAX_BYTES // len(block) + 2):
        parts.append(packer.compress(block))
    parts.append(packer.compress(b'{"a": 1}]') + packer.flush())
    r = _post(client, "json-bomb", "bomb.json.gz", b"".join(parts))
    assert r.status_code == 413 and "SHIPYARD_MAX_DECOMPRESSED_BYTES" in r.text
    assert client.get("/api/v1/datasets/json-bomb").status_code == 404


def test_rows_are_counted_over_the_files_of_one_upload(client: httpx.Client) -> None:
    half = gzip.compress(b"a\n" + b"1\n" * (MAX_ROWS // 2 + 1))
    r = client.post("/api/v1/datasets", data={"name": "two-halves"},
                    files=[("file", ("one.csv.gz", half)), ("file", ("two.csv.gz", half))])
    assert r.status_code == 413 and "'two.csv.gz'" in r.json()["error"]["message"]
    r = client.post("/api/v1/datasets", data={"name": "two-halves"},
                    files=[("file", ("one.csv.gz", half))])
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("text", "char", "position"), [
    (b"a,b\x00c,d\n1,2,3\n", "\\x00", "column 2 of 3"),
    (b"\x01a,b\n1,2\n", "\\x01", "column 1 of 2"),
    (b"a,b,c\x7f\n1,2,3\n", "\\x7f", "column 3 of 3"),
    (b'a,"b\nc"\n1,2\n', "\\n", "column 2 of 2"),
])
def test_control_characters_in_column_names_are_refused(client: httpx.Client, text: bytes,
                                                        char: str, position: str) -> None:
    r = _post(client, "ctl", "c.csv", text)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "control character" in message and char in message and position in message
    assert client.get("/api/v1/datasets/ctl").status_code == 404


def test_a_nul_in_a_json_key_is_refused(client: httpx.Client) -> None:
    r = _post(client, "ctl-json", "c.jsonl", b'{"a\\u0000b": 1}\n')
    assert r.status_code == 400 and "control character" in r.json()["error"]["message"]


def test_infinities_are_accepted_and_counted(client: httpx.Client) -> None:
    text = "x,y,z\n1.5,1,a\ninf,2,b\n-inf,3,c\nInfinity,4,d\n-Infinity,5,e\nNaN,6,f\n2.5,7,g\n"
    r = _post(client, "inf", "inf.csv", text.encode())
    assert r.status_code == 201, r.text
    schema = {c["name"]: c for c in r.json()["schema"]}
    assert schema["x"]["dtype"] == "double"
    assert (schema["x"]["infinite"], schema["x"]["missing"]) == (4, 1)
    assert schema["y"]["infinite"] == 0 and schema["z"]["infinite"] == 0
    r = client.post("/api/v1/datasets/inf/profile", json={})
    assert r.status_code == 200, r.text
    warned = [w for w in r.json()["warnings"] if w["kind"] == "infinite"]
    assert [w["columns"] for w in warned] == [["x"]]
    assert "4 infinite values" in warned[0]["message"]
    assert "treats them as missing" in warned[0]["message"]
    r = client.get("/api/v1/datasets/inf/download", params={"format": "parquet"})
    got = pd.read_parquet(io.BytesIO(r.content))["x"].tolist()
    assert got[1:5] == [float("inf"), float("-inf"), float("inf"), float("-inf")]


@pytest.mark.parametrize(("filename", "data", "fragment"), [
    ("s.json", b'[{"a": "ok"}, {"a": "bad \\ud800 value"}]', "record 2"),
    ("s.jsonl", b'{"a": "ok"}\n{"a": ["x", "\\udfff"]}\n', "line 2"),
    ("s.json", b'[{"\\ud83d": 1}]', "column 1 of 1"),
    ("s.json", b'[{"a": "caf\xe9"}]', "not valid UTF-8"),
])
def test_text_that_is_not_unicode_in_json_is_400(client: httpx.Client, filename: str,
                                                 data: bytes, fragment: str) -> None:
    r = _post(client, "surrogate", filename, data)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert fragment in message
    assert client.get("/api/v1/datasets/surrogate").status_code == 404


def test_a_large_json_array_is_read_in_blocks(client: httpx.Client) -> None:
    """Over the 1 MiB block and the 50,000-record batch, with an error named at its line."""
    records = ",\n".join(f'{{"i": {i}, "s": "{"x" * 20}"}}' for i in range(120_000))
    r = _post(client, "big-json", "big.json", f"[\n{records}\n]".encode())
    assert r.status_code == 201, r.text
    assert r.json()["num_rows"] == 120_000
    broken = f"[\n{records},\n{{\"i\": 1,}}\n]"
    r = _post(client, "big-json-bad", "bad.json", broken.encode())
    assert r.status_code == 400
    assert "line 120002 column 9" in r.json()["error"]["message"]
    # All on one line, as json.dumps writes it: still read in blocks, the column still right.
    one_line = broken.replace("\n", "")
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(one_line)
    r = _post(client, "big-json-bad", "bad.json", one_line.encode())
    assert r.status_code == 400
    assert f"line 1 column {stdlib.value.colno}." in r.json()["error"]["message"]
