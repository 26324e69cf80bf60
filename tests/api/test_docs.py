"""``/api/v1/docs``: offline Swagger UI behind a sign-in, in real Chromium and over HTTP.

The browser test signs in through the form with a real token, waits for the docs to
render the API's operations, and checks that no request left 127.0.0.1, none failed,
and the page's strict CSP was never violated. The HTTP tests pin the cookie's rules:
HttpOnly, SameSite=Strict, not the token, good for GETs of the docs and the document
only, and dead once the token is revoked or the session expires.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from shipyard.testing import LocalServer

CHROMIUM = "/usr/bin/chromium"
COOKIE = "shipyard_session"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer.start(tmp_path_factory.mktemp("home"))
    try:
        yield server
    finally:
        server.stop()


def _sign_in(srv: LocalServer, token: str, **headers: str) -> httpx.Response:
    return httpx.post(srv.url + "/api/v1/sign-in", data={"token": token}, headers=headers)


def test_the_vendored_assets_are_the_published_files() -> None:
    folder = resources.files("shipyard.api").joinpath("static", "swagger-ui")
    sums = folder.joinpath("SHA256SUMS").read_text().split("\n")
    checked = 0
    for line in filter(None, sums):
        digest, name = line.split()
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest, name
        checked += 1
    assert checked == 3
    assert "Apache License" in folder.joinpath("LICENSE").read_text()
    assert "5.35.0" in folder.joinpath("VERSION.md").read_text()


def test_without_a_token_the_docs_are_closed(srv: LocalServer) -> None:
    r = httpx.get(srv.url + "/api/v1/docs")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    browser = httpx.get(srv.url + "/api/v1/docs", headers={"Accept": "text/html"})
    assert browser.status_code == 303 and browser.headers["location"] == "/api/v1/sign-in"
    assert httpx.get(srv.url + "/api/v1/openapi.json").status_code == 401
    assert httpx.get(srv.url + "/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 401
    form = httpx.get(srv.url + "/api/v1/sign-in")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "default-src 'none'" in form.headers["content-security-policy"]


def test_a_bearer_token_opens_the_docs_with_a_strict_csp(srv: LocalServer) -> None:
    r = srv.client("viewer").get("/api/v1/docs")
    assert r.status_code == 200 and "swagger-ui-bundle.js" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "https://" not in r.text and "http://" not in r.text  # nothing from a CDN
    js = srv.client("viewer").get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")


def test_sign_in_sets_a_session_cookie_that_opens_the_docs_only(srv: LocalServer) -> None:
    token = srv.token("data-scientist")
    bad = _sign_in(srv, "sy_not-a-token")
    assert bad.status_code == 401 and COOKIE not in bad.cookies
    assert "not an active Shipyard token" in bad.text
    foreign = _sign_in(srv, token, Origin="http://evil.example")
    assert foreign.status_code == 403 and COOKIE not in foreign.cookies
    r = _sign_in(srv, token)
    assert r.status_code == 303 and r.headers["location"] == "/api/v1/docs"
    header = r.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/api/v1" in header
    assert "Secure" not in header  # plain http on 127.0.0.1; https sets it
    session = r.cookies[COOKIE]
    assert token not in session and token[3:] not in session
    jar = {COOKIE: session}
    for path in ("/api/v1/docs", "/api/v1/openapi.json", "/api/v1/docs/assets/init.js"):
        assert httpx.get(srv.url + path, cookies=jar).status_code == 200, path
    # Anything else still needs the bearer token: the cookie changes and reads nothing.
    assert httpx.get(srv.url + "/api/v1/whoami", cookies=jar).status_code == 401
    assert httpx.get(srv.url + "/api/v1/datasets", cookies=jar).status_code == 401
    assert httpx.post(srv.url + "/api/v1/experiments", json={"name": "x"},
                      cookies=jar).status_code == 401
    tampered = session[:-1] + ("0" if session[-1] != "0" else "1")
    assert httpx.get(srv.url + "/api/v1/openapi.json",
                     cookies={COOKIE: tampered}).status_code == 401
    out = httpx.post(srv.url + "/api/v1/sign-out", cookies=jar)
    assert out.status_code == 303 and 'shipyard_session=""' in out.headers["set-cookie"]


def test_a_revoked_token_ends_its_sessions_at_once(srv: LocalServer) -> None:
    admin = srv.client()
    secret = admin.post("/api/v1/tokens", json={"name": "doc-reader", "role": "viewer"}
                        ).json()["token"]
    jar = {COOKIE: _sign_in(srv, secret).cookies[COOKIE]}
    assert httpx.get(srv.url + "/api/v1/docs", cookies=jar).status_code == 200
    assert admin.delete("/api/v1/tokens/doc-reader").json()["status"] == "Revoked"
    assert httpx.get(srv.url + "/api/v1/docs", cookies=jar).status_code == 401


def test_a_session_expires(tmp_path: Path) -> None:
    with LocalServer.start(tmp_path / "home", SHIPYARD_SESSION_SECONDS="1") as short:
        jar = {COOKIE: _sign_in(short, short.admin_token).cookies[COOKIE]}
        time.sleep(2.5)  # only ever more expired, however slow the machine
        assert httpx.get(short.url + "/api/v1/docs", cookies=jar).status_code == 401


@pytest.mark.slow
def test_the_docs_render_offline_in_chromium(srv: LocalServer, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        # CI installs it (.ci/run); elsewhere say how, but never pass without a browser there.
        assert not os.environ.get("CI"), "CI has no /usr/bin/chromium; .ci/run installs it"
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    failed: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.on("requestfailed", lambda req: failed.append(req.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(srv.url + "/api/v1/docs")
            assert page.url.endswith("/api/v1/sign-in")  # sent to the form first
            page.fill("#token", srv.token("viewer"))
            page.click("button[type=submit]")
            page.wait_for_url("**/api/v1/docs", timeout=60_000)
            page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
            title = page.inner_text(".swagger-ui .info .title")
            operations = page.locator(".swagger-ui .opblock").count()
            tags = page.inner_text(".swagger-ui").lower()
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
            cookies = {c["name"]: c for c in page.context.cookies()}
        finally:
            browser.close()
    assert "Shipyard" in title
    assert operations >= 80, operations
    assert "datasets" in tags and "monitors" in tags
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, hosts  # nothing left the machine: no CDN, no validator
    assert not failed, failed
    assert not problems, problems  # a CSP violation is a console error
    assert cookies[COOKIE]["httpOnly"] and cookies[COOKIE]["sameSite"] == "Strict"
