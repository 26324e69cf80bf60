"""The isolation probe: a data-scientist's job tries to escalate, and gets nothing.

A real server and real job processes. The probe job tries to read the home's
credentials, open the database and approve a model version behind the registry's
back, list the jobs and read another job's folder, read the artifacts, read the
server's ``/proc/<pid>/environ``, and call an admin route and another job with its
own token and anything it found. Where the server runs as root, jobs run as the job
user and every file attempt is refused; the token part holds for every server.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipyard.jobs import _acl as acl
from shipyard.jobs import job_user
from shipyard.server import is_healthy
from shipyard.settings import Settings
from shipyard.testing import LocalServer, free_port, reachable_by_jobs

from .helpers import TERMINAL, spec, submit, wait_for

ROOT = os.geteuid() == 0
AS_JOB_USER = ROOT and os.environ.get("SHIPYARD_JOB_USER", "shipyard-job") != "root"
needs_job_user = pytest.mark.skipif(
    not AS_JOB_USER, reason="jobs run as the job user only when the server runs as root "
    "(and SHIPYARD_JOB_USER is not root); otherwise they run as the server's own user")

PROBE = """
    import json, os, re, sqlite3, httpx
    home, other, pid = os.environ["PROBE_HOME"], os.environ["OTHER_JOB"], os.environ["SERVER_PID"]
    found, files = [], {}

    def attempt(name, fn):
        try:
            got = fn()
            files[name] = "GOT " + repr(got)[:300]
            found.extend(re.findall(r"sy_[A-Za-z0-9_-]{20,}", repr(got)))
        except Exception as exc:
            files[name] = type(exc).__name__

    def approve():
        con = sqlite3.connect(f"file:{home}/shipyard.db?mode=rw", uri=True)
        n = con.execute("UPDATE model_versions SET status='Approved'").rowcount
        con.commit()
        return n

    attempt("credentials", lambda: open(f"{home}/credentials").read())
    attempt("database", approve)
    attempt("list_home", lambda: os.listdir(home))
    attempt("list_jobs", lambda: os.listdir(f"{home}/jobs"))
    attempt("other_job_folder", lambda: os.listdir(f"{home}/jobs/{other}"))
    attempt("other_job_log", lambda: open(f"{home}/jobs/{other}/job.log").read())
    attempt("artifacts", lambda: os.listdir(f"{home}/artifacts"))
    attempt("server_environ", lambda: open(f"/proc/{pid}/environ", "rb").read())

    url = os.environ["SHIPYARD_URL"]
    calls = {}
    for i, token in enumerate([os.environ["SHIPYARD_TOKEN"], *found]):
        h = {"Authorization": f"Bearer {token}"}
        calls[f"{i}:create_token"] = httpx.post(
            f"{url}/api/v1/tokens", headers=h, json={"name": f"mine{i}", "role": "admin"},
            timeout=30).status_code
        calls[f"{i}:other_job"] = httpx.get(f"{url}/api/v1/jobs/{other}", headers=h,
                                            timeout=30).status_code
        calls[f"{i}:approve"] = httpx.post(f"{url}/api/v1/models/probed/versions/1/approve",
                                           headers=h, timeout=30).status_code
    print("PROBE " + json.dumps({"files": files, "calls": calls, "found": len(found)}),
          flush=True)
"""

#: A bundle the registry accepts (so there is a model version to try to approve).
SAVE_BUNDLE = """
    from shipyard import runtime
    from shipyard.testing.bundles import write_handmade_bundle
    write_handmade_bundle(runtime.model_dir())
