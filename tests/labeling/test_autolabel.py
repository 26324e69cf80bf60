"""Auto-labeling over a real server and real job processes, on the real review texts: a
simulated annotator answers from the true labels over REST until the model's job has run;
then machine labels are marked and mostly right, the queue serves the audit sample and the
uncertain items first, and the export says which label is whose."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from shipyard.labeling._autolabel import (
    auto_label_rows,
    pixel_classifier,
    pixel_features,
    tabular_classifier,
    tabular_features,
)
from shipyard.testing import LocalServer

JOBS = "/api/v1/labeling-jobs"
#: The rows of the review texts the job labels, and K (human labels before the model).
ROWS, K = 800, 300


@pytest.fixture(scope="module")
def labeled_world(server: LocalServer, reviews: pd.DataFrame
                  ) -> Iterator[tuple[LocalServer, httpx.Client, pd.DataFrame]]:
    frame = reviews.head(ROWS).reset_index(drop=True)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    r = server.client().post("/api/v1/datasets", data={"name": "reviews"},
                             files={"file": ("reviews.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text
    r = server.client().post("/api/v1/tokens", json={"name": "ann", "role": "annotator"})
    assert r.status_code == 201, r.text
    with httpx.Client(base_url=server.url, timeout=60,
                      headers={"Authorization": f"Bearer {r.json()['token']}"}) as ann:
        yield server, ann, frame


def _answer_next(ann: httpx.Client, truth: pd.Series) -> str:
    got = ann.get(f"{JOBS}/reviews/next").json()["item"]
    assert got is not None
    item = got["item"]
    r = ann.post(f"{JOBS}/reviews/items/{item}/answers", json={"label": truth[int(item)]})
    assert r.status_code == 201, r.text
    return str(item)


def _jobs(c: httpx.Client) -> int:
    return len(c.get("/api/v1/jobs", params={"limit": 1000}).json())


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"task": "text_spans"}, 400, ["'text_spans' cannot be auto-labeled",
                                   "text_classification"]),
    ({"auto_label_after": 3}, 400, ["auto_label_after", "10 to 1,000,000", "got 3"]),
    ({"auto_label_after": 5000}, 400, ["auto_label_after is 5,000", "800 items"]),
    ({"target_accuracy": 0.3}, 400, ["target_accuracy", "got 0.3"]),
])
def test_bad_auto_label_input_is_a_4xx_naming_it(labeled_world: tuple, change: dict,
                                                 status: int, words: list[str]) -> None:
    server, _, _ = labeled_world
    c = server.client()
    before = _jobs(c)
    body = {"name": "bad", "dataset": "reviews", "task": "text_classification",
            "labels": ["great", "other"], "column": "review", "auto_label": True, **change}
    r = c.post(JOBS, json=body)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]["message"]
    assert c.get(f"{JOBS}/bad").status_code == 404
    assert _jobs(c) == before


def test_auto_label_end_to_end(labeled_world: tuple) -> None:
    server, ann, frame = labeled_world
    c = server.client()
    truth = frame["score"]
    started = time.monotonic()
    r = c.post(JOBS, json={"name": "reviews", "dataset": "reviews",
                           "task": "text_classification", "labels": ["great", "other"],
                           "column": "review", "auto_label": True, "auto_label_after": K,
                           "target_accuracy": 0.9})
    assert r.status_code == 201, r.text
    assert (r.json()["auto_label_after"], r.json()["target_accuracy"]) == (K, 0.9)
    answered = [_answer_next(ann, truth) for _ in range(K)]
    status = c.get(f"{JOBS}/reviews/status").json()["auto_label"]
    assert status["runs"] and status["runs"][0]["human_labels"] == K, status
    job_id = status["runs"][0]["job"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = c.get(f"{JOBS}/reviews/status").json()["auto_label"]
        if status["runs"][0]["status"] in ("Completed", "Failed"):
            break
        time.sleep(0.3)
    run = status["runs"][0]
    assert run["status"] == "Completed", (run, c.get(f"/api/v1/jobs/{job_id}/logs").text[-3000:])
    assert c.get(f"/api/v1/jobs/{job_id}").json()["kind"] == "autolabel"
    assert status["machine_labeled"] == run["machine_labeled"] > 0
    assert status["machine_share"] == pytest.approx(run["machine_labeled"] / ROWS)
    assert status["estimated_accuracy"] >= 0.9 and status["threshold"] is not None
    assert status["audit"]["sampled"] >= 5 and status["next_at"] > K

    # The export marks each item's source; machine rows have no annotators.
    r = c.post(f"{JOBS}/reviews/export", json={"output": "reviews-labels"})
    assert r.status_code == 201, r.text
    download = c.get("/api/v1/datasets/reviews-labels/download")
    table = pq.read_table(io.BytesIO(download.content)).to_pandas()
    machine = table[table["source"] == "machine"]
    human = table[table["source"] == "human"]
    assert len(machine) == status["machine_labeled"] and len(human) == K
    assert set(human["item"]) == set(answered)
    assert (machine["annotators"] == "[]").all() and (machine["answers"] == "[]").all()
    assert (machine["confidence"] >= status["threshold"]).all()
    accuracy = (machine["label"].to_numpy()
                == truth.iloc[machine["item"].astype(int)].to_numpy()).mean()
    assert accuracy >= 0.85, accuracy

    # The queue: the audit sample first, then the most uncertain items in the model's order.
    order = pq.read_table(io.BytesIO(c.get(
        f"/api/v1/jobs/{job_id}/artifacts/output/uncertain.parquet").content)).to_pandas()
    machine_items = set(machine["item"])
    served = [_answer_next(ann, truth) for _ in range(status["audit"]["sampled"] + 5)]
    audit = served[:status["audit"]["sampled"]]
    assert set(audit) <= machine_items
    assert served[len(audit):] == order["item"].head(5).tolist()
    after = c.get(f"{JOBS}/reviews/status").json()["auto_label"]
    assert after["audit"]["answered"] == len(audit)
    assert after["audit"]["accuracy"] is not None
    # A human answer beats the machine's: the audited items are human rows now.
    assert after["machine_labeled"] == status["machine_labeled"] - len(audit)
    print(f"\nauto-label: {run['machine_labeled']} of {ROWS} items machine-labeled "
          f"({status['machine_share']:.1%}), threshold {status['threshold']:.3f}, "
          f"held-out estimate {status['estimated_accuracy']:.3f}, accuracy on the truth "
          f"{accuracy:.3f}, audit {after['audit']}, {time.monotonic() - started:.1f} s")


def test_tabular_rows_and_pixels_are_auto_labeled() -> None:
    """The non-text models: gradient boosting on a table's rows, pixels of small images."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"x": rng.normal(size=n), "colour": rng.choice(["red", "blue"], n),
                          "noise": rng.normal(size=n)})
    frame.loc[::17, "x"] = np.nan
    y = np.where((frame["x"].fillna(0) > 0) ^ (frame["colour"] == "red"), "a", "b")
    rows = tabular_features(frame)
    assert rows.shape == (n, 4)
    result = auto_label_rows(rows[:200], y[:200], rows[200:], tabular_classifier, 0.9)
    assert result.threshold is not None and len(result.indices) > 100
    assert (y[200:][result.indices] == result.labels).mean() >= 0.9
    assert sorted([*result.indices, *result.uncertain_order]) == list(range(200))


def test_pixel_features_tell_shapes_apart(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    rng = np.random.default_rng(1)
    paths, labels = [], []
    for i in range(120):
        img = rng.integers(0, 40, size=(24, 24), dtype=np.uint8)
        if i % 2:
            img[:, 10:14] = 255  # a vertical bar
            labels.append("bar")
        else:
            img[10:14, :] = 255  # a horizontal one
            labels.append("line")
        path = folder / f"{i}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    rows = pixel_features(paths)
    assert rows.shape == (120, 256) and rows.min() >= 0.0 and rows.max() <= 1.0
    y = np.asarray(labels, dtype=object)
    result = auto_label_rows(rows[:60], y[:60], rows[60:], pixel_classifier, 0.95)
    assert len(result.indices) > 40
    assert (y[60:][result.indices] == result.labels).all()
    assert json.dumps(result.labels.tolist())
