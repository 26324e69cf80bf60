"""Wrangle jobs: a query or a recipe writes a dataset version; on a schedule, again and again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import shipyard as sy
from shipyard.testing import LocalServer

from .conftest import CLI
from .data import churn, flights

TERMINAL = {"Completed", "Failed", "Stopped"}


@pytest.fixture(scope="module")
def sdk(server: LocalServer, registered: dict[str, Any]) -> Iterator[sy.Client]:
    with sy.connect(url=server.url, token=server.token(), set_default=False) as client:
        yield client


def versions(admin: httpx.Client, name: str) -> list[dict[str, Any]]:
    r = admin.get(f"/api/v1/datasets/{name}/versions")
    return list(r.json()) if r.status_code == 200 else []


@pytest.mark.slow
def test_a_query_over_an_input_and_a_catalog_table(sdk: sy.Client, admin: httpx.Client) -> None:
    job = sy.Job.wrangle(
        "churn-by-contract", inputs={"raw": "churn"}, client=sdk,
        sql="""SELECT r.contract, count(*) AS customers,
                      (SELECT count(*) FROM lake.carriers) AS carriers
               FROM raw r GROUP BY 1 ORDER BY 1""")
    assert isinstance(job, sy.Job) and job.kind == "wrangle"
    job.wait(timeout=120, progress=False)
    assert job.doc["outputs"]["datasets"]["churn-by-contract"]["version"] == 1
    frame = sy.Dataset("churn-by-contract", client=sdk).head(10)
    expected = churn().groupby("contract").size().sort_index()
    assert list(frame["contract"]) == list(expected.index)
    assert list(frame["customers"]) == list(expected.values)
    assert set(frame["carriers"]) == {flights()["carrier"].nunique()}
    spec = job.doc["spec"]
    (table,) = spec["tables"]
    assert (table["schema"], table["name"]) == ("lake", "carriers")
    assert spec["inputs"]["raw"] == {"dataset": "churn", "version": 1,
                                     "content_hash": spec["inputs"]["raw"]["content_hash"]}
    assert [m for m in job.metrics()["name"]] == ["rows"]


@pytest.mark.slow
def test_a_query_reads_a_location_file_by_path(sdk: sy.Client, served_lake: Any) -> None:
    job = sy.Job.wrangle(
        "churn-by-path", client=sdk,
        sql=f"SELECT contract, count(*) AS n FROM read_csv('{served_lake.root}/churn.csv') "
            "GROUP BY 1 ORDER BY 1")
    assert isinstance(job, sy.Job)
    job.wait(timeout=120, progress=False)
    assert job.doc["spec"]["allowed_directories"] == [str(served_lake.root)]
    frame = sy.Dataset("churn-by-path", client=sdk).head(10)
    assert list(frame["n"]) == list(churn().groupby("contract").size().sort_index().values)


@pytest.mark.slow
def test_a_recipe_job_writes_the_features(sdk: sy.Client) -> None:
    job = sy.Job.wrangle("churn-features", inputs={"raw": "churn"}, target="churn", client=sdk,
                         recipe={"steps": [{"step": "impute"}, {"step": "categorical"}]})
    assert isinstance(job, sy.Job)
    job.wait(timeout=120, progress=False)
    ds = sy.Dataset("churn-features", client=sdk)
    assert ds.doc["num_rows"] == len(churn())
    head = ds.head(5)
    assert head.columns[-1] == "churn"
    assert "total_charges__missing" in head.columns  # 11 rows lack total_charges
    assert any(c.startswith("contract=") for c in head.columns)
    assert all(str(head[c].dtype) == "float64" for c in head.columns if c != "churn")


@pytest.mark.parametrize(("spec", "status", "words"), [
    ({"sql": "SELECT * FROM churn"}, 400, "not an input of the job"),
    ({"sql": "COPY (SELECT 1) TO '/tmp/x.csv'", "inputs": {"raw": "churn"}}, 400,
     "COPY statement"),
    ({"sql": "SELECT 1", "recipe": {"steps": []}}, 400, "exactly one of 'sql'"),
    ({"sql": "SELECT * FROM raw", "inputs": {"raw": "nope"}}, 404, "nope"),
    ({"recipe": {"steps": [{"step": "no-such-step"}]}, "inputs": {"raw": "churn"}}, 400,
     "Unknown recipe step"),
    ({"recipe": {"steps": []}, "inputs": {"raw": "churn"}, "target": "gone"}, 400,
     "has no column 'gone'"),
    # A step naming a column the input lacks wrote a version without the step's change.
    ({"recipe": {"steps": [{"step": "impute", "columns": ["total_charge"]}]},
      "inputs": {"raw": "churn"}}, 400,
     "Recipe step 1 (impute) names 'total_charge', which is not a column of input 'raw'"),
    ({"recipe": {"steps": [{"step": "clip", "columns": ["per_month"]}]},
      "inputs": {"raw": "churn"}}, 400, "names 'per_month'"),
    ({"sql": "SELECT * FROM raw", "inputs": {"raw": "churn"}, "outputs": ["a", "b"]}, 400,
     "exactly one output"),
    ({"sql": "SELECT * FROM raw", "inputs": {"raw": "churn"},
      "script": {"filename": "a.py", "source": ""}}, 400,
     "'script' is for kind 'processing', 'script' or 'tuning', not 'wrangle'"),
])
def test_bad_wrangle_jobs_are_refused_at_submit(admin: httpx.Client, registered: dict,
                                                spec: dict, status: int, words: str) -> None:
    body = {"kind": "wrangle", "outputs": ["never"], **spec}
    r = admin.post("/api/v1/jobs", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


#: Queries that name what is not there: submitted, they were accepted and the job (or a
#: schedule's every run) failed; bound at submit, each is a 400 naming what is missing.
UNBOUND = [
    ("SELECT contract, no_such_column FROM raw", "no_such_column"),
    ("SELECT * FROM raw JOIN no_such_table USING (contract)", "'no_such_table'"),
    ("SELECT * FROM lake.no_such_table", "catalog location 'lake' has no table 'no_such_table'"),
    ("SELECT * FROM no_such_lake.flights", "there is no catalog location 'no_such_lake'"),
    ("SELECT r.contract, f.no_such_column FROM raw r, lake.flights f", "no_such_column"),
]


@pytest.mark.parametrize(("sql", "words"), UNBOUND)
def test_a_query_naming_a_missing_table_or_column_is_refused_at_submit(
        admin: httpx.Client, registered: dict, sql: str, words: str) -> None:
    r = admin.post("/api/v1/jobs", json={"kind": "wrangle", "sql": sql, "outputs": ["never"],
                                         "inputs": {"raw": "churn"}})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]


@pytest.mark.parametrize(("sql", "words"), UNBOUND)
def test_a_schedule_of_a_query_naming_a_missing_table_or_column_is_refused(
        admin: httpx.Client, registered: dict, sql: str, words: str) -> None:
    spec = {"kind": "wrangle", "sql": sql, "outputs": ["never"], "inputs": {"raw": "churn"}}
    r = admin.post("/api/v1/schedules", json={"name": "never-made", "every": "1d",
                                              "target": {"spec": spec}})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]
    assert admin.get("/api/v1/schedules/never-made").status_code == 404


def test_a_schedule_may_read_a_dataset_that_does_not_exist_yet(admin: httpx.Client,
                                                               registered: dict) -> None:
    """Another schedule may write it before the first run: its query is checked then. A
    query that binds on today's version is accepted; a dataset read past the inputs is not."""
    later = {"kind": "wrangle", "sql": "SELECT anything FROM raw", "outputs": ["later-out"],
             "inputs": {"raw": "written-later"}}
    good = {"kind": "wrangle", "outputs": ["good-out"], "inputs": {"raw": "churn"},
            "sql": "SELECT r.contract, count(*) AS n FROM raw r JOIN lake.flights f "
                   "ON true GROUP BY 1"}
    for name, spec in (("reads-later", later), ("binds-now", good)):
        r = admin.post("/api/v1/schedules", json={"name": name, "every": "1d",
                                                  "target": {"spec": spec}})
        assert r.status_code == 201, r.text
        assert admin.delete(f"/api/v1/schedules/{name}").status_code == 200
    r = admin.post("/api/v1/schedules", json={"name": "never-made", "every": "1d", "target": {
        "spec": {**later, "sql": "SELECT * FROM raw JOIN churn USING (x)"}}})
    assert r.status_code == 400 and "not an input of the job" in r.text, r.text


