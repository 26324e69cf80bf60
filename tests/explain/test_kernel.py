"""KernelSHAP over raw columns: exact on linear models, shap's answer, ensembles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import InferencePipeline, load_bundle, write_ensemble
from shipyard.explanations import Explainer, coalitions, lineage_matrix

from .conftest import BundleFactory, train

#: Eight churn columns: 2^8 - 2 coalitions, so both KernelSHAPs enumerate them all.
SMALL = ["tenure", "monthly_charges", "total_charges", "contract", "internet_service",
         "payment_method", "senior_citizen", "paperless_billing", "churn"]


def linear_exact(pipeline: InferencePipeline, rows: pd.DataFrame, background: pd.DataFrame,
                 weights: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """Exact interventional SHAP of a linear model: coef · (x - E_background[x]) per feature,
    summed over each raw column's features."""
    coef = np.asarray(pipeline.model.coef_, dtype="float64").reshape(-1)
    X = pipeline.transform(rows).to_numpy(dtype="float64")
    B = pipeline.transform(background).to_numpy(dtype="float64")
    per_feature = coef * (X - weights @ B)
    return per_feature @ lineage_matrix(pipeline.recipe.lineage(), list(columns))


def test_coalitions_are_every_subset_when_few_and_weighted_by_the_kernel() -> None:
    rng = np.random.default_rng(0)
    z, w = coalitions(5, 1000, rng)
    assert len(z) == 2 ** 5 - 2 and len({r.tobytes() for r in z}) == len(z)
    assert w.sum() == pytest.approx(1.0)
    sizes = z.sum(axis=1)
    for s in range(1, 5):
        kernel = (5 - 1) / (math.comb(5, s) * s * (5 - s))
        ratio = w[sizes == s] / kernel
        assert np.allclose(ratio, ratio[0])  # each subset's weight ∝ the Shapley kernel
    z, w = coalitions(30, 500, rng)  # sampled: paired, within budget
    assert len(z) <= 500 and w.sum() == pytest.approx(1.0)
    keys = {r.tobytes() for r in z}
    assert all((~r).tobytes() in keys for r in z)


