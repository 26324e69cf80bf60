"""`shipyard server start/stop/status` in throwaway homes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from shipyard.server import is_healthy
from shipyard.testing import free_port
from shipyard.tokens import read_credentials

from .helpers import ok, ok_json, one_sentence_error, run_cli


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_URL", "SHIPYARD_TOKEN")}
    return {**env, "SHIPYARD_HOME": str(home)}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_start_status_stop_in_a_fresh_home(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        r = ok(run_cli("server", "start", "--home", str(home), "--port", str(port), env=_env(home)))
        assert url in r.stdout and str(home / "credentials") in r.stdout
        pid = int((home / "server.pid").read_text())
        assert psutil.pid_exists(pid) and is_healthy(url)
        assert stat.S_IMODE((home / "credentials").stat().st_mode) == 0o600

        status = ok_json(run_cli("server", "status", "--json", env=_env(home)))
        assert status == {"running": True, "url": url, "pid": pid, "home": str(home)}
        # The CLI finds the server (server.json) and the admin token (credentials) in the home.
        assert ok_json(run_cli("whoami", "--json", env=_env(home)))["role"] == "admin"
        again = ok_json(run_cli("server", "start", "--home", str(home), "--port", str(port),
                                "--json", env=_env(home)))
        assert again["pid"] == pid

        stopped = ok_json(run_cli("server", "stop", "--home", str(home), "--json", env=_env(home)))
        assert stopped["pid"] == pid and stopped["stopped"] is True
        assert not (home / "server.pid").exists()
        assert _gone(pid) and not is_healthy(url)
    finally:
        run_cli("server", "stop", "--home", str(home), env=_env(home))

    down = one_sentence_error(run_cli("server", "status", env=_env(home)))
    assert "No server answers" in down
    assert "No server was running" in ok(run_cli("server", "stop", env=_env(home))).stdout


@pytest.mark.slow
def test_two_fresh_homes_get_different_admin_tokens(tmp_path: Path) -> None:
    homes = [tmp_path / "one", tmp_path / "two"]
    try:
        # Both at once: each start waits for its server's /healthz.
        starts = [_popen("server", "start", "--home", str(h), "--port", str(free_port()),
                         env=_env(h)) for h in homes]
        assert [p.wait(60) for p in starts] == [0, 0]
        creds = [read_credentials(h / "credentials") for h in homes]
        assert creds[0] and creds[1] and creds[0]["token"] != creds[1]["token"]
    finally:
        stops = [_popen("server", "stop", "--home", str(h), env=_env(h)) for h in homes]
        assert [p.wait(60) for p in stops] == [0, 0]
    assert not any((h / "server.pid").exists() for h in homes)


def _popen(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shipyard.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