"""


@pytest.fixture(scope="module")
def probe(server: LocalServer) -> dict:
    ds = server.client("data-scientist")
    other = wait_for(ds, submit(ds, spec(SAVE_BUNDLE))["id"], timeout=120)
    assert other["status"] == "Completed", other
    r = ds.post("/api/v1/models/probed/versions", json={"job_id": other["id"]})
    assert r.status_code == 201, r.text
    assert server.proc is not None
    job = submit(ds, spec(PROBE, environment={
        "PROBE_HOME": str(server.home), "OTHER_JOB": other["id"],
        "SERVER_PID": str(server.proc.pid)}))
    done = wait_for(ds, job["id"], timeout=120)
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert done["status"] == "Completed", log
    line = next(ln for ln in log.splitlines() if ln.startswith("PROBE "))
    return {"seen": json.loads(line[len("PROBE "):]), "log": log, "job": done,
            "other": other}


@needs_job_user
def test_the_job_reads_no_secret_and_no_other_job(probe: dict) -> None:
    files = probe["seen"]["files"]
    assert files == {
        "credentials": "PermissionError",
        "database": "OperationalError",  # sqlite3: unable to open database file
        "list_home": "PermissionError",
        "list_jobs": "PermissionError",
        "other_job_folder": "PermissionError",
        "other_job_log": "PermissionError",
        "artifacts": "PermissionError",
        "server_environ": "PermissionError",
    }, probe["log"]
    assert probe["seen"]["found"] == 0


def test_its_token_and_anything_it_found_open_nothing(server: LocalServer, probe: dict) -> None:
    calls = probe["seen"]["calls"]
    own = {k: v for k, v in calls.items() if k.startswith("0:")}  # with SHIPYARD_TOKEN
    assert len(own) == 3 and set(own.values()) == {403}, calls
    if AS_JOB_USER:  # (a job running as the server's user can read the credentials)
        assert set(calls.values()) == {403}, calls
        assert server.admin_token not in probe["log"]


@needs_job_user
def test_the_model_version_is_unchanged(server: LocalServer, probe: dict) -> None:
    version = server.client().get("/api/v1/models/probed/versions/1").json()
    assert version["status"] == "PendingManualApproval"
    events = server.client().get("/api/v1/events", params={"limit": 1000}).json()
    assert not [e for e in events if "approve" in e["kind"]]


@needs_job_user
def test_the_job_ran_as_the_job_user_and_its_folder_is_root_s_again(server: LocalServer,
                                                                    probe: dict) -> None:
    import pwd

    folder = server.home / "jobs" / probe["job"]["id"]
    st = folder.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)  # reclaimed once it ended
    ds = server.client("data-scientist")
    job = submit(ds, spec("""
        import os, pwd
        print("USER", pwd.getpwuid(os.getuid()).pw_name, os.getgroups(), flush=True)
        for p in ("input", "input/config", "input/config/job.json", "model"):
            s = os.stat(p)
            print("MODE", p, s.st_uid == os.getuid(), oct(s.st_mode & 0o777), flush=True)
        try:
            open("input/config/job.json", "a")
        except PermissionError:
            print("INPUTS read-only", flush=True)
    """))
    wait_for(ds, job["id"], timeout=60)
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    user = pwd.getpwnam("shipyard-job")
    assert f"USER shipyard-job [{user.pw_gid}]" in log or "USER shipyard-job []" in log, log
    assert "MODE input False 0o555" in log and "MODE input/config/job.json False 0o444" in log
    assert "MODE model True" in log and "INPUTS read-only" in log


def test_home_database_and_credentials_are_private(server: LocalServer) -> None:
    """The fixture made the home 0755 before the server started: the start tightened it."""
    home = server.home
    mode = stat.S_IMODE(home.stat().st_mode)
    assert mode == (0o710 if AS_JOB_USER else 0o700)
    assert stat.S_IMODE((home / "jobs").stat().st_mode) == (0o710 if AS_JOB_USER else 0o700)
    for name in ("shipyard.db", "credentials"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((home / "artifacts").stat().st_mode) == 0o700
    if AS_JOB_USER:
        import grp

        assert grp.getgrgid(home.stat().st_gid).gr_name == "shipyard-job"
    objects = [p for p in (home / "artifacts").rglob("*") if p.is_file()]
    assert objects and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in objects)


def test_the_server_says_who_jobs_run_as(server: LocalServer) -> None:
    log = server.log()
    if AS_JOB_USER:
        assert log.count("Jobs run as the OS user 'shipyard-job'") == 1
    elif ROOT:
        assert "WARNING: SHIPYARD_JOB_USER=root" in log
    else:
        assert log.count("Jobs run as this server's OS user") == 1


def _start_fails(home: Path, **env: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "shipyard.server", "--home", str(home), "--port",
         str(free_port())], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=120)
    assert run.returncode == 1, run.stderr
    return run.stderr.strip()


@needs_job_user
def test_a_folder_the_job_user_cannot_pass_is_opened_to_it_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # /root is 0700 on most machines and holds the Python: the job user is let through
    # by an ACL entry of its own, not by opening the folder to everybody.
    locked = tmp_path / "locked"
    locked.mkdir()
    reachable_by_jobs(tmp_path)
    locked.chmod(0o700)
    # The test harness opens test folders (o+x) before a server starts; not this one.
    monkeypatch.setattr("shipyard.testing.reachable_by_jobs", lambda path: None)
    with LocalServer.start(locked / "home") as srv:
        c = srv.client()
        job = wait_for(c, submit(c, spec("import os; print('UID', os.getuid())"))["id"])
        assert job["status"] == "Completed", job
        log = srv.log()
    user = job_user(Settings(job_user="shipyard-job"))
    assert user is not None
    assert stat.S_IMODE(locked.stat().st_mode) & 0o007 == 0  # others: still nothing
    assert acl.may_pass(locked, user.uid, {user.gid})
    nobody = pwd.getpwnam("nobody")
    assert not acl.may_pass(locked, nobody.pw_uid, {nobody.pw_gid})
    assert subprocess.run(["ls", str(locked)], user=user.uid, group=user.gid, extra_groups=[],
                          capture_output=True, check=False).returncode != 0  # never list
    assert f"Let 'shipyard-job' pass through {locked} to reach" in log


@needs_job_user
def test_a_job_user_that_cannot_be_created_stops_the_start(tmp_path: Path) -> None:
    reachable_by_jobs(tmp_path)
    err = _start_fails(tmp_path / "home", SHIPYARD_JOB_USER="no such user!")
    assert re.search(r"jobs run as the OS user 'no such user!', which does not exist and "
                     r"could not be created \(useradd .*\); create it yourself", err), err


@pytest.mark.skipif(not ROOT, reason="only a root server can opt out of the job user")
def test_opting_out_as_root_is_loud(tmp_path: Path) -> None:
    with LocalServer.start(tmp_path / "home", SHIPYARD_JOB_USER="root") as srv:
        c = srv.client()
        job = wait_for(c, submit(c, spec("import os; print('UID', os.getuid())"))["id"])
        assert "UID 0" in c.get(f"/api/v1/jobs/{job['id']}/logs").text
        assert "WARNING: SHIPYARD_JOB_USER=root: jobs run as root" in srv.log()


#: Replaces its log and its failure message with links to the credentials, then fails:
#: a server that followed them would show the admin token to anyone who reads the job.
LINKS = """
    import os, sys, time
    home = os.environ["PROBE_HOME"]
    print("planting", flush=True)
    os.remove("job.log")
    os.symlink(f"{home}/credentials", "job.log")
    os.symlink(f"{home}/credentials", "output/failure")
    time.sleep(2)
    sys.exit(3)