def test_a_query_that_fails_in_the_job_is_an_input_error(sdk: sy.Client) -> None:
    job = sy.Job.wrangle("never-written", inputs={"raw": "churn"}, client=sdk,
                         sql="SELECT * FROM raw WHERE contract = 'none'")
    assert isinstance(job, sy.Job)
    job.wait(timeout=120, progress=False, raise_on_failure=False)
    assert (job.status, job.reason) == ("Failed", "input_error")
    assert "produced no rows" in str(job.message)


@pytest.mark.slow
def test_a_scheduled_wrangle_job_makes_successive_versions(sdk: sy.Client,
                                                           admin: httpx.Client) -> None:
    schedule = sy.Job.wrangle("flights-per-origin", every="2s", schedule="per-origin",
                              client=sdk,
                              sql="SELECT origin, count(*) AS n FROM lake.flights GROUP BY 1")
    assert isinstance(schedule, sy.Schedule) and schedule.enabled
    deadline = time.monotonic() + 90
    while len(versions(admin, "flights-per-origin")) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    schedule.pause()
    made = versions(admin, "flights-per-origin")
    assert len(made) >= 2, admin.get("/api/v1/schedules/per-origin").text
    jobs = {v["source"]["job_id"] for v in made}
    assert len(jobs) == len(made)  # each version by a job of its own
    assert all(v["num_rows"] == flights()["origin"].nunique() for v in made)
    events = admin.get("/api/v1/events", params={"resource_type": "schedule",
                                                 "resource_id": "per-origin"}).json()
    fired = [e["payload"]["job_id"] for e in events if e["kind"] == "schedule.fired"]
    assert jobs <= set(fired)
    for job_id in fired:  # leave nothing running for the other tests
        admin.post(f"/api/v1/jobs/{job_id}/cancel")
    schedule.delete()


