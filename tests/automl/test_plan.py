"""The AutoML plan without a server: the portfolio, the refit's settings, the reserve, and
ties of hard-label metrics broken by log loss."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.automl import DEFAULT_ALGORITHMS, loss_function, portfolio, select
from shipyard.automl._driver import MAX_RESERVE, reserve
from shipyard.automl._final import refit_settings
from shipyard.automl._portfolio import describe, recipe_variants, search_recipe, skewed_target
from shipyard.training import get_algorithm, validate_hyperparameters


@pytest.mark.parametrize("problem_type", ["binary", "multiclass", "regression"])
def test_every_portfolio_entry_is_a_valid_training_request(problem_type: str) -> None:
    plan = portfolio(list(DEFAULT_ALGORITHMS))
    assert [e["algorithm"] for e in plan][:3] == ["lightgbm", "linear", "xgboost"]
    assert {e["algorithm"] for e in plan} == set(DEFAULT_ALGORITHMS)
    for entry in plan:
        assert problem_type in get_algorithm(entry["algorithm"]).info.problem_types
        validate_hyperparameters(entry["algorithm"], entry["hyperparameters"])
        boosting = entry["algorithm"] in ("lightgbm", "xgboost", "catboost")
        assert (entry["hyperparameters"].get("early_stopping_rounds") is not None) == boosting


def test_a_portfolio_keeps_to_the_algorithms_asked_for() -> None:
    plan = portfolio(["linear", "knn"])
    assert [e["algorithm"] for e in plan] == ["knn", "linear", "linear"]
    assert all("variant" not in e for e in plan)  # no variants were offered: default recipe
    assert plan[0]["hyperparameters"] == {}  # knn has no entry: its defaults


def test_the_binned_variant_bins_only_real_numeric_columns() -> None:
    schema = [{"name": "tenure", "semantic_type": "numeric", "distinct": 73},
              {"name": "charges", "semantic_type": "numeric", "distinct": 1500},
              {"name": "seats", "semantic_type": "numeric", "distinct": 4},  # too few values
              {"name": "Order", "semantic_type": "row_number", "distinct": 2930},
              {"name": "PID", "semantic_type": "identifier", "distinct": 2930},
              {"name": "senior", "semantic_type": "boolean", "distinct": 2},
              {"name": "plan", "semantic_type": "categorical", "distinct": 3},
              {"name": "price", "semantic_type": "numeric", "distinct": 900}]
    variants = recipe_variants(schema, "price")
    step = variants["binned"]["steps"][0]
    assert variants["binned"]["extends"] == "default"
    assert step["step"] == "bin" and step["columns"] == ["tenure", "charges"]
    assert step["params"] == {"method": "quantile", "n_bins": 5, "output": "onehot"}
    clip = variants["clipped"]["steps"][0]
    assert clip["step"] == "clip" and clip["columns"] == ["tenure", "charges"]
    assert clip["params"] == {"method": "quantile", "lower": 0.005, "upper": 0.995}
    splined = variants["splined"]["steps"]
    assert splined[0] == clip and splined[1] == {
        "step": "spline", "columns": ["tenure", "charges"],
        "params": {"n_knots": 5, "degree": 3}}
    plan = portfolio(list(DEFAULT_ALGORITHMS), variants)
    linear = [e for e in plan if e["algorithm"] == "linear"]
    assert [e.get("variant") for e in linear] == ["clipped", "splined", "binned", "clipped"]
    assert plan[1:4] == linear[:3] and linear[2]["recipe"] == variants["binned"]
    assert all("variant" not in e for e in plan if e["algorithm"] != "linear")
    assert describe(linear[2]["recipe"]) == "default recipe + quantile bins (5) of 2 columns"
    assert describe(linear[1]["recipe"]) == ("default recipe + 2 columns clipped to their "
                                             "0.5%–99.5% quantiles, cubic splines (5 knots) "
                                             "of 2 columns")
    assert describe(linear[0]["recipe"]) == \
        "default recipe + 2 columns clipped to their 0.5%–99.5% quantiles"
    assert describe(None) == "default recipe"
    # The search's linear candidates are clipped too; the others keep the default.
    assert search_recipe("linear", variants) == variants["clipped"]
    assert search_recipe("lightgbm", variants) is None
    # No column worth it: no variant; the clipped entries fall back to the default recipe
    # and the binned one is left out.
    assert recipe_variants(schema[2:], "price") == {}
    plain = portfolio(list(DEFAULT_ALGORITHMS))
    assert all("variant" not in e for e in plain)
    assert len(plain) == len(plan) - 2 and search_recipe("linear", {}) is None


def test_a_skewed_positive_target_gets_log_candidates_for_boosting_only() -> None:
    rng = np.random.default_rng(0)
    prices = rng.lognormal(12, 0.4, 2000)  # skewed right, positive: ames-like
    assert skewed_target(prices) and skewed_target(np.append(prices, [np.nan, np.inf]))
    assert not skewed_target(rng.normal(0, 1, 2000))  # symmetric
    assert not skewed_target(prices - 200_000)  # negative values: no log
    assert not skewed_target(["a", "b"] * 50) and not skewed_target(prices[:10])
    schema = [{"name": "area", "semantic_type": "numeric", "distinct": 900}]
    variants = recipe_variants(schema, "price", log_target=True)
    assert variants["log"] == {"extends": "default", "target_transform": "log"}
    assert set(recipe_variants(schema, "price")) == {"clipped", "splined", "binned"}
    assert recipe_variants([], "price", log_target=True) == {"log": variants["log"]}
    plan = portfolio(list(DEFAULT_ALGORITHMS), variants)
    logged = [e for e in plan if e.get("variant") == "log"]
    assert [e["algorithm"] for e in logged] == ["lightgbm", "lightgbm"]
    assert logged[0] == {"algorithm": "lightgbm", "variant": "log", "recipe": variants["log"],
                         "hyperparameters": {"early_stopping_rounds": 50}}
    assert plan.index(logged[0]) == 2  # early: right after the first of each algorithm
    assert describe(variants["log"]) == "default recipe + the model learns log(1 + target)"
    assert search_recipe("lightgbm", variants) is None  # the search keeps the default


def test_high_cardinality_categoricals_get_a_target_encoded_xgboost() -> None:
    schema = [{"name": "Neighborhood", "semantic_type": "categorical", "distinct": 28},
              {"name": "Lot.Shape", "semantic_type": "categorical", "distinct": 4},
              {"name": "PID", "semantic_type": "identifier", "distinct": 2930},
              {"name": "notes", "semantic_type": "text", "distinct": 2000}]
    variants = recipe_variants(schema, "price")
    assert variants.pop("text")["steps"][0]["columns"] == ["notes"]  # the next test's
    assert variants == {"encoded": {"extends": "default", "steps": [
        {"step": "encode", "columns": ["Neighborhood"], "params": {"method": "target"}}]}}
    plan = portfolio(list(DEFAULT_ALGORITHMS), variants)
    encoded = [e for e in plan if e.get("variant") == "encoded"]
    assert [e["algorithm"] for e in encoded] == ["xgboost"]
    assert plan[plan.index(encoded[0]) - 1] == {
        "algorithm": "xgboost", "hyperparameters": {"early_stopping_rounds": 50}}
    assert describe(variants["encoded"]) == "default recipe + target encoding of 1 column"
    assert recipe_variants(schema[1:3], "price") == {}
    assert "encoded" not in recipe_variants(schema, "Neighborhood")  # never the target


def test_a_refit_trains_the_rounds_early_stopping_kept() -> None:
    manifest = {"algorithm": "lightgbm", "training": {"best_iteration": 136},
                "hyperparameters": {"n_estimators": 1000, "early_stopping_rounds": 50,
                                    "learning_rate": 0.03}}
    assert refit_settings(manifest) == {"n_estimators": 137, "early_stopping_rounds": None,
                                        "learning_rate": 0.03}
    catboost = {"algorithm": "catboost", "training": {"best_iteration": 9},
                "hyperparameters": {"iterations": 500, "early_stopping_rounds": 50}}
    assert refit_settings(catboost)["iterations"] == 10
    linear = {"algorithm": "linear", "training": {"best_iteration": None},
              "hyperparameters": {"alpha": 1.0}}
    assert refit_settings(linear) == {"alpha": 1.0}
    # Cross-validated: the mean of the folds' rounds, not the saved first fold's.
    folds = {**manifest, "training": {"best_iteration": 136, "cv": {
        "folds": 5, "best_iterations": [136, 100, 120, 150, 140], "rounds": 130}}}
    assert refit_settings(folds)["n_estimators"] == 130


class _Job:
    def __init__(self, seconds: float) -> None:
        from datetime import UTC, datetime, timedelta

        self.started_at = datetime(2026, 1, 1, tzinfo=UTC)
        self.ended_at = self.started_at + timedelta(seconds=seconds)


def test_the_reserve_grows_with_the_leaders_fit_times_and_is_capped() -> None:
    spec = {"time_budget": 300, "rows": 7000, "parallel": 2, "resolved_mode": "ensembling"}
    # The final job's own cost: 2.5 s before its refits and 1 s measuring its model, then
    # what its refits leave it (3.5 s, plus 2.5 s at churn's size (7,000 rows) and
    # beyond), plus a second per 200,000 rows.
    assert reserve(spec) == pytest.approx(9.5 + 7000 / 200_000)
    assert reserve({**spec, "rows": 700}) == pytest.approx(7.0 + 0.25 + 700 / 200_000)
    assert reserve({**spec, "rows": 70_000}) == pytest.approx(9.5 + 70_000 / 200_000)
    spec["rows"] = 0
    leaders = [_Job(4), _Job(2), _Job(2), _Job(100)]
    # The three best candidates' run times, scaled to the refit's rows, over 2 CPUs.
    assert reserve(spec, leaders) == pytest.approx(7.0 + 8 * 1.4 / 2)
    assert reserve({**spec, "resolved_mode": "hpo"}, leaders) == pytest.approx(7.0 + 4 * 1.4 / 2)
    assert reserve(spec, [_Job(1000)] * 3) == pytest.approx(MAX_RESERVE * 300)
    # Cross-validated candidates fitted 5 models on 4/5 of the rows a refit trains on.
    assert reserve({**spec, "cv_folds": 5}, leaders) == pytest.approx(7.0 + 8 / 4 / 2)


@pytest.mark.parametrize("rows", [100, 932, 3500, 7043, 50_000])
def test_the_reserve_leaves_the_refits_the_time_it_counted_for_them(rows: int) -> None:
    """The final job's refits end ``after_refit_seconds(rows)`` before the deadline; the
    reserve counts that same figure, so what is left for the refits, once the final job
    has started, is what the reserve counted for them. Before, on a small table, the
    reserve kept 4.5 s in all where the final job kept 6 s after its refits: its members
    were never refit (Sacramento, 932 rows: "-0.6 s left")."""
    from shipyard.automl._driver import FINAL_FIXED_SECONDS, STORE_SECONDS
    from shipyard.automl._final import MEASURE_SECONDS, after_refit_seconds

    spec = {"time_budget": 60, "rows": rows, "parallel": 2, "resolved_mode": "ensembling"}
    leaders = [_Job(3), _Job(2), _Job(1)]
    counted = reserve(spec, leaders) - reserve(spec)
    # The search ends at budget - reserve; the final job starts FINAL_FIXED_SECONDS -
    # STORE_SECONDS later at most, measures its model (MEASURE_SECONDS), and must end its
    # refits at deadline - after_refit.
    search_end = 60 - reserve(spec, leaders)
    refits_start = search_end + FINAL_FIXED_SECONDS + MEASURE_SECONDS - STORE_SECONDS
    refit_until = 60 - STORE_SECONDS - after_refit_seconds(rows)
    assert refit_until - refits_start == pytest.approx(counted + rows / 200_000)
    assert counted == pytest.approx(6 * 1.4 / 2)


def test_log_loss_breaks_ties_of_accuracy() -> None:
    y = np.array([0, 1, 1, 0])
    sure = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.8, 0.2]])
    unsure = np.array([[0.6, 0.4], [0.4, 0.6], [0.45, 0.55], [0.55, 0.45]])
    loss = loss_function("accuracy", "binary", y, 2)
    assert loss(sure) < loss(unsure) < 1e-6  # both right on every row
    # The first listed would win a plain tie; log loss picks the surer one.
    assert select([unsure, sure], y, "accuracy", "binary").best_single == 1
    wrong = np.array([[0.1, 0.9], [0.1, 0.9], [0.2, 0.8], [0.8, 0.2]])
    assert loss(wrong) > loss(unsure) + 0.2  # a row's share outweighs any log loss


def test_the_fast_roc_auc_is_scikit_learns() -> None:
    from sklearn.metrics import roc_auc_score

    from shipyard.automl._ensemble import _binary_auc

    rng = np.random.default_rng(0)
    for n in (7, 1174, 20_000):
        y = rng.integers(0, 2, n)
        score = np.round(rng.random(n), 2)  # many ties
        assert _binary_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_permutation_importance_finds_the_column_that_matters_on_a_sample() -> None:
    import pandas as pd

    from shipyard.automl._final import IMPORTANCE_ROWS, permutation_importance

    rng = np.random.default_rng(1)
    n = IMPORTANCE_ROWS + 500  # more rows than it measures on: it samples rows and targets
    X = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = 3 * X["signal"].to_numpy()

    def loss_for(targets: np.ndarray):  # noqa: ANN202
        return loss_function("rmse", "regression", targets)

    found = permutation_importance(lambda rows: 3 * rows["signal"].to_numpy(), X, y, loss_for)
    assert found["rows"] == IMPORTANCE_ROWS and found["repeats"] == 3
    assert found["baseline_loss"] == pytest.approx(0.0)
    assert [r["column"] for r in found["columns"]] == ["signal", "noise"]
    assert found["columns"][0]["importance"] > 3 and found["columns"][1]["importance"] == 0
    # No time left: one pass still runs, on the fewest rows, and it still finds the signal.
    import time

    from shipyard.automl._final import IMPORTANCE_MIN_ROWS

    late = permutation_importance(lambda rows: 3 * rows["signal"].to_numpy(), X, y, loss_for,
                                  deadline=time.time() - 10)
    assert late["repeats"] == 1 and late["rows"] == IMPORTANCE_MIN_ROWS
    assert [r["column"] for r in late["columns"]] == ["signal", "noise"]



def test_a_column_that_flips_no_label_has_no_accuracy_importance() -> None:
    """Accuracy's loss breaks selection ties with a pinch of log loss; importance measured
    with it listed AER's Affairs columns that change no prediction as "yearsmarried
    1.48e-10, rating 5.41e-11" among the most important (a user trial). A column that moves
    the probabilities but flips no label matters 0 to accuracy."""
    import pandas as pd

    from shipyard.automl._final import importance_loss, permutation_importance

    rng = np.random.default_rng(2)
    n = 600
    X = pd.DataFrame({"signal": rng.normal(size=n), "nudge": rng.random(size=n)})
    y = (X["signal"].to_numpy() > 0).astype(int)

    def proba(rows: pd.DataFrame) -> np.ndarray:
        # The nudge shifts each probability by at most 0.05, never across 0.5.
        p = np.where(rows["signal"].to_numpy() > 0, 0.8, 0.2) + 0.05 * rows["nudge"].to_numpy()
        return np.column_stack([1 - p, p])

    found = permutation_importance(proba, X, y, importance_loss("accuracy", "binary", 2))
    importance = {r["column"]: r["importance"] for r in found["columns"]}
    assert importance["signal"] > 0.3 and importance["nudge"] == 0.0, importance
    # A metric with no tie-break (ROC AUC, RMSE) is the selection's own loss.
    assert importance_loss("rmse", "regression", 0)(np.array([1.0, 3.0]))(
        np.array([1.0, 1.0])) == pytest.approx(np.sqrt(2))

def test_free_text_gets_a_richer_tfidf_for_one_lightgbm_bounded_by_the_rows() -> None:
    schema = [{"name": "review", "semantic_type": "text", "distinct": 3990},
              {"name": "product", "semantic_type": "categorical", "distinct": 12},
              {"name": "score", "semantic_type": "categorical", "distinct": 2}]
    variants = recipe_variants(schema, "score", rows=4_000)
    assert variants == {"text": {"extends": "default", "steps": [
        {"step": "tfidf", "columns": ["review"],
         "params": {"max_features": 2000, "ngram_range": [1, 2], "min_df": 2,
                    "sublinear_tf": True}}]}}
    plan = portfolio(list(DEFAULT_ALGORITHMS), variants)
    texts = [e for e in plan if e.get("variant") == "text"]
    assert [e["algorithm"] for e in texts] == ["lightgbm"]
    assert plan.index(texts[0]) == 2  # right after LightGBM's and the linear defaults
    assert describe(variants["text"]["recipe"] if "recipe" in variants["text"]
                    else variants["text"]) == ("default recipe + TF-IDF (1–2-word n-grams, "
                                               "2000 terms) of 1 column")
    # A large table keeps fewer terms (dense columns): 20M cells over 50,000 rows and two
    # text columns is 200 per column, under the default's 300, so no variant.
    assert recipe_variants(schema, "score", rows=20_000)["text"]["steps"][0]["params"][
        "max_features"] == 1000
    two = [*schema, {"name": "summary", "semantic_type": "text", "distinct": 3000}]
    assert "text" not in recipe_variants(two, "score", rows=50_000)
    assert "text" not in recipe_variants(schema, "review")  # never the target
