"""The studio's browser security, over real HTTP: sign-in, the session cookie, one-time
links, CSRF, the Host check, the security headers, roles, and user strings rendered inert."""

from __future__ import annotations

import hashlib
import re
import time
from importlib import resources

import httpx

from shipyard.studio._security import CSP
from shipyard.testing import LocalServer

from .conftest import browser_like, signed_in, submit_script, wait_for


def _keep(client: httpx.Client) -> httpx.Client:
    from .conftest import _OPEN

    _OPEN.append(client)
    return client


SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"


def test_htmx_is_the_pinned_published_file() -> None:
    static = resources.files("shipyard.studio").joinpath("static")
    digest = hashlib.sha256(static.joinpath("htmx.min.js").read_bytes()).hexdigest()
    licences = static.joinpath("LICENSES.md").read_text()
    assert digest in licences and "2.0.11" in licences and "0BSD" in licences


def test_without_a_session_pages_go_to_sign_in_and_actions_are_401(studio: LocalServer) -> None:
    b = browser_like(studio)
    r = b.get("/studio/jobs?status=Running")
    assert r.status_code == 303
    assert r.headers["location"] == "/studio/sign-in?next=%2Fstudio%2Fjobs%3Fstatus%3DRunning"
    assert b.post("/studio/jobs/job-x/cancel").status_code == 401
    assert b.get("/studio/static/htmx.min.js").status_code == 303
    # The stylesheet alone is open, so the sign-in page has the studio's look.
    css = b.get("/studio/static/studio.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["content-security-policy"] == CSP
    form = b.get("/studio/sign-in")
    assert form.status_code == 200 and form.headers["content-security-policy"] == CSP


def test_a_pasted_token_signs_in_with_a_strict_cookie(studio: LocalServer) -> None:
    b = browser_like(studio)
    bad = b.post("/studio/sign-in", data={"token": "sy_nope", "next": "/studio/jobs"})
    assert bad.status_code == 401 and "not an active Shipyard token" in bad.text
    ok = b.post("/studio/sign-in", data={"token": studio.token("viewer"),
                                         "next": "/studio/jobs"})
    assert ok.status_code == 303 and ok.headers["location"] == "/studio/jobs"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/studio" in cookie
    assert "Max-Age=28800" in cookie  # it expires (SHIPYARD_SESSION_SECONDS)
    assert studio.token("viewer") not in cookie
    assert b.get("/studio/jobs").status_code == 200
    # An open redirect is not: next stays on the studio.
    away = b.post("/studio/sign-in", data={"token": studio.token("viewer"),
                                           "next": "//evil.example/x"})
    assert away.headers["location"] == "/studio"
    # A form posted from another site is refused (login CSRF).
    cross = httpx.post(studio.url + "/studio/sign-in", data={"token": studio.token("viewer")},
                       headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    # A job's own token signs no browser in.
    job_token = "sy_job_not_a_user"
    assert b.post("/studio/sign-in", data={"token": job_token}).status_code == 401


def test_a_login_link_works_once(studio: LocalServer) -> None:
    link = _keep(studio.client()).post("/api/v1/studio/links").json()
    assert link["expires_at"] - time.time() <= 300
    b = browser_like(studio)
    assert b.get(link["path"]).status_code == 303
    again = httpx.get(studio.url + link["path"], follow_redirects=False)
    assert again.status_code == 401 and "used already or has expired" in again.text
    assert httpx.get(studio.url + "/studio/login?code=made-up").status_code == 401
    # The link needs a token: without one it is a 401 like every API route.
    assert httpx.post(studio.url + "/api/v1/studio/links").status_code == 401


def test_every_response_has_the_security_headers(studio: LocalServer) -> None:
    b, _ = signed_in(studio, "viewer")
    for path in ("/studio", "/studio/jobs", "/studio/models", "/studio/datasets",
                 "/studio/endpoints", "/studio/jobs/job-missing", "/studio/static/studio.js"):
        r = b.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert r.headers["content-security-policy"] == CSP, path
        assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    missing = b.get("/studio/jobs/job-missing")
    assert missing.status_code == 404 and "job-missing" in missing.text


def test_an_unknown_host_gets_nothing(studio: LocalServer) -> None:
    b, _ = signed_in(studio)
    r = b.get("/studio", headers={"Host": "evil.example"})
    assert r.status_code == 400 and "host name" in r.text
    assert b.get("/studio", headers={"Host": f"localhost:{studio.port}"}).status_code == 200


def test_csrf_and_roles_guard_every_action(studio: LocalServer) -> None:
    api = studio.client()
    _keep(api)
    job = submit_script(api, SLEEPER, name="guarded")
    wait_for(api, job["id"], "Running", timeout=60)
    b, csrf = signed_in(studio, "admin")
    url = f"/studio/jobs/{job['id']}/cancel"

    no_token = b.post(url)
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    wrong = b.post(url, headers={"X-CSRF-Token": "0" * 40})
    assert wrong.status_code == 403
    elsewhere = b.post(url, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert elsewhere.status_code == 403
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "Running"

    viewer, viewer_csrf = signed_in(studio, "viewer")
    page = viewer.get(f"/studio/jobs/{job['id']}").text
    assert 'id="cancel"' not in page  # a viewer sees no button it cannot use
    refused = viewer.post(url, headers={"X-CSRF-Token": viewer_csrf})
    assert refused.status_code == 403 and "viewer" in refused.text  # and is refused anyway
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "Running"

    assert 'id="cancel"' in b.get(f"/studio/jobs/{job['id']}").text
    done = b.post(url, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 204
    assert wait_for(api, job["id"], "Stopped", timeout=60)["status"] == "Stopped"
    # Sign-out needs the token too, and ends the session in this browser.
    assert b.post("/studio/sign-out").status_code == 403
    out = b.post("/studio/sign-out", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]


def test_user_strings_render_inert(studio: LocalServer) -> None:
    api = studio.client()
    _keep(api)
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    job = submit_script(api, f"print({evil!r})\n", name="inert")
    wait_for(api, job["id"], "Completed", timeout=60)
    b, _ = signed_in(studio)
    page = b.get(f"/studio/jobs/{job['id']}/log?offset=0").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page


def test_a_markdown_card_renders_without_script(studio: LocalServer) -> None:
    from shipyard.studio._markdown import render_markdown

    out = render_markdown("# Use\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
                          "[ok](https://example.org)\n\n| a |\n|---|\n| b |\n")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="javascript:' not in out  # left as text, not a link
    assert '<a href="https://example.org">ok</a>' in out
    assert re.search(r"<h1>Use</h1>", out) and "<table>" in out
