"""Auto-labeling over a real server and real job processes, on the real review texts: a
simulated annotator answers from the true labels over REST until the model's job has run;
then machine labels are marked and mostly right, the queue serves the audit sample and the
uncertain items first, and the export says which label is whose."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from shipyard.errors import InvalidRequest
from shipyard.labeling._autolabel import (
    auto_label_rows,
    pixel_classifier,
    pixel_features,
    tabular_classifier,
    tabular_features,
)
from shipyard.labeling._autolabel_service import _machine_labels, check_config
from shipyard.labeling._export import build_table
from shipyard.store import AssignmentRecord, LabelingJobRecord, MachineItem
from shipyard.testing import LocalServer

JOBS = "/api/v1/labeling-jobs"
#: The rows of the review texts the job labels, K (human labels before the model) and the
#: target (the issue's 85%). On the first 800 rows with K = 300 the held-out estimate of
#: the default model (n-grams and sentiment) reached 0.85 at no threshold: nothing was
#: machine-labeled (see docs/labeling.md); here it does.
ROWS, K, TARGET = 1000, 400, 0.85


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
    ({"auto_label_after": 5000}, 400, ["auto_label_after is 5,000", "1,000 items"]),
    ({"target_accuracy": 0.3}, 400, ["target_accuracy", "got 0.3"]),
    ({"auto_label_features": "bigrams"}, 400, ["auto_label_features must be one of words,",
                                               "got 'bigrams'"]),
    ({"auto_label": False, "auto_label_features": "words"}, 400, [
        "auto_label_features chooses the auto-label model's features; add auto_label"]),
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


def test_the_jobs_features_reach_its_auto_label_models(labeled_world: tuple) -> None:
    server, ann, frame = labeled_world
    c = server.client()
    r = c.post(JOBS, json={"name": "words-only", "dataset": "reviews",
                           "task": "text_classification", "labels": ["great", "other"],
                           "column": "review", "auto_label": True, "auto_label_after": 10,
                           "auto_label_features": "words"})
    assert r.status_code == 201, r.text
    assert r.json()["auto_label_features"] == "words"
    assert c.get(f"{JOBS}/words-only").json()["auto_label_features"] == "words"
    for _ in range(10):
        got = ann.get(f"{JOBS}/words-only/next").json()["item"]
        item = got["item"]
        r = ann.post(f"{JOBS}/words-only/items/{item}/answers",
                     json={"label": frame["score"][int(item)]})
        assert r.status_code == 201, r.text
    runs = c.get(f"{JOBS}/words-only/status").json()["auto_label"]["runs"]
    assert runs, "no auto-label model was started after K answers"
    spec = c.get(f"/api/v1/jobs/{runs[0]['job']}").json()["spec"]
    assert spec["text_features"] == "words"  # not the default, words+chars+sentiment
    c.post(f"/api/v1/jobs/{runs[0]['job']}/cancel")
    assert c.post(f"{JOBS}/words-only/stop").status_code in (200, 201)


def test_auto_label_end_to_end(labeled_world: tuple) -> None:
    server, ann, frame = labeled_world
    c = server.client()
    truth = frame["score"]
    started = time.monotonic()
    r = c.post(JOBS, json={"name": "reviews", "dataset": "reviews",
                           "task": "text_classification", "labels": ["great", "other"],
                           "column": "review", "auto_label": True, "auto_label_after": K,
                           "target_accuracy": TARGET})
    assert r.status_code == 201, r.text
    assert (r.json()["auto_label_after"], r.json()["target_accuracy"]) == (K, TARGET)
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
    assert status["estimated_accuracy"] >= TARGET and status["threshold"] is not None
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
    assert accuracy >= TARGET, accuracy

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
    # The studio's job page shows the same figures.
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as b:
        assert b.get(c.post("/api/v1/studio/links").json()["path"]).status_code == 303
        page = b.get("/studio/labeling/reviews")
        assert page.status_code == 200, page.text
        assert 'id="auto-label"' in page.text and job_id in page.text
        assert f"measured on {len(audit)} of {status['audit']['sampled']}" in page.text
    print(f"\nauto-label: {run['machine_labeled']} of {ROWS} items machine-labeled "
          f"({status['machine_share']:.1%}), threshold {status['threshold']:.3f}, "
          f"held-out estimate {status['estimated_accuracy']:.3f}, accuracy on the truth "
          f"{accuracy:.3f}, audit {after['audit']}, {time.monotonic() - started:.1f} s")


#: The digit images the image job labels, K for it, and its target accuracy.
DIGITS, DIGITS_K, DIGITS_TARGET = 600, 200, 0.9


def _digits_dataset(server: LocalServer, folder: Path) -> dict[str, str]:
    """scikit-learn's digits in a random order (seeded), as 32×32 PNGs in one folder, uploaded
    as the files dataset ``digits``; answers {file name: the digit}.

    Shuffled as well as served in a random order (an auto-labeling job's seed set is a
    random sample; docs/labeling.md): the digits come grouped by writer.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))[:DIGITS]
    folder.mkdir(parents=True)
    truth = {}
    for n, i in enumerate(order):
        pixels = (digits.images[i] * (255 / 16)).astype(np.uint8)
        name = f"img-{n:04d}.png"
        Image.fromarray(pixels, mode="L").resize((32, 32), Image.Resampling.NEAREST).save(
            folder / name)
        truth[name] = str(int(digits.target[i]))
    files = [("file", (name, (folder / name).read_bytes(), "image/png")) for name in truth]
    r = server.client().post("/api/v1/datasets/digits/files", files=files)
    assert r.status_code == 201, r.text
    return truth


