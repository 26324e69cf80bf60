"""One server and one Chromium for the studio's tests (package scope)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shipyard.testing import LocalServer

CHROMIUM = "/usr/bin/chromium"
#: Where browser tests save their screenshots (kept after the run; ``build/`` is ignored by
#: git). ``SHIPYARD_SCREENSHOTS`` moves them.
SCREENSHOTS = Path(os.environ.get("SHIPYARD_SCREENSHOTS")
                   or Path(__file__).resolve().parents[2] / "build" / "screenshots")
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


class Watched:
    """A page with every request, failed request and console error recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", self._failed)
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)

    def _failed(self, request: Any) -> None:
        # A request the browser itself dropped because the page moved on (a lazy frame
        # still loading when the test clicks away) is not a fault; any other failure is.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed {request.url}: {request.failure}")

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as ``build/screenshots/<name>.png``; its path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def clean(self) -> None:
        hosts = {urlsplit(u).hostname for u in self.requests if not u.startswith("data:")}
        assert hosts <= {"127.0.0.1"}, hosts  # nothing leaves the machine
        assert not self.problems, self.problems  # a CSP violation is a console error


@contextmanager
def open_pages(browser: Any, srv: LocalServer) -> Iterator[Callable[..., Watched]]:
    """``open_as(role, token=None, **context_options)``: a fresh browser context on ``srv``,
    signed in as ``role`` (or with ``token``, an annotator's own) through a one-time link,
    its page watched; every context closed at exit. It lands on the studio's home, which
    for a token that may only label is its queues."""
    contexts: list[Any] = []
    home = re.compile(re.escape(srv.url) + r"/studio(/labeling)?")

    def open_as(role: str = "admin", *, token: str | None = None, **options: Any) -> Watched:
        api = srv.client(role) if token is None else httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {token}"})
        _OPEN.append(api)
        link = api.post("/api/v1/studio/links").json()["path"]
        context = browser.new_context(**options)
        contexts.append(context)
        watched = Watched(context.new_page())
        watched.page.goto(srv.url + link)
        watched.page.wait_for_url(home)
        return watched

    try:
        yield open_as
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def signed_in_page(browser: Any, studio: LocalServer) -> Iterator[Callable[..., Watched]]:
    """``signed_in_page(role)``: a watched page of the package's server, signed in."""
    with open_pages(browser, studio) as open_as:
        yield open_as
