"""Image labeling over a real server: scikit-learn's digits classified by two annotators, and
rectangles drawn with Pillow boxed by three, each fetching the images through the
annotator's own route; the exports give the digits and boxes back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from shipyard.labeling import iou
from shipyard.testing import LocalServer
from shipyard.testing.images import digits_folder, rectangle_png

JOBS = "/api/v1/labeling-jobs"
DIGITS = 12
#: (file, image size, the rectangle drawn: x, y, width, height); sides of 25 px or more, so
#: the annotators' ±2 px is at most 8 % of a side.
SHAPES = [("a.png", (64, 48), (10, 8, 36, 30)), ("b.png", (80, 80), (40, 5, 25, 60)),
          ("c.png", (50, 60), (3, 25, 40, 30)), ("d.png", (96, 64), (50, 20, 40, 40))]


def _annotator(server: LocalServer, name: str) -> httpx.Client:
    r = server.client().post("/api/v1/tokens", json={"name": name, "role": "annotator"})
    assert r.status_code == 201, r.text
    return httpx.Client(base_url=server.url, timeout=60,
                        headers={"Authorization": f"Bearer {r.json()['token']}"})


def _upload_folder(server: LocalServer, name: str, folder: Path) -> dict[str, object]:
    files = [("file", (p.relative_to(folder).as_posix(), p.read_bytes(), "image/png"))
             for p in sorted(folder.rglob("*.png"))]
    r = server.client().post(f"/api/v1/datasets/{name}/files", files=files)
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def world(server: LocalServer, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[LocalServer, list[httpx.Client], Path]]:
    root = tmp_path_factory.mktemp("images")
    _upload_folder(server, "digits", digits_folder(root / "digits", limit=DIGITS))
    for file, size, box in SHAPES:
        rectangle_png(root / "shapes" / file, size, box)
    _upload_folder(server, "shapes", root / "shapes")
    with (_annotator(server, "img-a") as a, _annotator(server, "img-b") as b,
          _annotator(server, "img-c") as c):
        yield server, [a, b, c], root


def _create(server: LocalServer, **kw: object) -> httpx.Response:
    return server.client("data-scientist").post(JOBS, json=kw)


def test_digits_classified_by_two_annotators(world: tuple) -> None:
    server, (a, b, c), root = world
    r = _create(server, name="digits", dataset="digits", task="image_classification",
                labels=[str(d) for d in range(10)], annotators_per_item=2)
    assert r.status_code == 201, r.text
    for who in (a, b):
        while (got := who.get(f"{JOBS}/digits/next").json()["item"]) is not None:
            image = got["content"]["image"]
            assert (image["width"], image["height"]) == (32, 32)
            r = who.get(image["url"])
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert hashlib.sha256(r.content).hexdigest() == image["sha256"]
            assert r.content == (root / "digits" / image["path"]).read_bytes()
            # the digit is the folder's name: what a careful annotator would answer
            answer = {"label": image["path"].split("/")[0]}
            r = who.post(f"{JOBS}/digits/items/{got['item']}/answers", json=answer)
            assert r.status_code == 201, r.text
    # c holds and answered nothing: the images are not its to see; a viewer has no `label`
    assert c.get(f"{JOBS}/digits/items/0/image").status_code == 404
    assert server.client("viewer").get(f"{JOBS}/digits/items/0/image").status_code == 403
    r = server.client("data-scientist").post(f"{JOBS}/digits/export",
                                             json={"output": "digit-labels"})
    assert r.status_code == 201, r.text
    assert r.json()["num_rows"] == DIGITS
    doc = server.client().get("/api/v1/datasets/digit-labels/head",
                              params={"n": 100}).json()
    rows = [dict(zip(doc["columns"], row, strict=True)) for row in doc["data"]]
    assert {"path", "sha256", "width", "height", "row_label", "label"} <= set(doc["columns"])
    assert all(r["label"] == r["row_label"] == r["path"].split("/")[0] for r in rows)
    assert all(r["confidence"] > 0.9 for r in rows)


def _noisy(box: tuple[int, int, int, int], rng: np.random.Generator,
           size: tuple[int, int]) -> dict[str, object]:
    """``box`` with each edge moved by up to 2 pixels, kept inside the image."""
    x, y, w, h = box
    x0 = float(np.clip(x + rng.uniform(-2, 2), 0, size[0]))
    y0 = float(np.clip(y + rng.uniform(-2, 2), 0, size[1]))
    x1 = float(np.clip(x + w + rng.uniform(-2, 2), x0 + 1, size[0]))
    y1 = float(np.clip(y + h + rng.uniform(-2, 2), y0 + 1, size[1]))
    return {"x": round(x0, 1), "y": round(y0, 1), "width": round(x1 - x0, 1),
            "height": round(y1 - y0, 1), "label": "rect"}


def test_noisy_boxes_consolidate_to_the_drawn_rectangle(world: tuple) -> None:
    server, annotators, _ = world
    r = _create(server, name="shapes", dataset="shapes", task="image_boxes",
                labels=["rect", "blob"], annotators_per_item=3)
    assert r.status_code == 201, r.text
    truth = {file: (size, box) for file, size, box in SHAPES}
    rng = np.random.default_rng(18)
    for n, who in enumerate(annotators):
        while (got := who.get(f"{JOBS}/shapes/next").json()["item"]) is not None:
            image = got["content"]["image"]
            size, box = truth[image["path"]]
            assert (image["width"], image["height"]) == size
            url = f"{JOBS}/shapes/items/{got['item']}/answers"
            outside = {"x": size[0] - 5, "y": 0, "width": 10, "height": 5, "label": "rect"}
            r = who.post(url, json={"boxes": [outside]})
            assert r.status_code == 400 and "outside the image" in r.json()["error"]["message"]
            r = who.post(url, json={"boxes": [{**outside, "label": "square"}]})
            assert r.status_code == 400 and "'square'" in r.json()["error"]["message"]
            boxes = [_noisy(box, rng, size)]
            if n == 0:  # one annotator's stray box, which the others do not confirm
                boxes.append({"x": 0, "y": 0, "width": 3, "height": 3, "label": "blob"})
            r = who.post(url, json={"boxes": boxes})
            assert r.status_code == 201, r.text
    r = server.client("data-scientist").post(f"{JOBS}/shapes/export",
                                             json={"output": "shape-boxes"})
    assert r.status_code == 201, r.text
    doc = server.client().get("/api/v1/datasets/shape-boxes/head", params={"n": 100}).json()
    rows = [dict(zip(doc["columns"], row, strict=True)) for row in doc["data"]]
    assert len(rows) == len(SHAPES)
    for row in rows:
        boxes = json.loads(row["label"])
        assert [b["label"] for b in boxes] == ["rect"], boxes
        got = (boxes[0]["x"], boxes[0]["y"], boxes[0]["width"], boxes[0]["height"])
        assert iou(got, truth[row["path"]][1]) >= 0.9, (row["path"], got)
        assert boxes[0]["support"] == 3


def test_an_image_task_needs_a_files_dataset(world: tuple) -> None:
    server, _, _ = world
    server.client().post("/api/v1/datasets", data={"name": "plain"},
                         files={"file": ("t.csv", b"a,b\n1,2\n")}).raise_for_status()
    r = _create(server, name="plain", dataset="plain", task="image_boxes", labels=["x"])
    assert r.status_code == 400
    assert "needs a dataset of image files" in r.json()["error"]["message"]


@pytest.mark.parametrize("task", ["text_classification", "text_multilabel", "text_spans"])
def test_a_text_task_on_image_files_is_a_400_naming_the_column(world: tuple, task: str) -> None:
    server, _, _ = world
    r = _create(server, name="text-on-images", dataset="digits", task=task,
                labels=["a", "b"], column="path")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"] == (
        "Column 'path' of dataset digits:1 holds image files, not text (the dataset is a "
        "files manifest, made by `shipyard datasets create NAME --files DIR`); label its "
        "images with an image task: image_classification or image_boxes.")
    r = _create(server, name="text-on-images", dataset="digits", task=task, labels=["a", "b"])
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith(
        f"Task {task!r} labels text, but dataset digits:1 holds image files")
    assert server.client().get(f"{JOBS}/text-on-images").status_code == 404


def test_gold_boxes_score_annotators_by_overlap(world: tuple) -> None:
    """Gold boxes (a JSON list in the gold row's label) score an answer right when each is
    found at IoU ≥ 0.5 with its label and nothing is left over; hand-drawn boxes are never
    pixel-equal, so an equality rule would score everyone wrong."""
    server, (a, b, _), _ = world
    ds = server.client("data-scientist")
    doc = server.client().get("/api/v1/datasets/shapes/head", params={"n": 100}).json()
    rows = [dict(zip(doc["columns"], row, strict=True)) for row in doc["data"]]
    truth = {file: (size, box) for file, size, box in SHAPES}

    def gold(boxes: dict[int, list[dict[str, object]]], name: str) -> None:
        frame = "item,label\n" + "".join(
            f'{i},"{json.dumps(v).replace(chr(34), chr(34) * 2)}"\n' for i, v in boxes.items())
        r = ds.post("/api/v1/datasets", data={"name": name},
                    files={"file": (f"{name}.csv", frame.encode(), "text/csv")})
        assert r.status_code == 201, r.text

    def as_box(box: tuple[int, int, int, int], label: str = "rect") -> dict[str, object]:
        return {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "label": label}

    gold({i: [as_box(truth[row["path"]][1])] for i, row in enumerate(rows)}, "shape-gold")
    size = truth[rows[0]["path"]][0]
    gold({0: [as_box((size[0] - 5, 0, 10, 5))]}, "off-gold")
    ds.post("/api/v1/datasets", data={"name": "text-gold"},
            files={"file": ("g.csv", b"item,label\n0,not json\n", "text/csv")}
            ).raise_for_status()
    for name, words in (("off-gold", "row 0: Box 0 ("),
                        ("text-gold", "row 0: the label is not JSON")):
        r = _create(server, name=f"shapes-{name}", dataset="shapes", task="image_boxes",
                    labels=["rect", "blob"], gold=name)
        assert r.status_code == 400 and words in r.json()["error"]["message"], r.text
    r = _create(server, name="shapes-gold", dataset="shapes", task="image_boxes",
                labels=["rect", "blob"], annotators_per_item=2, gold="shape-gold")
    assert r.status_code == 201, r.text
    rng = np.random.default_rng(7)
    for n, who in enumerate((a, b)):
        while (got := who.get(f"{JOBS}/shapes-gold/next").json()["item"]) is not None:
            size, (x, y, w, h) = truth[got["content"]["image"]["path"]]
            if n == 0:  # close to the truth, never on its exact pixels
                boxes = [_noisy((x, y, w, h), rng, size)]
            else:  # a quarter of the box, in its corner: IoU 0.25
                boxes = [as_box((x, y, w // 2, h // 2))]
            r = who.post(f"{JOBS}/shapes-gold/items/{got['item']}/answers",
                         json={"boxes": boxes})
            assert r.status_code == 201, r.text
    stats = {s["name"]: s for s in
             ds.get(f"{JOBS}/shapes-gold/status").json()["annotators"]}
    assert (stats["img-a"]["gold_answered"], stats["img-a"]["gold_accuracy"]) == (4, 1.0)
    assert (stats["img-b"]["gold_answered"], stats["img-b"]["gold_accuracy"]) == (4, 0.0)
