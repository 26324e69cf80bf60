"""The traversal corpus against every path-like field of the API.

Each field gets a 4xx (or, for an upload's file name, which is only used to detect
the format, a success that wrote nothing outside the home), and nothing outside
the server's home is read or touched.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from shipyard.testing import LocalServer
from shipyard.testing.corpus import TRAVERSAL

SECRET = "canary-secret-7f3a"


@pytest.fixture(scope="module")
def canary(server: LocalServer) -> Path:
    path = server.home.parent / "canary.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture(scope="module")
def job_id(server: LocalServer) -> str:
    c = server.client()
    c.post("/api/v1/datasets", data={"name": "t"},
           files={"file": ("t.csv", b"a,b\n1,2\n3,4\n", "text/csv")}).raise_for_status()
    r = c.post("/api/v1/jobs", json={"kind": "script", "script": {
        "filename": "m.py", "source": "open('model/x.txt','w').write('x')"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _outside_untouched(server: LocalServer, canary: Path, before: set[str]) -> None:
    assert canary.read_text() == SECRET
    assert {p.name for p in server.home.parent.iterdir()} == before


def _no_leak(text: str) -> None:
    assert SECRET not in text and "root:x:0:0" not in text


def _path_variants(name: str) -> list[str]:
    """The name as a URL path segment: raw where the URL can carry it, and percent-encoded."""
    out = [quote(name, safe="").replace(".", "%2E")]
    # A bare "." or ".." segment is resolved by the HTTP client itself (RFC 3986), so the
    # server would see another, legitimate URL; those go percent-encoded only.
    if name not in (".", "..") and not any(c in name for c in "\x00\\?#"):
        out.append(name)
    return out


@pytest.mark.parametrize("name", TRAVERSAL)
def test_names_in_bodies_are_refused(server: LocalServer, canary: Path, job_id: str,
                                     name: str) -> None:
    c = server.client()
    before = {p.name for p in server.home.parent.iterdir()}
    attempts = [
        c.post("/api/v1/datasets", data={"name": name},
               files={"file": ("x.csv", b"a\n1\n", "text/csv")}),
        c.post("/api/v1/jobs", json={"kind": "script",
                                     "script": {"filename": name, "source": "print(1)"}}),
        c.post("/api/v1/jobs", json={"kind": "processing", "inputs": {name: "t"},
                                     "script": {"filename": "p.py", "source": "print(1)"}}),
        c.post("/api/v1/jobs", json={"kind": "processing", "outputs": [name],
                                     "script": {"filename": "p.py", "source": "print(1)"}}),
        c.post("/api/v1/jobs", json={"kind": "processing", "inputs": {"raw": name},
                                     "script": {"filename": "p.py", "source": "print(1)"}}),
        c.post("/api/v1/tokens", json={"name": name, "role": "viewer"}),
        c.post("/api/v1/experiments", json={"name": name}),
        c.post(f"/api/v1/models/{quote(name, safe='')}/versions", json={"job_id": job_id}),
    ]
    for r in attempts:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        _no_leak(r.text)
    _outside_untouched(server, canary, before)


@pytest.mark.parametrize("name", TRAVERSAL)
def test_names_in_paths_are_refused(server: LocalServer, canary: Path, job_id: str,
                                    name: str) -> None:
    c = server.client()
    before = {p.name for p in server.home.parent.iterdir()}
    for seg in _path_variants(name):
        for method, url in [
            ("GET", f"/api/v1/datasets/{seg}"),
            ("GET", f"/api/v1/datasets/{seg}/versions"),
            ("GET", f"/api/v1/datasets/{seg}/head"),
            ("GET", f"/api/v1/datasets/{seg}/download"),
            ("DELETE", f"/api/v1/datasets/{seg}"),
            ("GET", f"/api/v1/datasets/t/download?version={seg}"),
            ("GET", f"/api/v1/jobs/{seg}"),
            ("GET", f"/api/v1/jobs/{seg}/logs"),
            ("GET", f"/api/v1/jobs/{job_id}/artifacts/{seg}"),
            ("GET", f"/api/v1/models/{seg}"),
            ("GET", f"/api/v1/models/g/versions/1/files/{seg}"),
            ("GET", f"/api/v1/experiments/{seg}"),
            ("DELETE", f"/api/v1/tokens/{seg}"),
        ]:
            r = c.request(method, url)
            assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text)
            _no_leak(r.text)
    assert c.get("/api/v1/datasets/t").status_code == 200  # the victim dataset is still there
    _outside_untouched(server, canary, before)


@pytest.mark.parametrize("name", TRAVERSAL)
def test_upload_file_names_are_never_paths(server: LocalServer, canary: Path, name: str) -> None:
    c = server.client()
    before = {p.name for p in server.home.parent.iterdir()}
    r = c.post("/api/v1/datasets", data={"name": "upload-name-test", "format": "csv"},
               files={"file": (name, b"a,b\n1,2\n", "text/csv")})
    assert r.status_code in (201, 400, 415), r.text
    _no_leak(r.text)
    if r.status_code == 201:
        assert c.delete("/api/v1/datasets/upload-name-test").status_code == 200
    _outside_untouched(server, canary, before)
