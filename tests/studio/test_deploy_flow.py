"""Approve → deploy → invoke from the studio: an approver approves a version on its page, a
data scientist deploys it from the same page's Deploy form, the endpoint comes up and the
test-invoke form answers. Plus the Deploy action's refusals over HTTP."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from endpoints.test_endpoints import wait_in_service
from shipyard.testing import LocalServer

from .conftest import _OPEN, signed_in, submit_script, wait_for

pytestmark = pytest.mark.slow

GROUP = "deploy-model"
BUNDLE = """from shipyard import runtime
from shipyard.testing.bundles import write_handmade_bundle
write_handmade_bundle(runtime.model_dir())
"""


def _api(srv: LocalServer, role: str = "admin") -> httpx.Client:
    c = srv.client(role)
    _OPEN.append(c)
    return c


def _register(srv: LocalServer) -> int:
    """A handmade bundle (one column ``x``, classes no/yes) registered as a new version of
    GROUP, PendingManualApproval; its number."""
    api = _api(srv)
    job = submit_script(api, BUNDLE, name="deploy-bundle")
    wait_for(api, job["id"], "Completed", timeout=120)
    r = api.post(f"/api/v1/models/{GROUP}/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


@pytest.fixture(scope="module")
def versions(studio: LocalServer) -> Iterator[dict[str, int]]:
    """Three versions of GROUP: ``pending`` (never approved), ``approved`` (through the API)
    and ``fresh`` (the browser test approves it); every endpoint made from them is deleted
    at the end."""
    found = {"pending": _register(studio), "approved": _register(studio),
             "fresh": _register(studio)}
    r = _api(studio).post(f"/api/v1/models/{GROUP}/versions/{found['approved']}/approve",
                          json={"comment": "ok"})
    assert r.status_code == 200, r.text
    yield found
    api = _api(studio)
    for ep in api.get("/api/v1/endpoints").json():
        if any(v["model"].startswith(f"{GROUP}:") for v in ep["variants"]):
            assert api.delete(f"/api/v1/endpoints/{ep['name']}").status_code == 200


def _names(srv: LocalServer) -> set[str]:
    return {e["name"] for e in _api(srv).get("/api/v1/endpoints").json()}


def _deploy(b: httpx.Client, version: int, csrf: str | None, **data: str) -> httpx.Response:
    headers = {"HX-Request": "true"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return b.post(f"/studio/models/{GROUP}/{version}/deploy", headers=headers,
                  data={"name": "never-made", "instances": "1", **data})


# -- over HTTP -------------------------------------------------------------------------------
def test_a_version_not_approved_has_no_deploy_form_and_is_refused_in_place(
        studio: LocalServer, versions: dict[str, int]) -> None:
    b, csrf = signed_in(studio, "data-scientist")
    page = b.get(f"/studio/models/{GROUP}/{versions['pending']}")
    assert page.status_code == 200, page.text
    assert 'id="deploy-form"' not in page.text
    before = _names(studio)
    r = _deploy(b, versions["pending"], csrf)
    assert r.status_code == 409, r.text
    assert r.text.startswith('<p class="error" role="alert">')
    assert "only Approved versions are deployed" in html.unescape(r.text)
    assert _names(studio) == before


def test_deploy_without_csrf_or_by_a_role_without_write_is_refused(
        studio: LocalServer, versions: dict[str, int]) -> None:
    before = _names(studio)
    b, _ = signed_in(studio, "data-scientist")
    assert _deploy(b, versions["approved"], None).status_code == 403
    for role in ("viewer", "approver"):
        b, csrf = signed_in(studio, role)
        page = b.get(f"/studio/models/{GROUP}/{versions['approved']}")
        assert 'id="deploy-form"' not in page.text
        r = _deploy(b, versions["approved"], csrf)
        assert r.status_code == 403, (role, r.text)
        assert "may not" in r.text or "permission" in r.text.lower(), r.text
    assert _names(studio) == before


def test_a_bad_name_or_instance_count_is_a_400_in_place(
        studio: LocalServer, versions: dict[str, int]) -> None:
    b, csrf = signed_in(studio, "data-scientist")
    before = _names(studio)
    cases = [({"name": "<b>bad name</b>"}, "Invalid endpoint name"),
             ({"name": ""}, "Invalid endpoint name"),
             ({"instances": "two"}, "instances must be a whole number; got 'two'"),
             ({"instances": "0"}, "1 to 16 instances"),
             ({"capture_percent": "150"}, "percentage from 0 to 100")]
    assert 'id="deploy-form"' in b.get(f"/studio/models/{GROUP}/{versions['approved']}").text
    for change, message in cases:
        r = _deploy(b, versions["approved"], csrf, **change)
        assert r.status_code == 400, (change, r.status_code, r.text)
        assert message in html.unescape(r.text), (change, r.text)
        assert "<b>" not in r.text  # the name is echoed as text
    assert _names(studio) == before


# -- in the browser --------------------------------------------------------------------------
def test_approve_then_deploy_then_invoke_from_the_pages(
        signed_in_page: Any, studio: LocalServer, versions: dict[str, int]) -> None:
    number = versions["fresh"]
    url = f"{studio.url}/studio/models/{GROUP}/{number}"
    api = _api(studio)

    approver = signed_in_page("approver")
    page = approver.page
    page.goto(url)
    assert page.locator("#deploy-form").count() == 0  # pending, and an approver cannot write
    page.fill("#comment", "Checked the hold-out metrics")
    page.click("#decision button[value=approve]")
    page.locator("dd", has_text="Checked the hold-out metrics").wait_for(timeout=60_000)
    assert page.locator("#deploy-form").count() == 0  # approved, but still no write
    approver.shot("deploy-1-approved")
    approver.clean()
    assert api.get(f"/api/v1/models/{GROUP}/versions/{number}").json()["status"] == "Approved"

    scientist = signed_in_page("data-scientist")
    page = scientist.page
    page.goto(url)
    name = f"{GROUP}-v{number}"
    assert page.input_value("#deploy-name") == name  # a name is offered
    assert page.input_value("#deploy-instances") == "1"
    scientist.shot("deploy-2-form")
    page.click("#deploy-form button[type=submit]")
    page.wait_for_url(f"{studio.url}/studio/endpoints/{name}", timeout=30_000)
    page.locator("#endpoint-status", has_text="InService").wait_for(timeout=120_000)
    doc = wait_in_service(api, name)
    assert doc["created_by"] == "test-data-scientist"
    assert [v["model"] for v in doc["variants"]] == [f"{GROUP}:{number}"]
    assert "1 healthy of 1" in page.inner_text("#endpoint-instances")

    page.fill("#invoke-body", '[{"x": 0.5}, {"x": 2.5}]')
    page.click("#invoke-form button[type=submit]")
    page.locator("#invoke-result pre", has_text="predictions").wait_for(timeout=30_000)
    answer = json.loads(page.inner_text("#invoke-result pre"))
    assert answer["predictions"] == ["no", "yes"], answer
    assert "HTTP 200" in page.inner_text("#invoke-result")
    scientist.shot("deploy-3-invoked")

    # The same name again is the service's own 409, shown in place.
    page.goto(url)
    page.click("#deploy-form button[type=submit]")
    page.locator("#deploy-result .error").wait_for(timeout=30_000)
    assert name in page.inner_text("#deploy-result")
    scientist.problems.clear()  # the 409 is the answer under test, not a fault
    scientist.clean()

    assert api.delete(f"/api/v1/endpoints/{name}").status_code == 200
    assert name not in _names(studio)