def test_linear_regression_is_exact_and_one_hot_columns_are_summed(
        bundles: BundleFactory, ames: pd.DataFrame) -> None:
    pipeline = bundles("linear", "ames")
    df = ames.drop(columns="price")
    explainer = Explainer(pipeline, df, method="kernel", background_size=30, summary="kmeans")
    assert explainer.output_space == "value"
    rows = df.sample(40, random_state=0)
    e = explainer.explain(rows)
    assert e.values.shape == (40, len(e.columns), 1)
    np.testing.assert_allclose(e.output_values, explainer.output(rows), rtol=1e-9)
    assert explainer.background is not None and explainer.background_weights is not None
    exact = linear_exact(pipeline, rows, explainer.background, explainer.background_weights,
                         e.columns)
    np.testing.assert_allclose(e.values[:, :, 0], exact, atol=1e-6 * np.abs(exact).max())
    # A one-hot encoded label column: its SHAP is its one-hot columns' contributions summed.
    j = e.columns.index("Neighborhood")
    onehot = [f for f in pipeline.recipe.feature_names if f.startswith("Neighborhood=")]
    assert len(onehot) > 5
    coef = dict(zip(pipeline.recipe.feature_names, pipeline.model.coef_, strict=True))
    X = pipeline.transform(rows)
    B = pipeline.transform(explainer.background)
    mean = explainer.background_weights @ B[onehot].to_numpy()
    summed = (X[onehot].to_numpy() - mean) @ np.array([coef[f] for f in onehot])
    np.testing.assert_allclose(e.values[:, j, 0], summed, atol=1e-6 * np.abs(exact).max())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # shap's own, on numpy 2
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_agrees_with_shap_kernel_explainer(tmp_path: Path, churn: pd.DataFrame) -> None:
    shap = pytest.importorskip("shap")
    pipeline = train(churn[SMALL], "linear", "churn", tmp_path / "model")
    df = churn[SMALL].drop(columns="churn")
    explainer = Explainer(pipeline, df, method="kernel", background_size=20, summary="sample")
    rows = df.sample(8, random_state=4)
    ours = explainer.explain(rows)
    assert ours.output_space == "probability" and ours.outputs == ("Yes",)
    assert explainer.background is not None
    columns = list(ours.columns)

    def f(a: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(a, columns=columns).astype(
            {c: "float64" for c in ("tenure", "monthly_charges", "total_charges",
                                    "senior_citizen")})
        return pipeline.predict(frame)["probability.Yes"].to_numpy()

    theirs = shap.KernelExplainer(f, explainer.background.to_numpy(dtype=object)).shap_values(
        rows[columns].to_numpy(dtype=object), nsamples=2 ** 8, silent=True)
    np.testing.assert_allclose(ours.values[:, :, 0], np.asarray(theirs), atol=1e-6)


def test_sampled_coalitions_stay_additive_and_close(bundles: BundleFactory,
                                                    penguins: pd.DataFrame) -> None:
    pipeline = bundles("random-forest", "penguins")
    df = penguins.drop(columns="species")
    rows = df.dropna().sample(10, random_state=5)
    exact = Explainer(pipeline, df, background_size=10).explain(rows)  # 2^7 - 2: all of them
    assert exact.method == "kernel" and exact.outputs == ("Adelie", "Chinstrap", "Gentoo")
    sampled = Explainer(pipeline, df, background_size=10, n_coalitions=60).explain(rows)
    np.testing.assert_allclose(sampled.output_values, exact.output_values, atol=1e-9)
    np.testing.assert_allclose(exact.output_values.sum(axis=1), 1.0, atol=1e-9)
    assert np.abs(sampled.values - exact.values).max() < 0.05


def test_an_ensemble_is_explained_over_the_union_of_its_members_columns(
        bundles: BundleFactory, tmp_path: Path, churn: pd.DataFrame) -> None:
    members = [(bundles.path("xgboost", "churn"), 2.0), (bundles.path("linear", "churn"), 1.0)]
    write_ensemble(tmp_path / "ens", members)
    ensemble = load_bundle(tmp_path / "ens")
    df = churn.drop(columns="churn")
    explainer = Explainer(ensemble, df, background_size=10, n_coalitions=200)
    assert explainer.method == "kernel"
    rows = df.sample(5, random_state=6)
    e = explainer.explain(rows)
    np.testing.assert_allclose(
        e.output_values[:, 0], ensemble.predict(rows)["probability.Yes"].to_numpy(), atol=1e-9)
    assert "tenure" in e.columns and "customer_id" not in e.columns


def test_masked_rows_are_built_once_each_and_keep_their_values() -> None:
    from shipyard.explanations._kernel import masked_values

    rows = pd.DataFrame({"n": [1.5, np.nan, 3.0], "s": ["a", None, "b"],
                         "d": pd.to_datetime(["2024-01-01", "2024-02-01", None]),
                         "i": [1, 2, 3]})
    background = pd.DataFrame({"n": [1.5, 7.0], "s": ["c", "a"],
                               "d": pd.to_datetime(["2023-05-05", None]), "i": [3, 4]})
    z, _ = coalitions(4, 100, np.random.default_rng(0))
    seen: list[pd.DataFrame] = []

    def f(frame: pd.DataFrame) -> np.ndarray:
        seen.append(frame)
        code = (frame["n"].fillna(-1) * 1000 + frame["s"].map({"a": 1, "b": 2, "c": 3})
                .fillna(0) * 100 + frame["d"].dt.month.fillna(0) + frame["i"] * 10000)
        return code.to_numpy(dtype="float64")[:, None]

    got = masked_values(f, rows, background, z)
    assert got.shape == (3, len(z), 2, 1)
    frame = seen[0]
    assert frame["d"].dtype == rows["d"].dtype and frame["i"].dtype == rows["i"].dtype
    assert len(frame) == len(frame.drop_duplicates()) < 3 * len(z) * 2
    for i in range(3):
        for k, coalition in enumerate(z):
            for j in range(2):
                mixed = {c: rows[c].iloc[i] if coalition[m] else background[c].iloc[j]
                         for m, c in enumerate(rows.columns)}
                assert got[i, k, j, 0] == f(pd.DataFrame([mixed]).astype(
                    {"d": "datetime64[ns]", "n": "float64"}))[0, 0]


def test_columns_a_select_step_dropped_are_not_explained(tmp_path: Path,
                                                         penguins: pd.DataFrame) -> None:
    from shipyard.training import TrainingContext, run_training

    run_training(TrainingContext(
        train=penguins, algorithm="linear", target="species", model_dir=tmp_path / "m",
        recipe={"steps": [{"step": "impute"}, {"step": "categorical"},
                          {"step": "select", "params": {"method": "importance", "k": 3}}]},
        n_jobs=1, plots=False, log=lambda line: None))
    pipeline = load_bundle(tmp_path / "m")
    signature = [e["name"] for e in pipeline.input_signature if e.get("required", True)]
    df = penguins.drop(columns="species")
    explainer = Explainer(pipeline, df, background_size=10)
    assert set(explainer.columns) < set(signature)  # some required columns read by nothing
    rows = df.dropna().head(4)
    e = explainer.explain(rows)
    np.testing.assert_allclose(e.output_values, explainer.output(rows), atol=1e-9)
    np.testing.assert_allclose(
        e.output_values, pipeline.predict(rows)[[f"probability.{c}" for c in e.outputs]],
        atol=1e-9)


def test_with_progress_the_first_batch_is_one_row(bundles: BundleFactory,
                                                  ames: pd.DataFrame) -> None:
    # So the explain job's first progress line, and its estimate of the time left, come
    # after one row rather than after a whole batch of a wide model.
    pipeline = bundles("linear", "ames")
    df = ames.drop(columns="price")
    explainer = Explainer(pipeline, df, method="kernel", background_size=5, n_coalitions=30)
    rows = df.sample(9, random_state=0)
    calls: list[tuple[int, int]] = []
    shown = explainer.explain(rows, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 9), (9, 9)]
    np.testing.assert_allclose(shown.values, explainer.explain(rows).values, atol=1e-9)
