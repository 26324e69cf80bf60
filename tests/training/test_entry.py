"""The in-job entry: a job folder in, a bundle, metrics and curves out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from shipyard.bundle import load_bundle, read_manifest
from shipyard.training import main

from .conftest import train


def _job_folder(root: Path, train_df: pd.DataFrame, config: dict, hp: dict,
                **channels: pd.DataFrame) -> Path:
    for sub in ("input/config", "input/data/train", "model", "output", "checkpoints"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    train_df.to_parquet(root / "input/data/train/part-00000.parquet", index=False)
    for name, frame in channels.items():
        (root / "input/data" / name).mkdir(parents=True)
        frame.to_parquet(root / "input/data" / name / "part-00000.parquet", index=False)
    (root / "input/config/training.json").write_text(json.dumps(config))
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hp))
    (root / "input/config/inputdata.json").write_text(json.dumps({
        "train": {"dataset": "churn", "version": 3, "path": str(root / "input/data/train")}}))
    (root / "input/config/job.json").write_text(json.dumps({"job_id": "job-1",
                                                            "kind": "training"}))
    return root


def _metrics(job: Path) -> list[dict]:
    lines = (job / "output" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def churn_job(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame) -> Path:
    job = _job_folder(tmp_path_factory.mktemp("job"), churn,
                      {"algorithm": "xgboost", "target": "churn", "seed": 42,
                       "split": {"fractions": [0.7, 0.2, 0.1]}},
                      {"n_estimators": 150})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHIPYARD_JOB_DIR", str(job))
        mp.setenv("SHIPYARD_NUM_CPUS", "2")
        mp.delenv("SHIPYARD_MODEL_DIR", raising=False)
        mp.delenv("SHIPYARD_OUTPUT_DIR", raising=False)
        main(job)
    return job


def test_the_job_writes_a_bundle_with_good_metrics(churn_job: Path, churn: pd.DataFrame,
                                                    capsys: pytest.CaptureFixture) -> None:
    manifest = read_manifest(churn_job / "model")
    assert manifest["metrics"]["test"]["roc_auc"] >= 0.80
    assert manifest["task"] == "classification" and manifest["problem_type"] == "binary"
    assert manifest["framework"]["name"] == "xgboost"
    assert manifest["lineage"] == {"dataset": "churn", "version": 3, "content_hash": None,
                                   "job_id": "job-1",
                                   "inputs": {"train": {"dataset": "churn", "version": 3}}}
    assert manifest["split"]["row_counts"] == {"train": 4930, "validation": 1409, "test": 704}
    assert manifest["hyperparameters"]["n_estimators"] == 150
    evaluation = churn_job / "model" / "evaluation"
    for png in ("test_confusion_matrix.png", "test_roc_pr.png", "validation_roc_pr.png",
                "learning_curve.png"):
        assert (evaluation / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((evaluation / "evaluation.json").read_text())
    assert report["metrics"]["test"]["roc_auc"] == manifest["metrics"]["test"]["roc_auc"]
    assert len(report["curves"]["validation.logloss"]) == 150

    out = load_bundle(churn_job / "model").predict(churn.head(20))  # raw rows, target and all
    assert set(out["prediction"]) <= {"Yes", "No"} and len(out) == 20


def test_the_job_logs_metrics_and_curves(churn_job: Path) -> None:
    points = _metrics(churn_job)
    names = {p["name"] for p in points}
    assert {"test.roc_auc", "test.accuracy", "validation.roc_auc", "validation.log_loss"} <= names
    curve = [p for p in points if p["name"] == "curve.validation.logloss"]
    assert [p["step"] for p in curve] == list(range(150))
    assert curve[-1]["value"] < curve[0]["value"]
    assert any(p["name"] == "curve.train.logloss" for p in points)


@pytest.mark.parametrize("algorithm, options", [
    ("xgboost", {"n_estimators": 2000, "learning_rate": 0.3}),
    ("lightgbm", {"n_estimators": 2000, "learning_rate": 0.3}),
    ("catboost", {"iterations": 2000, "learning_rate": 0.3}),
])
def test_early_stopping_keeps_the_best_iteration(algorithm: str, options: dict,
                                                 churn: pd.DataFrame, tmp_path: Path) -> None:
    result = train(churn, algorithm, "churn", tmp_path,
                   hyperparameters={**options, "early_stopping_rounds": 10})
    best = result.manifest["training"]["best_iteration"]
    assert best is not None and best < 500
    loaded = load_bundle(tmp_path)
    rows = churn.sample(100, random_state=0)
    pd.testing.assert_frame_equal(loaded.predict(rows), result.pipeline.predict(rows))


def test_given_validation_and_test_inputs_are_used_as_they_are(penguins: pd.DataFrame,
                                                               tmp_path: Path) -> None:
    shuffled = penguins.sample(frac=1.0, random_state=0)
    result = train(shuffled.iloc[:200], "lightgbm", "species", tmp_path,
                   validation=shuffled.iloc[200:270], test=shuffled.iloc[270:])
    assert result.manifest["split"] == {"method": "given", "row_counts": {
        "train": 200, "validation": 70, "test": 74}}


def test_a_given_test_input_leaves_train_to_be_split(penguins: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    result = train(penguins.iloc[:300], "linear", "species", tmp_path, test=penguins.iloc[300:])
    counts = result.manifest["split"]["row_counts"]
    assert counts["test"] == 44 and counts["validation"] > 50
    assert result.manifest["split"]["method"] == "stratified"


def test_a_user_recipe_replaces_the_default(penguins: pd.DataFrame, tmp_path: Path) -> None:
    recipe = {"steps": [{"step": "drop", "columns": ["island", "sex", "year"]},
                        {"step": "impute"}, {"step": "scale"}]}
    result = train(penguins, "knn", "species", tmp_path, recipe=recipe)
    assert result.manifest["feature_names"][:4] == [
        "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    assert "recipe: the user's (3 steps)" in result.notes
    required = {e["name"] for e in result.manifest["input_signature"] if e["required"]}
    assert required == {"bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"}


def test_rows_with_a_missing_target_are_left_out(penguins: pd.DataFrame, tmp_path: Path) -> None:
    gappy = penguins.assign(species=penguins["species"].where(penguins.index % 10 != 0))
    result = train(gappy, "linear", "species", tmp_path)
    assert result.manifest["split"]["n_rows"] == int(gappy["species"].notna().sum())
    assert any("rows with a missing target are left out" in n for n in result.notes)