@pytest.mark.slow
def test_cli_wrangle_now_and_on_a_schedule(cli: CLI, registered: dict, tmp_path: Path) -> None:
    done = cli("jobs", "wrangle", "--sql", "SELECT contract, avg(tenure) AS t FROM raw GROUP BY 1",
               "-i", "raw=churn", "-o", "tenure-by-contract", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "Completed"
    assert doc["outputs"]["datasets"]["tenure-by-contract"]["version"] == 1
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"steps": [{"step": "impute"}]}))
    made = cli("jobs", "wrangle", "--recipe", str(recipe), "-i", "raw=churn", "-o", "imputed",
               "--every", "1d", "--schedule-name", "daily-impute")
    assert made.returncode == 0, made.stderr
    assert "Created schedule 'daily-impute' (every 1 day)" in made.stdout
    shown = json.loads(cli("schedules", "show", "daily-impute", "--json").stdout)
    assert shown["target"]["spec"]["kind"] == "wrangle" and shown["every"] == "1d"
    both = cli("jobs", "wrangle", "--sql", "SELECT 1", "--recipe", str(recipe), "-o", "x")
    assert both.returncode == 1 and "exactly one of --sql" in both.stderr
    assert cli("schedules", "delete", "daily-impute", "--yes").returncode == 0
