"""The start gate: a job process runs none of the job's code until the control plane has
recorded its attempt as Running, so a control plane killed while jobs start never has a
job's code run twice (docs/architecture.md, "The start gate")."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import time
from pathlib import Path

import psutil

from shipyard.jobs import admit, command_line, environment, package_for
from shipyard.jobs._executors._local import find_job_processes
from shipyard.jobs._package import layout
from shipyard.runtime import _contract as c
from shipyard.runtime._bootstrap import wait_admitted
from shipyard.testing import LocalServer

from .helpers import TERMINAL, spec, submit


def _gated_job(tmp_path: Path, marker: Path, attempt: int = 1) -> tuple[Path, dict[str, str]]:
    """A staged script job (attempt ``attempt``) that touches ``marker`` when its code runs."""
    job_dir = tmp_path / "job"
    package = package_for("job-gate", {
        "kind": "processing", "script": {"filename": "main.py", "sha256": "0" * 64, "size": 0},
        "resources": {"cpus": 1, "memory": "1G", "memory_bytes": 1024**3}, "inputs": {},
        "outputs": [], "hyperparameters": {}, "environment": {}}, attempt=attempt,
        max_attempts=3)
    layout(job_dir, package)
    assert json.loads((job_dir / c.JOB_FILE).read_text())["gated"] is True
    (job_dir / "code" / "main.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n")
    return job_dir, environment(job_dir, package)


def test_a_gated_job_runs_nothing_until_its_own_attempt_is_admitted(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job_dir, env = _gated_job(tmp_path, marker, attempt=2)
    proc = subprocess.Popen(command_line(job_dir), env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30  # it is alive and beating, but runs no code
        while not (job_dir / c.HEARTBEAT_FILE).exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None and not marker.exists()

        admit(job_dir, 1)  # an earlier attempt's admission does not let this one run
        time.sleep(0.5)
        assert proc.poll() is None and not marker.exists()

        admit(job_dir, 2)
        assert proc.wait(30) == 0, (job_dir / c.LOG_FILE).read_text()
        assert marker.read_text() == "ran"
        admit(job_dir, 2)  # idempotent (a restarted control plane admits again)
    finally:
        proc.kill()
        proc.wait()


def test_admission_never_follows_a_link_the_job_left(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (job_dir / c.ADMITTED_FILE).symlink_to(victim)
    with contextlib.suppress(OSError):  # refused, or written in place of the link
        admit(job_dir, 1)
    assert victim.read_text() == "keep"


def test_a_job_never_admitted_gives_up(tmp_path: Path) -> None:
    started = time.monotonic()
    assert wait_admitted(tmp_path, 1, timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 5


def test_a_warm_runtime_child_at_the_gate_is_found_by_its_folder(tmp_path: Path) -> None:
    """Recovery ends the process of a job that was still starting; one forked by a warm
    runtime has the fork server's command line, and is found by its working folder."""
    from shipyard.jobs._spares import WarmRuntime

    marker = tmp_path / "ran"
    job_dir, env = _gated_job(tmp_path, marker)
    runtime = WarmRuntime(tmp_path / "spares")
    try:
        runtime.fill()
        pid = runtime.take(job_dir, env, [])
        assert pid is not None
        time.sleep(0.5)
        found = find_job_processes({job_dir, tmp_path / "other"})
        assert [p.pid for p in found.get(job_dir, [])] == [pid]
        assert tmp_path / "other" not in found
        assert not marker.exists()
        psutil.Process(pid).kill()
    finally:
        runtime.close()


def test_kill_9s_while_jobs_start_run_each_script_exactly_once(fresh_server: LocalServer,
                                                                tmp_path: Path) -> None:
    """Kill the control plane at random moments while dozens of short jobs start, three
    times: every job completes, and the ledger holds each job's line exactly once.

    Without the gate, a job whose process had started but whose Running record had not
    landed was lost on restart and retried after its script had run: 3 to 5 of 40 scripts
    ran twice in this test (three seeds)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    ledger = shared / "ledger.txt"
    client = fresh_server.client()
    names = [f"gate-{i:02d}" for i in range(40)]
    jobs = {}
    for name in names:
        jobs[name] = submit(client, spec(
            f"with open({str(ledger)!r}, 'a') as f:\n    f.write({name!r} + '\\n')\n",
            name=name, retries=4))["id"]
    rng = random.Random(0)
    for _ in range(3):
        time.sleep(rng.uniform(0.3, 1.5))
        fresh_server.kill()
        fresh_server.launch()
    client = fresh_server.client()
    deadline = time.monotonic() + 90
    while True:
        listed = {j["id"]: j for j in client.get("/api/v1/jobs", params={"limit": 1000}).json()}
        if all(listed[i]["status"] in TERMINAL for i in jobs.values()):
            break
        if time.monotonic() > deadline:
            stuck = [i for i in jobs.values() if listed[i]["status"] not in TERMINAL]
            raise AssertionError({i: (listed[i]["status"], client.get(
                f"/api/v1/jobs/{i}/logs").text) for i in stuck[:3]})
        time.sleep(0.2)
    statuses = {name: listed[jobs[name]]["status"] for name in names}
    assert set(statuses.values()) == {"Completed"}, statuses
    ran = ledger.read_text().split()
    assert sorted(ran) == names, sorted(n for n in set(ran) if ran.count(n) > 1)
