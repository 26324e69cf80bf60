"""How ``sy.connect`` finds the server and the token, and starts one when none answers."""

from __future__ import annotations

from pathlib import Path

import pytest

import shipyard as sy
from shipyard.errors import ServerUnavailable, Unauthenticated
from shipyard.server import read_pid, stop
from shipyard.settings import Settings
from shipyard.testing import LocalServer, free_port


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SHIPYARD_URL", "SHIPYARD_TOKEN", "SHIPYARD_HOME", "SHIPYARD_PORT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_finds_url_and_token_in_the_home(clean_env: pytest.MonkeyPatch,
                                         server: LocalServer) -> None:
    clean_env.setenv("SHIPYARD_HOME", str(server.home))
    with sy.connect() as client:
        assert client.url == server.url and client.whoami()["role"] == "admin"
        assert sy.client.default_client() is client


def test_env_and_arguments_win(clean_env: pytest.MonkeyPatch, server: LocalServer,
                               viewer_token: str) -> None:
    clean_env.setenv("SHIPYARD_URL", server.url + "/")
    clean_env.setenv("SHIPYARD_TOKEN", viewer_token)
    with sy.connect() as viewer, sy.connect(token=server.token()) as admin:
        assert viewer.whoami()["role"] == "viewer" and admin.whoami()["role"] == "admin"
        assert sy.client.default_client() is admin


def test_no_autostart_for_an_explicit_url(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("SHIPYARD_HOME", str(tmp_path))
    url = f"http://127.0.0.1:{free_port()}"
    client = sy.connect(url, token="sy_x")
    with pytest.raises(ServerUnavailable, match="Cannot reach the server at"):
        client.whoami()
    with pytest.raises(Unauthenticated, match="No token"):
        sy.connect(url).whoami()
    assert not (tmp_path / "server.pid").exists()


@pytest.mark.slow
def test_autostarts_a_local_server(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    clean_env.setenv("SHIPYARD_HOME", str(home))
    clean_env.setenv("SHIPYARD_PORT", str(port))
    settings = Settings.from_env()
    try:
        with sy.connect() as client:
            assert client.url == f"http://127.0.0.1:{port}"
            assert client.whoami() == {"name": "admin", "role": "admin"}
        pid = read_pid(settings)
        assert pid is not None
        # A second connect attaches to the running server instead of starting another.
        with sy.connect() as again:
            assert again.url == client.url and read_pid(settings) == pid
    finally:
        stop(settings)
    assert read_pid(settings) is None


def test_reads_the_credentials_file_as_the_server_writes_it(tmp_path: Path) -> None:
    from shipyard.credentials import read_credentials
    from shipyard.tokens import read_credentials as server_side
    from shipyard.tokens import write_credentials

    path = tmp_path / "credentials"
    write_credentials(path, "sy_secret", "admin", "http://127.0.0.1:1")
    assert read_credentials(path) == server_side(path) == {
        "name": "admin", "token": "sy_secret", "url": "http://127.0.0.1:1"}
    path.write_text("{broken")
    assert read_credentials(path) is None and server_side(path) is None
    assert read_credentials(tmp_path / "absent") is None
