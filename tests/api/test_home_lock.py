"""One control plane per home: a second server on the same home refuses to start.

Before the lock, the second server's startup recovery killed the first one's live
job (Failed worker_lost with a false message) and endpoint instances, and it
overwrote ``server.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shipyard.server import lock_holder
from shipyard.settings import Settings
from shipyard.testing import LocalServer, free_port


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, input="")


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    """A failure reported as one line on stderr, without a traceback."""
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err

SLEEPER = {"kind": "script", "script": {"filename": "sleep.py", "source": textwrap.dedent("""
    import time
    print("sleeping", flush=True)
    time.sleep(120)
""")}}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_URL", "SHIPYARD_TOKEN")}
    return {**env, "SHIPYARD_HOME": str(home)}


def _running_job(srv: LocalServer) -> dict:
    client = srv.client()
    job = client.post("/api/v1/jobs", json=SLEEPER).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job['id']}").json()
        if job["status"] == "Running" and "sleeping" in client.get(
                f"/api/v1/jobs/{job['id']}/logs").text:
            return job
        time.sleep(0.1)
    raise AssertionError(f"the job did not start: {job}")


def _assert_untouched(srv: LocalServer, job: dict, info: dict) -> None:
    client = srv.client()
    again = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert again["status"] == "Running" and again["attempts"] == 1, again
    assert again["pid"] == job["pid"]
    assert json.loads((srv.home / "server.json").read_text()) == info
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200


@pytest.mark.slow
def test_second_foreground_server_refuses(fresh_server: LocalServer) -> None:
    job = _running_job(fresh_server)
    info = json.loads((fresh_server.home / "server.json").read_text())
    assert info["pid"] == fresh_server.proc.pid
    holder = lock_holder(Settings.from_env(home=fresh_server.home))
    assert holder is not None and holder["pid"] == fresh_server.proc.pid
    assert holder["url"] == fresh_server.url

    second = subprocess.run(
        [sys.executable, "-m", "shipyard.server", "--home", str(fresh_server.home),
         "--host", "127.0.0.1", "--port", str(free_port())],
        env=_env(fresh_server.home), capture_output=True, text=True, timeout=120)
    err = one_sentence_error(second)
    assert f"PID {fresh_server.proc.pid}" in err and fresh_server.url in err
    assert str(fresh_server.home) in err
    # The CLI's foreground command says the same, before announcing anything.
    cli = one_sentence_error(run_cli("server", "--home", str(fresh_server.home), "--port",
                                     str(free_port()), env=_env(fresh_server.home)))
    assert f"PID {fresh_server.proc.pid}" in cli
    _assert_untouched(fresh_server, job, info)


@pytest.mark.slow
def test_detached_start_reports_the_refusal(fresh_server: LocalServer) -> None:
    job = _running_job(fresh_server)
    info = json.loads((fresh_server.home / "server.json").read_text())
    home = fresh_server.home
    # On another port: refused, naming the running server.
    err = one_sentence_error(run_cli("server", "start", "--home", str(home), "--port",
                                     str(free_port()), env=_env(home)))
    assert f"PID {fresh_server.proc.pid}" in err and fresh_server.url in err
    # On its own port: that server is already what was asked for.
    again = run_cli("server", "start", "--home", str(home), "--port", str(fresh_server.port),
                    "--json", env=_env(home))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["pid"] == fresh_server.proc.pid
    _assert_untouched(fresh_server, job, info)


def test_the_lock_goes_with_the_process(tmp_path: Path) -> None:
    """kill -9 drops the lock: the home starts again, and its lock names the new server."""
    srv = LocalServer.start(tmp_path / "home")
    try:
        first = srv.proc.pid
        srv.kill()
        assert lock_holder(Settings.from_env(home=srv.home)) is None
        srv.launch()
        holder = lock_holder(Settings.from_env(home=srv.home))
        assert holder is not None and holder["pid"] == srv.proc.pid != first
        assert json.loads((srv.home / "server.json").read_text())["pid"] == srv.proc.pid
    finally:
        srv.stop()
    assert lock_holder(Settings.from_env(home=srv.home)) is None
    assert not (srv.home / "server.json").exists() and not (srv.home / "server.pid").exists()
