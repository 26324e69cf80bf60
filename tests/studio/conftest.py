"""One server and one Chromium for the studio's tests (package scope)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.testing import LocalServer

CHROMIUM = "/usr/bin/chromium"
TERMINAL = {"Completed", "Failed", "Stopped"}


def submit_script(api: httpx.Client, source: str, **fields: Any) -> dict:
    r = api.post("/api/v1/jobs", json={"kind": "script", "script": {
        "filename": "main.py", "source": source}, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def wait_for(api: httpx.Client, job_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] == status:
            return job
        assert job["status"] not in TERMINAL - {status}, job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.fixture(scope="package")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer.start(tmp_path_factory.mktemp("studio") / "home") as srv:
        yield srv


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def browser_like(srv: LocalServer) -> httpx.Client:
    """A client with a cookie jar that does not follow redirects (closed after the test)."""
    b = httpx.Client(base_url=srv.url, follow_redirects=False, timeout=30)
    _OPEN.append(b)
    return b


def signed_in(srv: LocalServer, role: str = "admin") -> tuple[httpx.Client, str]:
    """A browser-like client signed in through a one-time link as ``role``, and the CSRF
    token its pages carry."""
    api = srv.client(role)
    _OPEN.append(api)
    link = api.post("/api/v1/studio/links")
    assert link.status_code == 201, link.text
    b = browser_like(srv)
    r = b.get(link.json()["path"])
    assert r.status_code == 303 and r.headers["location"] == "/studio", r.text
    page = b.get("/studio")
    assert page.status_code == 200, page.text
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert found, page.text
    return b, found.group(1)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for the package (the system's: never a download)."""
    if not Path(CHROMIUM).exists():
        # CI installs it (.ci/run); elsewhere say how, but never pass without a browser there.
        assert not os.environ.get("CI"), "CI has no /usr/bin/chromium; .ci/run installs it"
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
