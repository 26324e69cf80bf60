"""The CLI (``shipyard labeling …``) and the SDK (``sy.LabelingJob``) against a real server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipyard.client import Client, LabelingJob
from shipyard.errors import InvalidRequest
from shipyard.testing import LocalServer, ok, ok_json, one_sentence_error, run_cli


@pytest.fixture(scope="module")
def annotator(server: LocalServer, reviews_frame: pd.DataFrame) -> Iterator[Client]:
    buf = io.BytesIO()
    reviews_frame.head(4).to_parquet(buf, index=False)
    r = server.client().post("/api/v1/datasets", data={"name": "reviews"},
                             files={"file": ("reviews.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text
    made = server.client().post("/api/v1/tokens", json={"name": "ann", "role": "annotator"})
    with Client(server.url, made.json()["token"]) as c:
        yield c


def test_cli_creates_shows_and_exports(server: LocalServer, annotator: Client,
                                       tmp_path: Path) -> None:
    env = server.sdk_env("data-scientist")
    (tmp_path / "how.md").write_text("Is the review **great**?")
    doc = ok_json(run_cli("labeling", "create", "cli-job", "--dataset", "reviews", "--task",
                          "text_classification", "--labels", "great,other", "--column",
                          "review", "--instructions", str(tmp_path / "how.md"), "--json",
                          env=env))
    assert (doc["items"], doc["instructions"]) == (4, "Is the review **great**?")
    assert "cli-job" in ok(run_cli("labeling", "list", env=env)).stdout
    assert "every annotator" in ok(run_cli("labeling", "show", "cli-job", env=env)).stdout
    err = one_sentence_error(run_cli("labeling", "export", "cli-job", "--output", "out",
                                     env=env))
    assert "no complete item" in err
    job = LabelingJob("cli-job", client=annotator)
    for _ in range(2):
        item = job.next()
        assert item is not None
        assert job.answer(item["item"], {"label": "great"})["status"] == "answered"
    status = ok(run_cli("labeling", "status", "cli-job", env=env)).stdout
    assert "2 of 4 items complete" in status and "ann" in status
    exported = ok_json(run_cli("labeling", "export", "cli-job", "--output", "cli-labels",
                               "--method", "majority", "--json", env=env))
    assert exported["ref"] == "cli-labels:1" and exported["num_rows"] == 2
    assert "Stopped labeling job 'cli-job'" in ok(run_cli("labeling", "stop", "cli-job",
                                                          env=env)).stdout
    assert json.loads(ok(run_cli("labeling", "show", "cli-job", "--json", env=env)).stdout)[
        "status"] == "Stopped"


def test_cli_quiet_prints_only_what_was_made(server: LocalServer, annotator: Client) -> None:
    env = server.sdk_env("data-scientist")
    made = ok(run_cli("labeling", "create", "quiet-job", "--dataset", "reviews", "--task",
                      "text_classification", "--labels", "great,other", "--column", "review",
                      "-q", env=env))
    assert made.stdout == "quiet-job\n"
    job = LabelingJob("quiet-job", client=annotator)
    item = job.next()
    assert item is not None
    job.answer(item["item"], {"label": "great"})
    exported = ok(run_cli("labeling", "export", "quiet-job", "--output", "quiet-labels",
                          "--quiet", env=env))
    assert exported.stdout == "quiet-labels:1\n"
    err = one_sentence_error(run_cli("labeling", "create", "quiet-both", "--dataset",
                                     "reviews", "--task", "text_classification", "--labels",
                                     "a,b", "--column", "review", "-q", "--json", env=env))
    assert "Give --json or --quiet, not both" in err
    assert "quiet-both" not in ok(run_cli("labeling", "list", env=env)).stdout


def test_cli_bad_input_is_one_sentence(server: LocalServer, annotator: Client) -> None:
    made = ok_json(run_cli("tokens", "create", "--role", "annotator", "--name", "cli-ann",
                           "--json", env=server.sdk_env()))
    assert made["role"] == "annotator"
    ann_env = {**server.sdk_env(), "SHIPYARD_TOKEN": made["token"]}
    err = one_sentence_error(run_cli("datasets", "list", env=ann_env))
    assert "'annotator'" in err and "may not read" in err
    env = server.sdk_env("data-scientist")
    err = one_sentence_error(run_cli("labeling", "create", "bad", "--dataset", "reviews",
                                     "--task", "sentiment", "--labels", "a,b", env=env))
    assert "Unknown labeling task 'sentiment'" in err
    err = one_sentence_error(run_cli("labeling", "create", "bad", "--dataset", "reviews",
                                     "--task", "image_boxes", "--labels", "a", env=env))
    assert "needs a dataset of image files" in err
    err = one_sentence_error(run_cli("labeling", "create", "bad", "--dataset", "reviews",
                                     "--task", "text_classification", "--labels", "a,b",
                                     "--column", "review", "--auto-label-features", "words",
                                     env=env))
    assert "auto_label_features chooses the auto-label model's features; add auto_label" \
        in err


def test_sdk_labeling_job(server: LocalServer, annotator: Client) -> None:
    with Client(server.url, server.token("data-scientist")) as ds:
        job = LabelingJob.create("sdk-job", "reviews", "text_multilabel", ["taste", "price"],
                                 column="review", annotators_per_item=1, client=ds)
        assert job.task == "text_multilabel" and "sdk-job" in job._repr_html_()
        assert "sdk-job" in LabelingJob.list(client=ds)["name"].tolist()
        queue = LabelingJob.queues(client=annotator)
        assert "sdk-job" in [q["name"] for q in queue]
        mine = LabelingJob("sdk-job", client=annotator)  # as its queue shows it
        assert mine.labels == ["taste", "price"]
        item = mine.next()
        assert item is not None
        with pytest.raises(InvalidRequest, match="'size' is not one of"):
            mine.answer(item["item"], {"labels": ["size"]})
        mine.answer(item["item"], {"labels": ["price"]})
        assert mine.progress()["answered"] == 1
        assert job.annotators()["name"].tolist() == ["ann"]
        labels = job.export("sdk-labels")
        assert labels.name == "sdk-labels"
        assert job.stop().doc["status"] == "Stopped"
