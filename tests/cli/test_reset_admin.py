"""`shipyard tokens reset-admin --home H`: a lost admin token, server stopped or running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from shipyard.testing import LocalServer
from shipyard.tokens import read_credentials

from .helpers import ok, one_sentence_error, run_cli


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("SHIPYARD_URL", "SHIPYARD_TOKEN", "SHIPYARD_HOME"):
        env.pop(key, None)
    return env


def _whoami(url: str, secret: str) -> int:
    r = httpx.get(url + "/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"},
                  timeout=30)
    return r.status_code


def test_reset_admin_with_the_server_running(tmp_path: Path) -> None:
    with LocalServer.start(tmp_path / "home") as srv:
        old = srv.admin_token
        ops = srv.client().post("/api/v1/tokens", json={"name": "ops", "role": "admin"}).json()
        r = ok(run_cli("tokens", "reset-admin", "--home", str(srv.home), env=_env()))
        assert "admin token 'admin'" in r.stdout and len(r.stdout.strip().splitlines()) == 1
        creds = read_credentials(srv.home / "credentials")
        assert creds and creds["name"] == "admin" and creds["token"] != old
        assert creds["url"] == srv.url  # kept from the file the server wrote
        assert (srv.home / "credentials").stat().st_mode & 0o777 == 0o600
        assert _whoami(srv.url, creds["token"]) == 200  # at once: an uncached token
        deadline = time.monotonic() + 30  # another process's reset: the cache bound applies
        while _whoami(srv.url, old) != 401:
            assert time.monotonic() < deadline, "the old admin secret kept working"
            time.sleep(0.05)
        assert _whoami(srv.url, ops["token"]) == 200  # other admins are kept
        events = httpx.get(srv.url + "/api/v1/events", params={"kind": "token.reset"},
                           headers={"Authorization": f"Bearer {creds['token']}"}).json()
        assert [e["resource_id"] for e in events] == ["admin"]
        assert events[0]["actor"].startswith("reset-admin (OS user ")


def test_reset_admin_with_the_server_stopped_and_the_file_lost(tmp_path: Path) -> None:
    srv = LocalServer.start(tmp_path / "home")
    old = srv.admin_token
    srv.stop()
    (srv.home / "credentials").unlink()
    r = ok(run_cli("tokens", "reset-admin", "--home", str(srv.home), "--json", env=_env()))
    assert '"name": "admin"' in r.stdout
    creds = read_credentials(srv.home / "credentials")
    assert creds and creds["name"] == "admin"
    srv.launch()
    try:
        assert _whoami(srv.url, creds["token"]) == 200
        assert _whoami(srv.url, old) == 401  # whoever found the lost file is locked out
    finally:
        srv.stop()


def test_reset_admin_refuses_a_caller_who_does_not_own_the_home(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to hand the home to another OS user")
    srv = LocalServer.start(tmp_path / "home")
    srv.stop()
    before = (srv.home / "credentials").read_bytes()
    os.chown(srv.home, 65534, 65534)
    try:
        err = one_sentence_error(run_cli("tokens", "reset-admin", "--home", str(srv.home),
                                         env=_env()))
        assert "only that user may reset its admin token" in err and "sudo -u" in err
        assert (srv.home / "credentials").read_bytes() == before
    finally:
        os.chown(srv.home, 0, 0)


def test_reset_admin_of_a_folder_that_is_no_home(tmp_path: Path) -> None:
    err = one_sentence_error(run_cli("tokens", "reset-admin", "--home", str(tmp_path),
                                     env=_env()))
    assert "holds no Shipyard store" in err
    assert not (tmp_path / "shipyard.db").exists() and not (tmp_path / "credentials").exists()
