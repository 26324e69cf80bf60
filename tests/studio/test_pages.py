"""The studio's pages in a real browser (the system's Chromium, driven by Playwright)."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.testing import LocalServer

from .conftest import _OPEN, submit_script, wait_for

pytestmark = pytest.mark.slow

TICKER = """import time
from shipyard import runtime
for i in range(400):
    print(f"line {i}", flush=True)
    runtime.log_metric("loss", 1.0 / (i + 1), step=i)
    time.sleep(0.25)
"""
BUNDLE = """from shipyard import runtime
from shipyard.testing.bundles import write_handmade_bundle
write_handmade_bundle(runtime.model_dir())
"""


def test_every_section_renders_offline_with_no_csp_error(signed_in_page: Any,
                                                         studio: LocalServer) -> None:
    w = signed_in_page("viewer")
    page = w.page
    titles = page.locator("header nav a").all_inner_texts()
    from shipyard.studio._nav import SECTIONS

    assert titles == [s.title for s in SECTIONS]  # a viewer may read every section
    assert titles[:2] == ["Home", "Datasets"] and "Canvas" in titles
    for title in titles:
        page.click(f"header nav a:text-is('{title}')")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.inner_text()
        assert page.locator("header nav a[aria-current=page]").inner_text() == title
    assert "viewer" in page.inner_text("header .who")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["shipyard_studio"]["httpOnly"]
    assert cookies["shipyard_studio"]["sameSite"] == "Strict"
    w.clean()


def test_a_running_job_updates_live_and_is_cancelled_from_its_page(
        signed_in_page: Any, studio: LocalServer) -> None:
    api = studio.client()
    _OPEN.append(api)
    job = submit_script(api, TICKER, name="ticker")
    wait_for(api, job["id"], "Running")
    w = signed_in_page("admin")
    page = w.page
    page.goto(f"{studio.url}/studio/jobs/{job['id']}")
    page.locator("#log", has_text="line 3").wait_for(timeout=60_000)
    first = page.inner_text("#log")
    # The log grows in place (htmx polls for the next bytes); the page is not reloaded.
    page.locator("#log", has_text="line 12").wait_for(timeout=60_000)
    assert page.inner_text("#log").startswith(first[:20])
    page.wait_for_selector("#metrics svg polyline", timeout=60_000)
    assert "loss" in page.inner_text("#metrics")

    page.on("dialog", lambda d: d.accept())
    page.click("#cancel")
    stopped = wait_for(api, job["id"], "Stopped", timeout=60)
    assert stopped["status"] == "Stopped"
    page.locator("#job-status", has_text="Stopped").wait_for(timeout=60_000)
    assert page.locator("#cancel").count() == 0
    w.clean()


def test_an_approver_approves_from_the_page_and_the_card_renders_inert(
        signed_in_page: Any, studio: LocalServer) -> None:
    api = studio.client()
    _OPEN.append(api)
    job = submit_script(api, BUNDLE, name="bundle")
    wait_for(api, job["id"], "Completed", timeout=120)
    version = api.post("/api/v1/models/studio-model/versions", json={"job_id": job["id"]})
    assert version.status_code == 201, version.text
    number = version.json()["version"]
    url = f"{studio.url}/studio/models/studio-model/{number}"

    # The owner writes the card as Markdown; a script in it stays text.
    owner = signed_in_page("admin")
    owner.page.goto(url)
    owner.page.click("details summary")
    owner.page.fill("#card-intended_use",
                    "**Retention** campaigns.\n\n<script>window.pwned=1</script>")
    owner.page.click("#card-form button[type=submit]")
    section = "#card-section-intended_use"
    owner.page.wait_for_selector(f"{section} strong", timeout=60_000)
    assert owner.page.inner_text(f"{section} strong") == "Retention"
    assert "<script>window.pwned=1</script>" in owner.page.inner_text(section)
    assert owner.page.evaluate("window.pwned") is None
    owner.clean()

    viewer = signed_in_page("viewer")
    viewer.page.goto(url)
    assert viewer.page.locator("#decision").count() == 0  # no buttons it cannot use
    assert viewer.page.locator("#card-form").count() == 0
    viewer.clean()

    approver = signed_in_page("approver")
    page = approver.page
    page.goto(url)
    page.fill("#comment", "AUC above the bar")
    page.click("#decision button[value=approve]")
    page.locator("dd", has_text="AUC above the bar").wait_for(timeout=60_000)
    rec = api.get(f"/api/v1/models/studio-model/versions/{number}").json()
    assert rec["status"] == "Approved" and rec["status_comment"] == "AUC above the bar"
    assert page.locator("#decision button[value=approve]").count() == 0  # done
    assert page.locator("#decision button[value=reject]").count() == 1  # still possible
    approver.clean()

    # An empty comment is the service's own 400, shown in place.
    job2 = submit_script(api, BUNDLE, name="bundle-2")
    wait_for(api, job2["id"], "Completed", timeout=120)
    second = api.post("/api/v1/models/studio-model/versions", json={"job_id": job2["id"]})
    again = signed_in_page("approver")
    again.page.goto(f"{studio.url}/studio/models/studio-model/{second.json()['version']}")
    again.page.evaluate("document.querySelector('#comment').removeAttribute('required')")
    again.page.click("#decision button[value=reject]")
    again.page.wait_for_selector("#action-result .error", timeout=60_000)
    assert "needs a comment" in again.page.inner_text("#action-result")
    assert api.get(f"/api/v1/models/studio-model/versions/{second.json()['version']}"
                   ).json()["status"] == "PendingManualApproval"