def test_image_auto_label_end_to_end(server: LocalServer, tmp_path: Path) -> None:
    """The pixel model through the server: K digits answered from the truth, the autolabel
    job run, then machine labels at least as accurate as the target on the true digits."""
    truth = _digits_dataset(server, tmp_path / "digits")
    c = server.client()
    started = time.monotonic()
    r = c.post(JOBS, json={"name": "digits", "dataset": "digits",
                           "task": "image_classification", "labels": [str(d) for d in range(10)],
                           "auto_label": True, "auto_label_after": DIGITS_K,
                           "target_accuracy": DIGITS_TARGET})
    assert r.status_code == 201, r.text
    token = c.post("/api/v1/tokens", json={"name": "digit-ann", "role": "annotator"})
    assert token.status_code == 201, token.text
    with httpx.Client(base_url=server.url, timeout=60, headers={
            "Authorization": f"Bearer {token.json()['token']}"}) as ann:
        for _ in range(DIGITS_K):
            got = ann.get(f"{JOBS}/digits/next").json()["item"]
            label = truth[got["content"]["image"]["path"]]
            r = ann.post(f"{JOBS}/digits/items/{got['item']}/answers", json={"label": label})
            assert r.status_code == 201, r.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = c.get(f"{JOBS}/digits/status").json()["auto_label"]
        if status["runs"] and status["runs"][0]["status"] in ("Completed", "Failed"):
            break
        time.sleep(0.3)
    run = status["runs"][0]
    logs = c.get(f"/api/v1/jobs/{run['job']}/logs").text[-3000:]
    assert run["status"] == "Completed", (run, logs)
    assert run["human_labels"] == DIGITS_K
    assert status["estimated_accuracy"] >= DIGITS_TARGET
    r = c.post(f"{JOBS}/digits/export", json={"output": "digits-labels"})
    assert r.status_code == 201, r.text
    table = pq.read_table(io.BytesIO(c.get("/api/v1/datasets/digits-labels/download").content))
    machine = table.to_pandas().query("source == 'machine'")
    assert len(machine) == status["machine_labeled"] >= (DIGITS - DIGITS_K) // 2
    assert (machine["confidence"] >= status["threshold"]).all()
    accuracy = (machine["label"] == machine["path"].map(truth)).mean()
    assert accuracy >= DIGITS_TARGET, accuracy
    print(f"\nimage auto-label: {len(machine)} of {DIGITS - DIGITS_K} digits machine-labeled "
          f"at threshold {status['threshold']:.3f}, held-out estimate "
          f"{status['estimated_accuracy']:.3f}, accuracy on the truth {accuracy:.3f}, "
          f"{time.monotonic() - started:.1f} s")


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


