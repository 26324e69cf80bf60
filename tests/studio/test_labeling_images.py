"""Image tasks on the studio's Label page, in Chromium: scikit-learn's digits classified
with the keys, boxes drawn, moved, resized, clamped and deleted with the mouse on a PNG
drawn with Pillow, and undo; the stored answers are read back over REST. Then the
containment checks: another annotator neither gets an image it does not hold nor undoes
the first one's answer.

All three tests share the package's server and one module of jobs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.testing import LocalServer
from shipyard.testing.images import digits_folder, rectangle_png

from .conftest import _OPEN, Watched, browser_like, open_pages

DIGITS = 5  # the first five digits are 0, 1, 2, 3, 4
#: The boxes' images: (file, size); the first one is the one boxed.
SHAPES = [("a.png", (160, 120)), ("b.png", (96, 64))]
JOBS = "/api/v1/labeling-jobs"
FITS = "document.documentElement.scrollWidth <= window.innerWidth"
#: The image's drawn rectangle (left, top, width, height) and the window's size.
IMAGE_RECT = """() => {
  const r = document.getElementById('item-image').getBoundingClientRect();
  const img = document.getElementById('item-image');
  return [r.left, r.top, r.width, r.height, window.innerWidth, window.innerHeight,
          img.naturalWidth];
}"""


def _upload(srv: LocalServer, name: str, folder: Path) -> None:
    files = [("file", (p.relative_to(folder).as_posix(), p.read_bytes(), "image/png"))
             for p in sorted(folder.rglob("*.png"))]
    r = srv.client().post(f"/api/v1/datasets/{name}/files", files=files)
    assert r.status_code == 201, r.text


def _token(srv: LocalServer, name: str) -> str:
    r = srv.client().post("/api/v1/tokens", json={"name": name, "role": "annotator"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _as(srv: LocalServer, token: str) -> httpx.Client:
    """An API client with ``token`` (closed after the test)."""
    client = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    _OPEN.append(client)
    return client


@pytest.fixture(scope="module")
def world(studio: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("label-images")
    _upload(studio, "lbl-digits", digits_folder(root / "digits", limit=DIGITS))
    for i, (file, size) in enumerate(SHAPES):
        rectangle_png(root / "shapes" / file, size, (10 + i, 8, 30, 20))
    _upload(studio, "lbl-shapes", root / "shapes")
    api = studio.client()
    for body in ({"name": "lbl-digits", "dataset": "lbl-digits", "task": "image_classification",
                  "labels": [str(d) for d in range(10)]},
                 {"name": "lbl-boxes", "dataset": "lbl-shapes", "task": "image_boxes",
                  "labels": ["car", "person"], "instructions": "Box every **car**."}):
        r = api.post(JOBS, json=body)
        assert r.status_code == 201, r.text
    return {name: _token(studio, name) for name in ("img-ann-a", "img-ann-b")}


def _next(w: Watched, old: str | None) -> str | None:
    """Wait (a locator, not a script the CSP refuses) until the page shows another item
    ready for the keys, or none; that item."""
    if old is None:
        w.page.wait_for_selector("#item[data-ready='1']")
    else:
        w.page.wait_for_selector(f"#item[data-ready='1']:not([data-item='{old}'])")
    return w.page.get_attribute("#item", "data-item")


def _shows(w: Watched, item: str) -> None:
    """Wait until the page shows ``item``, ready for the keys."""
    w.page.wait_for_selector(f"#item[data-ready='1'][data-item='{item}']")


def _fits(w: Watched) -> tuple[float, float, float, float]:
    """The image is loaded, drawn whole inside the window, and the page no wider."""
    # The item is ready for the keys before its image has arrived: on a loaded machine the
    # image came after the measure (naturalWidth 0). Wait for it (30 s at most).
    w.page.wait_for_function("() => { const i = document.getElementById('item-image'); "
                             "return i !== null && i.complete && i.naturalWidth > 0; }")
    left, top, width, height, inner_w, inner_h, natural = w.page.evaluate(IMAGE_RECT)
    assert natural > 0, "the image did not load"
    assert w.page.evaluate(FITS), "the Label page is wider than the window"
    assert left >= 0 and left + width <= inner_w and top + height <= inner_h + 1, (
        left, top, width, height, inner_w, inner_h)
    return left, top, width, height


@pytest.mark.slow
def test_digits_are_classified_with_the_keys_and_undone(
        browser: Any, studio: LocalServer, world: dict[str, str]) -> None:
    token = world["img-ann-a"]
    api = _as(studio, token)
    with open_pages(browser, studio) as open_as:
        w = open_as(token=token, viewport={"width": 1024, "height": 640})
        w.page.goto(f"{studio.url}/studio/labeling/lbl-digits/work")
        assert w.page.locator("#undo").is_disabled()  # nothing to undo yet
        item = _next(w, None)
        w.shot("labeling-digits-1024x640")
        truth = {}
        while item is not None:
            _, _, width, _ = _fits(w)
            assert width >= 32 * 4, "a 32-pixel digit is enlarged to be seen"
            # The folder the file came from names its digit; the page does not show it
            # (a folder of one class would tell the annotator the answer).
            assert "/" not in w.page.inner_text("#item")
            shown = api.get(f"{JOBS}/lbl-digits/items/{item}").json()["content"]["image"]
            digit = shown["path"].split("/")[0]
            truth[item] = digit
            w.page.keyboard.press(str(int(digit) + 1))  # key 1 is label "0"
            item = _next(w, item)
        assert sorted(truth, key=int) == [str(i) for i in range(DIGITS)]
        assert f"{DIGITS} of {DIGITS} items answered by you" in w.page.inner_text("#progress")
        w.shot("labeling-digits-done-1024x640")
        # Z takes the last answer back: its item again, the answer marked.
        w.page.keyboard.press("z")
        last = str(DIGITS - 1)
        _shows(w, last)
        assert w.page.is_visible("#previous-answer")
        assert w.page.inner_text("fieldset.labels button.chosen") == f"{int(truth[last]) + 1} " \
            f"{truth[last]}"
        assert f"{DIGITS - 1} of {DIGITS} items" in w.page.inner_text("#progress")
        mine = api.get(f"{JOBS}/lbl-digits/items/{last}").json()
        assert (mine["status"], mine["answer"]) == ("leased", {"label": truth[last]})
        # Ctrl+Z goes one further back; that item's lease replaces the one held.
        w.page.keyboard.press("Control+z")
        before = str(DIGITS - 2)
        _shows(w, before)
        w.page.keyboard.press("1")  # a different answer this time: "0"
        assert _next(w, before) == last  # the item released by the second undo comes back
        assert w.page.is_visible("#previous-answer")  # with its answer still pre-filled
        w.page.keyboard.press(str(int(truth[last]) + 1))
        w.page.wait_for_selector("#nothing-left")
        w.clean()
    status = studio.client().get(f"{JOBS}/lbl-digits/status").json()
    assert status["items"]["answers"] == DIGITS and status["items"]["complete"] == DIGITS
    answered = {**truth, before: "0"}
    assert {k: v for k, v in status["labels"].items() if v} == dict(
        Counter(answered.values()))
    assert [(a["name"], a["answered"]) for a in status["annotators"]] == [("img-ann-a", DIGITS)]


def _drag(w: Watched, size: tuple[int, int], start: tuple[float, float],
          end: tuple[float, float]) -> None:
    """A mouse drag between two points given in image pixels (the end may leave it),
    wherever the image is now (a click below it may have scrolled the page)."""
    left, top, width, _ = w.page.evaluate(IMAGE_RECT)[:4]
    s = width / size[0]
    w.page.mouse.move(left + start[0] * s, top + start[1] * s)
    w.page.mouse.down()
    w.page.mouse.move(left + end[0] * s, top + end[1] * s, steps=6)
    w.page.mouse.up()


def _boxes(w: Watched) -> list[dict[str, Any]]:
    return list(json.loads(w.page.input_value("#boxes-field")))


@pytest.mark.slow
def test_boxes_are_drawn_moved_resized_deleted_and_stored_in_pixels(
        browser: Any, studio: LocalServer, world: dict[str, str]) -> None:
    size = SHAPES[0][1]
    with open_pages(browser, studio) as open_as:
        w = open_as(token=world["img-ann-a"], viewport={"width": 1280, "height": 720})
        w.page.goto(f"{studio.url}/studio/labeling/lbl-boxes/work")
        assert _next(w, None) == "0"
        _fits(w)
        assert w.page.inner_text(".instructions strong") == "car"
        _drag(w, size, (10, 10), (60, 50))  # a car, the label selected at first
        _drag(w, size, (80, 20), (140, 100))
        w.page.keyboard.press("2")  # the box just drawn is selected: a person, as the next
        _drag(w, size, (150, 110), (190, 150))  # leaves the image: clamped inside
        got = _boxes(w)
        assert [b["label"] for b in got] == ["car", "person", "person"]
        assert got[2] == {"x": 150, "y": 110, "width": 10, "height": 10, "label": "person"}
        w.page.click("#box-list li:nth-child(3) button:text-is('Delete')")
        # Move the car by (+10, +5), then pull its bottom-right corner to (90, 70).
        _drag(w, size, (35, 30), (45, 35))
        assert w.page.locator(".box.selected .handle").count() == 4
        corner = w.page.locator(".box.selected .handle.se").bounding_box()
        assert corner is not None
        cx, cy = corner["x"] + corner["width"] / 2, corner["y"] + corner["height"] / 2
        left, top, width, _ = w.page.evaluate(IMAGE_RECT)[:4]
        s = width / size[0]
        w.page.mouse.move(cx, cy)
        w.page.mouse.down()
        w.page.mouse.move(left + 90 * s, top + 70 * s, steps=6)
        w.page.mouse.up()
        w.shot("labeling-boxes-1280x720")
        # The person goes by the keyboard: its entry selects it, Delete deletes it.
        w.page.focus("#box-list li:nth-child(2) .box-pick")
        w.page.keyboard.press("Enter")
        assert w.page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"
        assert "person" in w.page.inner_text("#box-status")
        w.page.keyboard.press("Delete")
        assert w.page.locator("#box-list .box-pick").count() == 1
        assert w.page.evaluate(FITS)
        w.page.keyboard.press("Enter")
        assert _next(w, "0") == "1"
        # Undo: item 0 again, its box drawn from the answer taken back.
        w.page.click("#undo")
        assert _next(w, "1") == "0"
        assert w.page.locator(".box").count() == 1 and _boxes(w)[0]["label"] == "car"
        w.page.keyboard.press("Enter")
        assert _next(w, "0") == "1"
        # A box from the keyboard alone on item 1 (96 × 64): N puts a quarter-size box in
        # the middle, Shift+arrows resize it, arrows move it, 2 labels it (not submitted).
        w.page.keyboard.press("n")
        assert _boxes(w) == [{"x": 36, "y": 24, "width": 24, "height": 16, "label": "car"}]
        for key in ("Shift+ArrowRight",) * 3 + ("ArrowDown",) * 2 + ("2",):
            w.page.keyboard.press(key)
        assert _boxes(w) == [{"x": 36, "y": 26, "width": 27, "height": 16, "label": "person"}]
        assert "box 1" in w.page.inner_text("#box-status").lower()
        w.clean()
    # What the service stored, as an admin reads it: the export of the job.
    admin = studio.client()
    r = admin.post(f"{JOBS}/lbl-boxes/export", json={"output": "lbl-boxes-labels"})
    assert r.status_code == 201, r.text
    head = admin.get("/api/v1/datasets/lbl-boxes-labels/head?n=10").json()
    rows = [dict(zip(head["columns"], row, strict=True)) for row in head["data"]]
    assert [row["item"] for row in rows] == ["0"]
    (box,) = json.loads(rows[0]["label"])
    want = {"x": 20, "y": 15, "width": 70, "height": 55}
    assert box["label"] == "car"
    assert all(abs(box[k] - v) <= 2 for k, v in want.items()), box


def test_another_annotator_gets_neither_an_image_nor_an_undo_not_its_own(
        studio: LocalServer, world: dict[str, str]) -> None:
    a, b = _as(studio, world["img-ann-a"]), _as(studio, world["img-ann-b"])
    held = a.get(f"{JOBS}/lbl-boxes/next").json()["item"]
    assert held is not None
    item = held["item"]
    # The holder gets its image through the studio too, as the REST route sends it.
    page = browser_like(studio)
    link = a.post("/api/v1/studio/links").json()["path"]
    assert page.get(link).status_code == 303
    mine = page.get(f"/studio/labeling/lbl-boxes/items/{item}/image")
    assert mine.status_code == 200 and mine.headers["content-type"] == "image/png"
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert mine.content == a.get(held["content"]["image"]["url"]).content
    # A box the page would have clamped, sent anyway: the service's own 400, in place.
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.get("/studio/labeling").text)
    assert token
    width = held["content"]["image"]["width"]
    outside = [{"x": width - 5, "y": 0, "width": 10, "height": 5, "label": "car"}]
    r = page.post(f"/studio/labeling/lbl-boxes/items/{item}/answer",
                  data={"answer": "boxes", "boxes": json.dumps(outside)},
                  headers={"X-CSRF-Token": token.group(1)})
    assert r.status_code == 400 and "goes outside the image" in r.text, r.text
    assert r.headers["HX-Retarget"] == "#item-error"
    # b holds nothing in this job: no image of a's, over REST or through the studio.
    other = browser_like(studio)
    assert other.get(b.post("/api/v1/studio/links").json()["path"]).status_code == 303
    for path in (f"/studio/labeling/lbl-boxes/items/{item}/image",
                 "/studio/labeling/lbl-boxes/items/0/image",
                 "/studio/labeling/lbl-digits/items/0/image"):
        r = other.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "image" not in r.headers["content-type"]
    assert b.get(f"{JOBS}/lbl-boxes/items/0/image").status_code == 404
    # No session: the sign-in page, not the image.
    assert browser_like(studio).get(f"/studio/labeling/lbl-boxes/items/{item}/image"
                                    ).status_code == 303
    # b has nothing of its own to undo; a's answers stay a's.
    got = a.get(f"{JOBS}/lbl-digits/next").json()["item"]  # none left after the first test
    if got is not None:
        assert a.post(f"{JOBS}/lbl-digits/items/{got['item']}/answers",
                      json={"label": "7"}).status_code == 201
    answered = got["item"] if got is not None else "0"
    before = a.get(f"{JOBS}/lbl-digits/items/{answered}").json()
    r = b.post(f"{JOBS}/lbl-digits/undo")
    assert r.status_code == 409 and "no answer or skip to undo" in r.json()["error"]["message"]
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"',
                     other.get("/studio/labeling").text)
    assert csrf
    r = other.post("/studio/labeling/lbl-digits/undo", headers={"X-CSRF-Token": csrf.group(1)})
    assert r.status_code == 409 and r.headers["HX-Retarget"] == "#item-error"
    assert a.get(f"{JOBS}/lbl-digits/items/{answered}").json() == before
    assert before["status"] == "answered"


@pytest.mark.slow
def test_boxes_a_few_pixels_apart_are_not_the_most_disagreement(
        browser: Any, studio: LocalServer, world: dict[str, str]) -> None:
    """Three annotators box the car of each image, a few pixels apart as hands do; on
    image 0 one of them boxes a person instead. The job page listed both images among
    the items of most disagreement (67%: no two answers were equal JSON); the export
    consolidates such boxes into one. Now image 1 is not listed and image 0 is at 33%."""
    r = studio.client().post(JOBS, json={"name": "lbl-boxes-agree", "dataset": "lbl-shapes",
                                         "task": "image_boxes", "labels": ["car", "person"],
                                         "annotators_per_item": 3})
    assert r.status_code == 201, r.text
    for n, shift in enumerate((0, 2, 3)):
        api = _as(studio, _token(studio, f"img-agree-{n}"))
        for _ in SHAPES:
            item = api.get(f"{JOBS}/lbl-boxes-agree/next").json()["item"]["item"]
            label = "person" if (n, item) == (2, "0") else "car"
            box = {"x": 10 + shift, "y": 8 + shift, "width": 30 - shift, "height": 20,
                   "label": label}
            r = api.post(f"{JOBS}/lbl-boxes-agree/items/{item}/answers", json={"boxes": [box]})
            assert r.status_code == 201, r.text
    with open_pages(browser, studio) as open_as:
        w = open_as("admin")
        w.page.goto(f"{studio.url}/studio/labeling/lbl-boxes-agree")
        rows = w.page.locator("#disagreements tbody tr")
        assert rows.count() == 1
        cells = rows.first.locator("td").all_inner_texts()
        assert cells[:2] == ["0", "33%"]
        assert "img-agree-2: person" in cells[2]
        w.clean()
