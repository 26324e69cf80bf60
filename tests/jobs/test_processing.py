"""Processing jobs: input datasets in, a user's script, output datasets out."""

from __future__ import annotations

import httpx

from shipyard.testing import LocalServer

from .helpers import follow_log, spec, submit, wait_for

CSV = "customer,tenure,churned\na,1,yes\nb,,no\nc,24,no\nd,7,\ne,3,yes\n"

CLEAN = """
    from shipyard import runtime
    df = runtime.read_input("raw")
    print(f"read {len(df)} rows with columns {sorted(df.columns)}")
    for step, column in enumerate(sorted(df.columns)):
        runtime.log_metric("missing", int(df[column].isna().sum()), step=step)
    clean = df.dropna().reset_index(drop=True)
    runtime.write_output(clean, "churn-clean")
    print(f"wrote {len(clean)} rows")
"""


def _upload(client: httpx.Client, name: str, text: str, append: bool = False) -> dict:
    url = f"/api/v1/datasets/{name}/versions" if append else "/api/v1/datasets"
    data = {} if append else {"name": name}
    r = client.post(url, data=data, files={"file": (f"{name}.csv", text.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    return r.json()


def test_processing_job_writes_a_dataset(server: LocalServer) -> None:
    client = server.client()
    _upload(client, "churn", CSV)
    job = submit(client, spec(CLEAN, kind="processing", filename="clean.py",
                              inputs={"raw": "churn"}, outputs=["churn-clean"]))
    assert {k: v for k, v in job["spec"]["inputs"]["raw"].items() if k != "content_hash"} == {
        "dataset": "churn", "version": 1}
    assert len(job["spec"]["inputs"]["raw"]["content_hash"]) == 64
    log = follow_log(client, job["id"]).decode()
    done = wait_for(client, job["id"], "Completed")
    assert "read 5 rows with columns ['churned', 'customer', 'tenure']" in log
    assert "wrote 3 rows" in log

    out = done["outputs"]["datasets"]["churn-clean"]
    assert out == {"dataset": "churn-clean", "version": 1}
    assert client.get(f"/api/v1/jobs/{job['id']}/artifacts").json()["datasets"] == {
        "churn-clean": out}
    version = client.get("/api/v1/datasets/churn-clean/versions/1").json()
    assert version["num_rows"] == 3
    assert version["source"]["type"] == "job" and version["source"]["job_id"] == job["id"]
    head = client.get("/api/v1/datasets/churn-clean/head", params={"n": 10}).json()
    rows = [dict(zip(head["columns"], row, strict=True)) for row in head["data"]]
    assert [r["customer"] for r in rows] == ["a", "c", "e"]

    series = client.get(f"/api/v1/jobs/{job['id']}/metrics").json()["metrics"]["missing"]
    assert [(p["step"], p["value"]) for p in series] == [(0, 1.0), (1, 0.0), (2, 1.0)]

    # Running the job again makes a new version holding the job's output, not twice the rows.
    again = submit(client, spec(CLEAN, kind="processing", filename="clean.py",
                                inputs={"raw": "churn"}, outputs=["churn-clean"]))
    assert wait_for(client, again["id"], "Completed")["outputs"]["datasets"]["churn-clean"] == {
        "dataset": "churn-clean", "version": 2}
    assert client.get("/api/v1/datasets/churn-clean/versions/2").json()["num_rows"] == 3


def test_input_version_is_pinned(server: LocalServer) -> None:
    client = server.client()
    _upload(client, "events", "x\n1\n2\n")
    _upload(client, "events", "x\n3\n", append=True)
    job = submit(client, spec("""
        from shipyard import runtime
        print("old", runtime.read_input("old")["x"].tolist())
        print("new", runtime.read_input("new")["x"].tolist())
    """, kind="processing", inputs={"old": "events:1", "new": "events"}))
    assert job["spec"]["inputs"]["new"]["version"] == 2
    assert job["spec"]["inputs"]["old"]["version"] == 1
    wait_for(client, job["id"], "Completed")
    log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "old [1, 2]" in log and "new [1, 2, 3]" in log
    assert client.post("/api/v1/jobs", json=spec("pass", inputs={"a": "events:9"})).status_code \
        == 404


def test_missing_output_is_an_output_error(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("print('forgot to write')\n", kind="processing",
                              outputs=["never-written"]))
    failed = wait_for(client, job["id"], "Failed")
    assert failed["reason"] == "output_error" and "never-written" in failed["message"]
    assert client.get("/api/v1/datasets/never-written").status_code == 404


def test_unreadable_output_is_an_output_error(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("""
        from shipyard import runtime
        (runtime.output_dir("garbage") / "rows.parquet").write_bytes(b"not parquet at all")
    """, kind="processing", outputs=["garbage"]))
    failed = wait_for(client, job["id"], "Failed")
    assert failed["reason"] == "output_error" and "garbage" in failed["message"]
