"""The studio with a keyboard only, every field named, and every page fitting a laptop.

- Keyboard: "Skip to content" is the first stop and moves focus to ``<main>``; Tab reaches
  the navigation, Enter follows a section's link, and a form (the SQL editor) is filled
  and sent, its result shown, with no mouse. Every Tab stop on every page shows a focus
  outline.
- Labels: every input, select and textarea on every page has an accessible name (a
  ``<label>``, ``aria-label`` or ``aria-labelledby``).
- Width: at 1280x720 and 1024x640 no page is wider than the window; a wide table scrolls
  in its own box.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from endpoints.test_endpoints import wait_in_service
from shipyard.testing import LocalServer

from .conftest import _OPEN, Watched, submit_script, wait_for

pytestmark = pytest.mark.slow

DATASET, BASELINE, GROUP, ENDPOINT = "kb-data", "kb-baseline", "kb-model", "kb-ep"
EXPERIMENT, MONITOR, PIPELINE = "kb-exp", "kb-mon", "kb-pipe"
BUNDLE = """from shipyard import runtime
from shipyard.testing.bundles import write_handmade_bundle
print("a long line " + "x" * 400, flush=True)
write_handmade_bundle(runtime.model_dir())
"""
#: The focused element's outline or ring, as the user sees it (``none`` if neither).
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: "body", ring: false};
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || "").trim(),
          ring: outline || s.boxShadow !== "none"};
}"""
#: Fields with no accessible name: no <label>, aria-label or aria-labelledby.
UNNAMED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter(el => el.type !== "hidden")
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                && !el.getAttribute("aria-labelledby"))
  .map(el => el.outerHTML.slice(0, 120))"""
#: How much wider than the window the document is (0: it fits), and what sticks out.
OVERFLOW = """() => {
  const d = document.documentElement;
  const wide = [...document.querySelectorAll("main *")]
    .filter(el => el.getBoundingClientRect().right > d.clientWidth + 1)
    .filter(el => !el.parentElement.closest(".scroll, pre, svg"))
    .slice(0, 3).map(el => el.outerHTML.slice(0, 100));
  return {over: d.scrollWidth - d.clientWidth, wide};
}"""


def _api(srv: LocalServer) -> httpx.Client:
    c = srv.client()
    _OPEN.append(c)
    return c


@pytest.fixture(scope="module")
def objects(studio: LocalServer) -> Iterator[dict[str, Any]]:
    """A dataset with a wide table, a job (a run of an experiment) with a long log line, an
    Approved model version, an endpoint on it with a monitor, and a pipeline with an
    execution, so every detail page has its forms; the endpoint is deleted at the end."""
    api = _api(studio)
    header = ",".join(f"a_rather_long_column_name_{i}" for i in range(30))
    body = "\n".join(",".join(str(i * j) for j in range(30)) for i in range(25))
    r = api.post("/api/v1/datasets", data={"name": DATASET, "description": "Wide."},
                 files={"file": ("wide.csv", f"{header}\n{body}\n".encode(), "text/csv")})
    assert r.status_code in (201, 409), r.text
    r = api.post("/api/v1/datasets", data={"name": BASELINE},
                 files={"file": ("b.csv", b"x,label\n0,no\n1,no\n2,yes\n3,yes\n", "text/csv")})
    assert r.status_code in (201, 409), r.text
    job = submit_script(api, BUNDLE, name="kb-bundle", experiment=EXPERIMENT)
    wait_for(api, job["id"], "Completed", timeout=120)
    r = api.post(f"/api/v1/models/{GROUP}/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = api.post(f"/api/v1/models/{GROUP}/versions/{version}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    r = api.post("/api/v1/endpoints", json={"name": ENDPOINT, "model": f"{GROUP}:{version}"})
    assert r.status_code == 202, r.text
    wait_in_service(api, ENDPOINT)
    r = api.post("/api/v1/monitors", json={"name": MONITOR, "endpoint": ENDPOINT,
                                           "baseline": BASELINE})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/pipelines", json={
        "name": PIPELINE, "parameters": [{"name": "greeting", "type": "string",
                                          "default": "hello"}],
        "steps": [{"name": "say", "type": "processing", "job": {
            "script": {"filename": "step.py", "source": "print('hello')\n"}}}]})
    assert r.status_code == 201, r.text
    r = api.post(f"/api/v1/pipelines/{PIPELINE}/executions", json={})
    assert r.status_code in (200, 201, 202), r.text
    yield {"job": job["id"], "version": version, "execution": r.json()["id"]}
    with studio.client() as c:  # its instance stops, so later tests run alone
        assert c.delete(f"/api/v1/monitors/{MONITOR}").status_code == 200
        assert c.delete(f"/api/v1/endpoints/{ENDPOINT}").status_code == 200


def _pages(objects: dict[str, Any]) -> list[str]:
    """Every section and a detail page of each kind this module made (paths)."""
    from shipyard.studio._nav import SECTIONS

    return [f"/studio{s.path}" for s in SECTIONS] + [
        f"/studio/datasets/{DATASET}", f"/studio/jobs/{objects['job']}",
        f"/studio/models/{GROUP}", f"/studio/models/{GROUP}/{objects['version']}",
        f"/studio/endpoints/{ENDPOINT}", f"/studio/canvas/data/{DATASET}",
        f"/studio/experiments/{EXPERIMENT}", f"/studio/monitors/{MONITOR}",
        f"/studio/pipelines/{PIPELINE}", f"/studio/pipeline-executions/{objects['execution']}"]


def _tab_to(w: Watched, wanted: str, most: int = 60, back: bool = False) -> dict[str, Any]:
    """Press Tab (Shift+Tab with ``back``) until the focused element's text or id is
    ``wanted``; every stop on the way must show a focus ring."""
    for _ in range(most):
        w.page.keyboard.press("Shift+Tab" if back else "Tab")
        focus = w.page.evaluate(FOCUS_RING)
        if focus["tag"] != "body":
            assert focus["ring"], f"no visible focus on {focus}"
        if wanted in (focus.get("text"), focus.get("id")):
            return focus
    raise AssertionError(f"{wanted!r} not reached in {most} Tab presses")


def test_a_keyboard_user_skips_navigates_and_submits_a_form(
        signed_in_page: Any, studio: LocalServer, objects: dict[str, Any]) -> None:
    w = signed_in_page("data-scientist")
    page = w.page
    page.goto(f"{studio.url}/studio")
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUS_RING)
    assert first["text"] == "Skip to content" and first["ring"], first
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # From <main>, Shift+Tab walks back up into the navigation.
    _tab_to(w, "Canvas", back=True)
    focus = _tab_to(w, "Jobs", back=True)
    assert focus["tag"] == "a"
    # Forward again to the SQL section, and follow it with Enter.
    _tab_to(w, "SQL", back=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{studio.url}/studio/sql")
    assert page.locator("header nav a[aria-current=page]").inner_text() == "SQL"
    _tab_to(w, "sql-query")
    page.keyboard.press("Control+A")
    page.keyboard.type(f'SELECT count(*) AS n FROM datasets."{DATASET}"')
    _tab_to(w, "sql-run")
    page.keyboard.press("Space")
    page.locator("#sql-table td", has_text="25").wait_for(timeout=30_000)
    assert page.inner_text("#sql-table th") == "n"
    # The focus is still on the button, not lost to the page.
    assert page.evaluate("document.activeElement.id") == "sql-run"
    w.shot("keyboard-sql")
    w.clean()


def _stops_without_a_ring(w: Watched, most: int = 120) -> list[dict[str, Any]]:
    """Tab through the whole page (until the focus comes round to the top again); the stops
    that showed no focus ring."""
    bad, seen = [], 0
    for _ in range(most):
        w.page.keyboard.press("Tab")
        focus = w.page.evaluate(FOCUS_RING)
        if focus["tag"] == "body" or (seen and focus.get("text") == "Skip to content"):
            break
        seen += 1
        if not focus["ring"]:
            bad.append(focus)
    assert seen > 5, "the page has hardly anything to Tab to"
    return bad


def test_every_field_has_a_name_and_every_tab_stop_shows_focus(
        signed_in_page: Any, studio: LocalServer, objects: dict[str, Any]) -> None:
    w = signed_in_page("admin")
    unnamed: dict[str, list[str]] = {}
    unringed: dict[str, list[dict[str, Any]]] = {}
    for path in _pages(objects):
        w.page.goto(studio.url + path)
        w.page.wait_for_load_state("networkidle")
        found = w.page.evaluate(UNNAMED)
        if found:
            unnamed[path] = found
        bad = _stops_without_a_ring(w)
        if bad:
            unringed[path] = bad
    assert not unnamed, json.dumps(unnamed, indent=1)
    assert not unringed, json.dumps(unringed, indent=1)
    w.clean()


@pytest.mark.parametrize("size", [(1280, 720), (1024, 640)], ids=["1280x720", "1024x640"])
def test_no_page_is_wider_than_a_laptop_window(signed_in_page: Any, studio: LocalServer,
                                               objects: dict[str, Any],
                                               size: tuple[int, int]) -> None:
    width, height = size
    w = signed_in_page("admin", viewport={"width": width, "height": height})
    too_wide: dict[str, Any] = {}
    for path in _pages(objects):
        w.page.goto(studio.url + path)
        w.page.wait_for_load_state("networkidle")
        found = w.page.evaluate(OVERFLOW)
        if found["over"] > 0:
            too_wide[path] = found
    assert not too_wide, json.dumps(too_wide, indent=1)
    if width == 1024:
        for name, path in (("home", "/studio"), ("dataset", f"/studio/datasets/{DATASET}"),
                           ("job", f"/studio/jobs/{objects['job']}"),
                           ("endpoint", f"/studio/endpoints/{ENDPOINT}")):
            w.page.goto(studio.url + path)
            w.page.wait_for_load_state("networkidle")
            w.shot(f"laptop-1024-{name}")
    w.clean()


def test_the_sign_in_page_has_the_studios_look_and_works_from_the_keyboard(
        browser: Any, studio: LocalServer) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 640})
    try:
        w = Watched(context.new_page())
        page = w.page
        page.goto(f"{studio.url}/studio/jobs")  # no session: on to the sign-in page
        page.wait_for_url(f"{studio.url}/studio/sign-in?next=%2Fstudio%2Fjobs")
        header = page.eval_on_selector("header", "el => getComputedStyle(el).backgroundColor")
        assert header == "rgb(13, 27, 42)"  # studio.css loaded, as on every other page
        assert page.evaluate(OVERFLOW)["over"] <= 0
        focus = _tab_to(w, "token", most=5)
        assert focus["ring"]
        page.keyboard.type("not-a-token")
        page.keyboard.press("Enter")
        page.locator("p.error[role=alert]").wait_for(timeout=10_000)
        assert "not an active Shipyard token" in page.inner_text("p.error")
        w.shot("laptop-1024-sign-in")
        # The refusal under test (its 401, and the console's note of it) is no fault.
        assert all("401" in p for p in w.problems), w.problems
        w.problems.clear()
        # A real token, typed and sent from the keyboard, signs in.
        _tab_to(w, "token", most=5)
        page.keyboard.type(studio.token("viewer"))
        page.keyboard.press("Enter")
        page.wait_for_url(f"{studio.url}/studio/jobs")
        assert "viewer" in page.inner_text("header .who")
        w.clean()
    finally:
        context.close()