"""


def test_links_the_job_leaves_are_never_followed(server: LocalServer) -> None:
    ds = server.client("data-scientist")
    job = submit(ds, spec(LINKS, environment={"PROBE_HOME": str(server.home)}))
    seen = ""
    while (doc := ds.get(f"/api/v1/jobs/{job['id']}").json())["status"] not in TERMINAL:
        seen += ds.get(f"/api/v1/jobs/{job['id']}/logs").text  # the live log, read meanwhile
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert doc["status"] == "Failed" and doc["reason"] == "script_error", doc
    assert doc["message"] == "The job exited with code 3; see its log."
    token = server.admin_token
    assert token not in seen and token not in log and token not in json.dumps(doc)
    if AS_JOB_USER:  # reclaimed: the link is gone, and the log says so
        assert "the job left links in place of job.log; they were removed, not followed" in log
        assert not (server.home / "jobs" / job["id"] / "job.log").is_symlink()


def test_a_model_folder_that_is_a_link_is_not_collected(server: LocalServer) -> None:
    ds = server.client("data-scientist")
    job = submit(ds, spec("""
        import os
        os.rmdir("model")
        os.symlink(os.environ["PROBE_HOME"] + "/artifacts", "model")
    """, environment={"PROBE_HOME": str(server.home)}))
    done = wait_for(ds, job["id"], timeout=60)
    files = ds.get(f"/api/v1/jobs/{job['id']}/artifacts").json()["files"]
    assert [f["path"] for f in files] == ["job.log"], files  # no artifact object of the home
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    if AS_JOB_USER:  # the folder was reclaimed: the link is removed before collecting
        assert "the job left links in place of model" in log and done["status"] == "Completed"
    else:  # collected as it is: the link is refused
        assert (done["reason"], "model is a symbolic link") == (
            "output_error", done["message"].split(";")[0]), done


@needs_job_user
def test_a_server_that_is_not_root_says_jobs_run_as_its_user(tmp_path: Path) -> None:
    """The job user itself stands in for an ordinary account running `shipyard server`."""
    import pwd

    user = pwd.getpwnam("shipyard-job")
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    reachable_by_jobs(home)
    os.chown(home, user.pw_uid, user.pw_gid)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard.server", "--home", str(home), "--port", str(port)],
        env={**os.environ, "HOME": str(home), "SHIPYARD_HOME": str(home)},
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=home,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        deadline = time.monotonic() + 60
        while not is_healthy(f"http://127.0.0.1:{port}", timeout=0.5):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        mode = stat.S_IMODE(home.stat().st_mode)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert first.startswith("Jobs run as this server's OS user ('shipyard-job'): a job can "
                            "read what 'shipyard-job' can"), first
    assert mode == 0o700  # no job group: private
