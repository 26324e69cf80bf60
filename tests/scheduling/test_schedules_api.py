"""Schedules over a real server: the API and its permissions, the CLI, the crawl kind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shipyard.testing import LocalServer

JOB = {"kind": "script", "script": {"filename": "main.py", "source": "print('hi')\n"}}


def cli(server: LocalServer, *args: str, role: str = "admin") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args],
                          env=server.sdk_env(role), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def admin(server: LocalServer) -> httpx.Client:
    return server.client()


def test_create_show_pause_resume_delete(server: LocalServer, admin: httpx.Client) -> None:
    r = admin.post("/api/v1/schedules", json={"name": "hello", "target": {"spec": JOB},
                                              "cron": "0 3 * * *"})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["kind"], doc["cron"], doc["status"]) == ("job", "0 3 * * *", "active")
    assert doc["timing"] == "cron 0 3 * * * (UTC)" and doc["next_run_at"].endswith("03:00:00Z")
    assert doc["created_by"] == "admin"
    viewer = server.client("viewer")
    assert viewer.get("/api/v1/schedules/hello").json()["name"] == "hello"
    for method, path in (("POST", "/api/v1/schedules/hello/pause"),
                         ("DELETE", "/api/v1/schedules/hello"),
                         ("POST", "/api/v1/schedules")):
        assert viewer.request(method, path, json={}).status_code == 403
    paused = admin.post("/api/v1/schedules/hello/pause").json()
    assert paused["status"] == "paused" and paused["next_run_at"] is None
    resumed = admin.post("/api/v1/schedules/hello/resume").json()
    assert resumed["status"] == "active" and resumed["next_run_at"].endswith("03:00:00Z")
    assert admin.delete("/api/v1/schedules/hello").json() == {
        "kind": "schedule", "name": "hello", "status": "Deleted", "forced": False, "deleted": {}}
    assert admin.get("/api/v1/schedules/hello").status_code == 404


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"every": "5 minutes"}, 400, "Invalid interval '5 minutes'"),
    ({"cron": "0 25 * * *"}, 400, "Invalid cron expression"),
    ({"every": "1h", "cron": "0 * * * *"}, 400, "exactly one of every"),
    ({}, 400, "exactly one of every"),
    ({"every": "1h", "kind": "teleport"}, 400, "Unknown schedule kind 'teleport'; use one of:"),
    ({"every": "1h", "target": {"spec": {"kind": "script"}}}, 400, "Invalid job spec"),
    ({"every": "1h", "name": "bad/name"}, 400, "Invalid schedule name"),
    ({"every": "1h", "kind": "crawl", "target": {"location": "nowhere"}}, 404,
     "No catalog location named 'nowhere'"),
])
def test_bad_schedules_are_refused(admin: httpx.Client, body: dict, status: int,
                                   words: str) -> None:
    full = {"name": "bad", "target": {"spec": JOB}, **body}
    r = admin.post("/api/v1/schedules", json=full)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


def test_names_are_unique(admin: httpx.Client) -> None:
    body = {"name": "twice", "target": {"spec": JOB}, "every": "1d"}
    assert admin.post("/api/v1/schedules", json=body).status_code == 201
    again = admin.post("/api/v1/schedules", json=body)
    assert again.status_code == 409 and "already exists" in again.text
    admin.delete("/api/v1/schedules/twice")


@pytest.mark.slow
def test_cli(server: LocalServer, tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(JOB))
    made = cli(server, "schedules", "create", "from-cli", "--spec", str(spec), "--every", "6h")
    assert made.returncode == 0, made.stderr
    assert "Created schedule 'from-cli' (every 6 hours)" in made.stdout
    listed = json.loads(cli(server, "schedules", "list", "--json").stdout)
    assert [d["name"] for d in listed] == ["from-cli"]
    table = cli(server, "schedules", "list").stdout
    assert "from-cli" in table and "every 6 hours" in table
    assert "Paused schedule 'from-cli'." in cli(server, "schedules", "pause", "from-cli").stdout
    assert "paused" in cli(server, "schedules", "show", "from-cli").stdout
    assert "Resumed" in cli(server, "schedules", "resume", "from-cli").stdout
    denied = cli(server, "schedules", "delete", "from-cli", "--yes", role="viewer")
    assert denied.returncode == 1 and "may not write" in denied.stderr
    neither = cli(server, "schedules", "create", "x", "--spec", str(spec))
    assert neither.returncode == 1 and "exactly one of --every" in neither.stderr
    assert cli(server, "schedules", "delete", "from-cli", "--yes").returncode == 0
    gone = cli(server, "schedules", "show", "from-cli")
    assert gone.returncode == 1 and "No schedule named 'from-cli'" in gone.stderr


def test_a_crawl_schedule_picks_up_new_files(admin: httpx.Client, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    root.mkdir()
    (root / "first.csv").write_text("a\n1\n")
    r = admin.post("/api/v1/catalog/locations", json={"name": "drop", "path": str(root)})
    assert r.status_code == 201, r.text
    made = admin.post("/api/v1/schedules", json={"name": "recrawl", "kind": "crawl",
                                                 "target": {"location": "drop"},
                                                 "every": "1s"})
    assert made.status_code == 201, made.text
    (root / "second.csv").write_text("b\n2\n")
    deadline = time.monotonic() + 30
    names: list[str] = []
    while time.monotonic() < deadline:
        names = [t["name"] for t in admin.get("/api/v1/catalog/tables",
                                              params={"location": "drop"}).json()]
        if "second" in names:
            break
        time.sleep(0.2)
    admin.delete("/api/v1/schedules/recrawl")
    assert sorted(names) == ["first", "second"]
    last = admin.get("/api/v1/events", params={"kind": "schedule.fired"}).json()
    assert any(e["resource_id"] == "recrawl" for e in last)
