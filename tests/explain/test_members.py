"""A regression ensemble explained member by member (the ``additive`` method): exact for
its boosting and linear members, KernelSHAP for the rest, the values added up by weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.automl._shap import shap_importance
from shipyard.bundle import EnsemblePipeline, load_bundle, write_ensemble
from shipyard.errors import InvalidRequest
from shipyard.explanations import Explainer

from .conftest import QUICK, BundleFactory

#: Five ames columns: 2^5 - 2 coalitions, so KernelSHAP enumerates them all and is exact.
FEW = ["price", "area", "Overall.Qual", "Year.Built", "Neighborhood", "Central.Air"]
LOG = {"extends": "default", "target_transform": "log"}


def _train(df: pd.DataFrame, algorithm: str, folder: Path, recipe: dict | None = None,
           **hp: object) -> Path:
    from shipyard.training import TrainingContext, run_training

    run_training(TrainingContext(
        train=df, algorithm=algorithm, target="price", model_dir=folder, recipe=recipe,
        hyperparameters={**QUICK[algorithm], **hp}, n_jobs=1, plots=False,
        log=lambda line: None))
    return folder


@pytest.fixture(scope="module")
def few(tmp_path_factory: pytest.TempPathFactory, ames: pd.DataFrame) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("members")
    df = ames[FEW]
    return {"lightgbm": _train(df, "lightgbm", root / "lightgbm"),
            "linear": _train(df, "linear", root / "linear"),
            "log": _train(df, "lightgbm", root / "log", LOG),
            "forest": _train(df, "random-forest", root / "forest"),
            "xgboost": _train(df, "xgboost", root / "xgboost")}


def _ensemble(tmp_path: Path, parts: list[tuple[Path, float]]) -> EnsemblePipeline:
    write_ensemble(tmp_path / "ens", parts)
    pipeline = load_bundle(tmp_path / "ens")
    assert isinstance(pipeline, EnsemblePipeline)
    return pipeline


def test_values_add_up_to_the_ensemble_and_only_the_rest_runs_kernelshap(
        tmp_path: Path, few: dict[str, Path], ames: pd.DataFrame) -> None:
    ens = _ensemble(tmp_path, [(few["lightgbm"], 0.4), (few["linear"], 0.25),
                               (few["log"], 0.35)])
    df = ames[FEW].drop(columns="price")
    explainer = Explainer(ens, df, background_size=20)
    assert explainer.method == "additive" and explainer.output_space == "value"
    assert explainer.members is not None
    assert [p.kind for p in explainer.members.exact] == ["tree", "linear"]
    assert [w for w, _ in explainer.members.rest] == [0.35]
    rows = df.sample(25, random_state=1)
    e = explainer.explain(rows)
    assert e.method == "additive" and e.values.shape == (25, len(explainer.columns), 1)
    predicted = ens.outputs(rows)["value"]
    np.testing.assert_allclose(e.output_values[:, 0], predicted, rtol=1e-6)
    np.testing.assert_allclose(explainer.output(rows)[:, 0], predicted, rtol=1e-12)


def test_each_exact_member_gives_its_own_exact_values_weighted(
        tmp_path: Path, few: dict[str, Path], ames: pd.DataFrame) -> None:
    ens = _ensemble(tmp_path, [(few["lightgbm"], 0.6), (few["linear"], 0.4)])
    df = ames[FEW].drop(columns="price")
    rows = df.sample(20, random_state=2)
    # The same background rows for both (a seeded sample: k-means would cluster each
    # model's own features).
    explainer = Explainer(ens, df, background_size=20, summary="sample")
    assert explainer.members is not None and not explainer.members.rest
    assert explainer.kernel_columns == ()
    e = explainer.explain(rows)
    # The tree member: its own TreeSHAP; the linear member: KernelSHAP of it alone over
    # the same background, exact here (every coalition of five columns).
    tree = Explainer(load_bundle(few["lightgbm"]), method="tree").explain(rows)
    linear = Explainer(load_bundle(few["linear"]), df, method="kernel", background_size=20,
                       summary="sample").explain(rows)
    assert tree.columns == linear.columns == e.columns
    expected = 0.6 * tree.values + 0.4 * linear.values
    scale = np.abs(expected).max()
    np.testing.assert_allclose(e.values, expected, atol=1e-6 * scale)
    np.testing.assert_allclose(
        e.base_values, 0.6 * tree.base_values + 0.4 * linear.base_values, rtol=1e-9)


def test_the_kernel_part_matches_kernelshap_of_those_members_alone(
        tmp_path: Path, few: dict[str, Path], ames: pd.DataFrame) -> None:
    # Only the forest and the log-target model run KernelSHAP: what they get is what a
    # KernelSHAP of their ensemble alone gets, weights and all.
    df = ames[FEW].drop(columns="price")
    rows = df.sample(10, random_state=3)
    ens = _ensemble(tmp_path / "a", [(few["lightgbm"], 0.5), (few["forest"], 0.3),
                                     (few["log"], 0.2)])
    rest = _ensemble(tmp_path / "b", [(few["forest"], 0.6), (few["log"], 0.4)])
    e = Explainer(ens, df, background_size=15, summary="sample").explain(rows)
    tree = Explainer(load_bundle(few["lightgbm"]), method="tree").explain(rows)
    alone = Explainer(rest, df, method="kernel", background_size=15,
                      summary="sample").explain(rows)
    expected = 0.5 * tree.values + 0.5 * alone.values
    np.testing.assert_allclose(e.values, expected, atol=1e-6 * np.abs(expected).max())


def test_classification_ensembles_and_members_with_no_exact_method_stay_kernel(
        tmp_path: Path, bundles: BundleFactory, churn: pd.DataFrame, few: dict[str, Path],
        ames: pd.DataFrame) -> None:
    # A classifier's members give probabilities, which do not add up from their margins.
    ens = _ensemble(tmp_path / "c", [(bundles.path("lightgbm", "churn"), 0.5),
                                     (bundles.path("linear", "churn"), 0.5)])
    x = Explainer(ens, churn.drop(columns="churn").head(200), background_size=5)
    assert x.method == "kernel" and x.members is None
    with pytest.raises(InvalidRequest, match="method 'additive' needs a regression"):
        Explainer(ens, churn.head(50), method="additive")
    only_rest = _ensemble(tmp_path / "r", [(few["forest"], 0.5), (few["log"], 0.5)])
    assert Explainer(only_rest, ames[FEW].head(50), background_size=5).method == "kernel"
    # A linear member needs the background's means.
    linear = _ensemble(tmp_path / "l", [(few["lightgbm"], 0.5), (few["linear"], 0.5)])
    with pytest.raises(InvalidRequest, match="need background rows"):
        Explainer(linear)
    # Boosting members alone need none, and run no KernelSHAP.
    trees = _ensemble(tmp_path / "t", [(few["lightgbm"], 0.5), (few["xgboost"], 0.5)])
    x = Explainer(trees)
    assert x.method == "additive" and x.kernel_columns == () and x.background is None
    rows = ames[FEW].drop(columns="price").head(30)
    np.testing.assert_allclose(x.explain(rows).output_values[:, 0],
                               trees.outputs(rows)["value"], rtol=1e-6)


@pytest.mark.parametrize("step", [
    {"step": "expression", "params": {"name": "age_area",
                                      "expression": "area * Year_Built"}},
    {"step": "impute", "params": {"strategy": "knn"}}], ids=["expression", "knn"])
def test_a_linear_member_not_additive_in_its_columns_goes_to_kernelshap(
        tmp_path: Path, few: dict[str, Path], ames: pd.DataFrame, step: dict) -> None:
    # A feature of two columns, or a gap filled from the other columns: the linear model
    # is not a sum of one function per raw column, so its exact formula does not hold.
    # (The expression reads a copy of Year.Built under a name Python can parse.)
    df = ames[FEW].assign(Year_Built=ames["Year.Built"])
    linear = _train(df.drop(columns="Year.Built"), "linear", tmp_path / "member",
                    {"extends": "default", "steps": [step]})
    assert load_bundle(linear).recipe.separable() == (step["step"] != "impute")
    ens = _ensemble(tmp_path, [(few["lightgbm"], 0.5), (linear, 0.5)])
    explainer = Explainer(ens, df.drop(columns="price"), background_size=10)
    assert explainer.members is not None
    assert [p.kind for p in explainer.members.exact] == ["tree"]
    assert len(explainer.members.rest) == 1
    assert "Year_Built" in explainer.kernel_columns
    rows = df.drop(columns="price").sample(10, random_state=4)
    np.testing.assert_allclose(explainer.explain(rows).output_values[:, 0],
                               ens.outputs(rows)["value"], rtol=1e-6)


def test_the_automl_step_explains_a_regression_ensemble_additively(
        tmp_path: Path, few: dict[str, Path], ames: pd.DataFrame) -> None:
    import time

    ens = _ensemble(tmp_path, [(few["lightgbm"], 0.5), (few["linear"], 0.3),
                               (few["log"], 0.2)])
    df = ames[FEW].drop(columns="price")
    found = shap_importance(ens, df, df.sample(300, random_state=0),
                            until=time.time() + 20.0)
    record = found.record
    assert "skipped" not in record, record
    assert record["explainer"] == "additive" and record["output_space"] == "value"
    assert [m["kind"] for m in record["members"]["exact"]] == ["tree", "linear"]
    assert [m["weight"] for m in record["members"]["kernel"]] == [0.2]
    assert record["coalitions"] and record["rows"] >= 30
    assert {r["column"] for r in record["columns"]} == set(df.columns)
    assert record["columns"][0]["column"] in ("Overall.Qual", "area")



def test_a_linear_regression_model_alone_gets_its_exact_values_at_no_kernel_cost(
        few: dict[str, Path], ames: pd.DataFrame) -> None:
    # As a member of weight 1: the same values KernelSHAP finds with every coalition.
    df = ames[FEW].drop(columns="price")
    rows = df.sample(20, random_state=5)
    linear = load_bundle(few["linear"])
    x = Explainer(linear, df, background_size=20, summary="sample")
    assert x.method == "additive" and x.kernel_columns == ()
    e = x.explain(rows)
    kernel = Explainer(linear, df, method="kernel", background_size=20,
                       summary="sample").explain(rows)
    np.testing.assert_allclose(e.values, kernel.values, atol=1e-6 * np.abs(kernel.values).max())
    np.testing.assert_allclose(e.output_values[:, 0], linear.outputs(rows)["value"], rtol=1e-9)


def test_the_automl_step_starts_nothing_when_the_exact_share_would_not_fit(
        tmp_path: Path, few: dict[str, Path], ames: pd.DataFrame) -> None:
    import time

    ens = _ensemble(tmp_path, [(few["lightgbm"], 0.5), (few["linear"], 0.5)])
    df = ames[FEW].drop(columns="price")
    # A model whose call on the test rows took 1 s: its exact share needs about 2.
    found = shap_importance(ens, df, df.head(100), until=time.time() + 1.5,
                            call_seconds=1.0)
    assert found.explanation is None
    assert found.record["skipped"].endswith("for the exact members' values")
    assert found.record["seconds"] < 0.05