def test_pixel_features_tell_shapes_apart(tmp_path: Path) -> None:
    folder = tmp_path
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


@pytest.mark.parametrize(("args", "words"), [
    (("text_spans", 100, 0.9, 1000), ["'text_spans' cannot be auto-labeled",
                                      "image_classification"]),
    (("text_classification", 9, 0.9, 1000), ["10 to 1,000,000", "got 9"]),
    (("text_classification", True, 0.9, 1000), ["auto_label_after"]),
    (("text_classification", 100, 0.9, 100), ["only 100 items"]),
    (("tabular_classification", 100, 0.5, 1000), ["above 0.5", "got 0.5"]),
    (("image_classification", 100, 1.2, 1000), ["at most 1", "got 1.2"]),
])
def test_auto_label_settings_are_checked(args: tuple, words: list[str]) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_config(*args)
    for word in words:
        assert word in err.value.message
    assert check_config("text_classification", 10, 1.0, 11) == {
        "after": 10, "target_accuracy": 1.0, "growth": 0.5}


def _labeling_job(**kw: object) -> LabelingJobRecord:
    now = datetime.now(UTC)
    base: dict = dict(id=1, name="j", task="text_classification", labels=["great", "other"],
                      dataset="d", version=1, column="review", instructions=None,
                      annotators_per_item=1, gold=None, auto_label=True, workforce=[],
                      lease_seconds=600, status="Running", num_items=10, created_at=now,
                      updated_at=now, created_by="ds")
    base.update(kw)
    return LabelingJobRecord(**base)


@pytest.mark.parametrize(("columns", "words"), [
    ({"item": ["10"], "label": ["great"], "confidence": [0.9]}, ["unknown item '10'"]),
    ({"item": ["x"], "label": ["great"], "confidence": [0.9]}, ["unknown item 'x'"]),
    ({"item": ["1"], "label": ["meh"], "confidence": [0.9]}, ["label 'meh'"]),
    ({"item": ["1"], "label": ["great"], "confidence": [1.5]}, ["not in [0, 1]"]),
])
def test_a_models_output_is_checked_before_it_is_stored(columns: dict,
                                                       words: list[str]) -> None:
    with pytest.raises(InvalidRequest) as err:
        _machine_labels(columns, _labeling_job())
    for word in words:
        assert word in err.value.message
    good = {"item": ["1", "2"], "label": ["great", "other"], "confidence": [0.9, 0.95]}
    assert _machine_labels(good, _labeling_job()) == [("1", "great", 0.9), ("2", "other", 0.95)]


def test_export_table_has_machine_rows_without_annotators(tmp_path: Path) -> None:
    """A human answer beats a machine label; machine rows say so and name nobody."""
    job = _labeling_job()
    now = datetime.now(UTC)
    answer = AssignmentRecord(job="j", item="0", position=0, annotator="ann", status="answered",
                              answer={"label": "other"}, correct=None, leased_at=now,
                              expires_at=now, answered_at=now, seconds=1.0)

    class Reader:
        def table(self, dataset: str, version: int, column: str) -> pa.Table:
            return pa.table({"review": [f"text {i}" for i in range(10)]})

    machine = [MachineItem("0", 0, "great", 0.99, "job-1", True, 1),
               MachineItem("3", 3, "great", 0.97, "job-1", False, 0)]
    table = build_table(job, [answer], Reader(), "majority", machine)  # type: ignore[arg-type]
    rows = table.to_pylist()
    assert [(r["item"], r["label"], r["source"], r["annotators"]) for r in rows] == [
        ("0", "other", "human", '["ann"]'), ("3", "great", "machine", "[]")]
    assert rows[1]["confidence"] == 0.97 and rows[1]["review"] == "text 3"


def test_a_labeling_job_offers_the_autolabel_jobs_text_features() -> None:
    from typing import get_args

    from shipyard.jobs.kinds.autolabel import AutolabelSpec
    from shipyard.labeling._autolabel_service import TEXT_FEATURES

    assert get_args(AutolabelSpec.model_fields["text_features"].annotation) == TEXT_FEATURES
