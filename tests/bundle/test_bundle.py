"""Bundle round trips, integrity checks, and input validation of the inference pipeline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import (
    MANIFEST,
    BundleError,
    load_bundle,
    read_manifest,
    sha256_file,
    write_bundle,
)
from shipyard.errors import IntegrityError, InvalidRequest
from shipyard.training import TrainingResult

from .conftest import train

CASES = [
    ("xgboost", "churn", "churn"), ("lightgbm", "penguins", "species"),
    ("catboost", "churn", "churn"), ("linear", "penguins", "species"),
    ("random-forest", "churn", "churn"), ("knn", "penguins", "species"),
    ("kmeans", "penguins", None), ("pca", "penguins", None),
    ("isolation-forest", "churn", None),
]


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(bundle, dest)
    return dest


@pytest.mark.parametrize("algorithm, data, target", CASES)
def test_loaded_bundle_predicts_identically(
    algorithm: str, data: str, target: str | None, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    df = request.getfixturevalue(data)
    result = train(df, algorithm, target, tmp_path / "model")
    loaded = load_bundle(tmp_path / "model")
    rows = df.sample(200, random_state=1)
    pd.testing.assert_frame_equal(loaded.predict(rows), result.pipeline.predict(rows),
                                  check_exact=True)
    manifest = read_manifest(tmp_path / "model")
    assert manifest == result.manifest
    assert loaded.classes == manifest["classes"]
    assert [c["name"] for c in manifest["output_schema"]] == list(loaded.predict(rows).columns)
    assert set(manifest["files"]) == {"recipe.json", manifest["model_files"][0],
                                      "evaluation/evaluation.json"}


def test_classification_predictions_are_decoded_labels(xgb_churn: TrainingResult,
                                                       churn: pd.DataFrame) -> None:
    out = load_bundle(xgb_churn.model_dir).predict(churn.head(50))
    assert list(out.columns) == ["prediction", "probability.No", "probability.Yes"]
    assert set(out["prediction"]) <= {"Yes", "No"}
    np.testing.assert_allclose(out[["probability.No", "probability.Yes"]].sum(axis=1), 1.0)
    expected = np.where(out["probability.Yes"] >= 0.5, "Yes", "No")
    assert (out["prediction"].to_numpy() == expected).all()


def test_a_tampered_file_is_refused(xgb_churn: TrainingResult, tmp_path: Path) -> None:
    for name in ("model.ubj", "recipe.json", "evaluation/evaluation.json"):
        bundle = _copy(xgb_churn.model_dir, tmp_path / name.replace("/", "_"))
        path = bundle / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(BundleError, match=f"'{name}' has SHA-256 .* the file was altered"):
            load_bundle(bundle)


def test_an_unlisted_or_missing_file_is_refused(xgb_churn: TrainingResult,
                                                tmp_path: Path) -> None:
    bundle = _copy(xgb_churn.model_dir, tmp_path / "extra")
    (bundle / "evaluation" / "notes.txt").write_text("hello")
    with pytest.raises(BundleError, match=r"not listed in MODEL.json: \['evaluation/notes.txt'\]"):
        load_bundle(bundle)
    bundle = _copy(xgb_churn.model_dir, tmp_path / "missing")
    (bundle / "recipe.json").unlink()
    with pytest.raises(BundleError, match="'recipe.json' listed in MODEL.json is missing"):
        load_bundle(bundle)
    bundle = _copy(xgb_churn.model_dir, tmp_path / "nomanifest")
    (bundle / MANIFEST).unlink()
    with pytest.raises(BundleError, match="No MODEL.json"):
        load_bundle(bundle)
    bundle = _copy(xgb_churn.model_dir, tmp_path / "link")
    (bundle / "evaluation" / "link.json").symlink_to(bundle / "recipe.json")
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(bundle)


def test_bundle_errors_are_integrity_errors() -> None:
    assert issubclass(BundleError, IntegrityError)
    assert BundleError("x").http_status == 500


def test_write_bundle_hashes_every_file_and_refuses_escaping_names(tmp_path: Path) -> None:
    manifest = write_bundle(tmp_path / "b", manifest={"task": "regression"},
                            files={"a.bin": b"abc", "sub/c.txt": b"c"})
    assert manifest["files"]["a.bin"] == sha256_file(tmp_path / "b" / "a.bin")
    assert json.loads((tmp_path / "b" / MANIFEST).read_text())["files"] == manifest["files"]
    for bad in ("../x", "/etc/x", "MODEL.json", ".hidden"):
        with pytest.raises(BundleError, match="plain relative path|written by write_bundle"):
            write_bundle(tmp_path / "c", manifest={}, files={bad: b"x"})


def rebundle(src: Path, dest: Path, files: dict[str, bytes | None],
             **changes: object) -> Path:
    """A copy of bundle ``src`` with files replaced (None: removed), re-hashed: a bundle whose
    MODEL.json was rewritten too, so only the loaders stand between it and the process."""
    manifest = read_manifest(src)
    content: dict[str, bytes | Path] = {rel: src / rel for rel in manifest["files"]}
    for rel, data in files.items():
        if data is None:
            content.pop(rel)
        else:
            content[rel] = data
    rest = {k: v for k, v in manifest.items() if k not in ("files", "format_version")}
    write_bundle(dest, manifest={**rest, **changes}, files=content)
    return dest


def test_a_model_file_with_the_wrong_extension_is_refused(xgb_churn: TrainingResult,
                                                          tmp_path: Path) -> None:
    model = (xgb_churn.model_dir / "model.ubj").read_bytes()
    bundle = rebundle(xgb_churn.model_dir, tmp_path / "b", {"model.ubj": None,
                                                           "model.pkl": model},
                      model_files=["model.pkl"])
    with pytest.raises(BundleError, match="does not have the xgboost extension '.ubj'"):
        load_bundle(bundle)


class TestValidateInput:
    def test_missing_unknown_and_wrongly_typed_columns(self, xgb_churn: TrainingResult,
                                                       churn: pd.DataFrame) -> None:
        pipeline = load_bundle(xgb_churn.model_dir)
        rows = churn.head(5).drop(columns="churn")
        pipeline.validate_input(rows)
        pipeline.validate_input(churn.head(5))  # the target column may come along
        with pytest.raises(InvalidRequest, match="Column 'tenure' is missing"):
            pipeline.validate_input(rows.drop(columns="tenure"))
        with pytest.raises(InvalidRequest, match="Unknown column 'colour'"):
            pipeline.validate_input(rows.assign(colour="red"))
        bad = rows.astype({"tenure": "object"})
        bad.loc[2, "tenure"] = "abc"
        with pytest.raises(InvalidRequest,
                           match=r"Column 'tenure' must be numeric; got 'abc' in row 2"):
            pipeline.validate_input(bad)
        with pytest.raises(InvalidRequest, match="Column 'tenure' is missing"):
            pipeline.predict(rows.drop(columns="tenure"))

    def test_unseen_categories_and_missing_values_predict(self, xgb_churn: TrainingResult,
                                                          churn: pd.DataFrame) -> None:
        pipeline = load_bundle(xgb_churn.model_dir)
        rows = churn.head(3).drop(columns="churn").astype({"contract": "object",
                                                           "monthly_charges": "object"})
        rows.loc[0, "contract"] = "Forever"
        rows.loc[1, "contract"] = None
        rows.loc[2, "monthly_charges"] = None
        pipeline.validate_input(rows)
        out = pipeline.predict(rows)
        assert len(out) == 3 and out["prediction"].isin(["Yes", "No"]).all()


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "catboost", "random-forest",
                                       "linear"])
def test_multiclass_probabilities_sum_to_one(penguins: pd.DataFrame, tmp_path: Path,
                                             algorithm: str) -> None:
    """XGBoost's float32 softmax summed to 1 within ~1e-7 only: scikit-learn's log loss
    warned "The y_prob values do not sum to one" on every AutoML ensemble's selection
    over a multiclass target (MASS's Cars93, AER's DoctorVisits)."""
    from sklearn.metrics import log_loss

    result = train(penguins, algorithm, "species", tmp_path / "model")
    proba = load_bundle(tmp_path / "model").outputs(penguins)["proba"]
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    codes = pd.Categorical(penguins["species"], categories=result.manifest["classes"]).codes
    log_loss(codes, proba, labels=[0, 1, 2])  # warnings are errors here
