"""Tokens, roles and connection errors through the CLI."""

from __future__ import annotations

import os
import time
from pathlib import Path

from shipyard.testing import LocalServer, free_port

from .helpers import Run, ok, ok_json, one_sentence_error, run_cli


def _env_without_server(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SHIPYARD_URL", "SHIPYARD_TOKEN", "SHIPYARD_HOME")}
    return {**env, **extra}


def test_tokens_create_list_revoke(cli: Run, server: LocalServer, tmp_path: Path) -> None:
    created = ok_json(cli("tokens", "create", "--role", "viewer", "--name", "reader", "--json"))
    secret = created["token"]
    assert created["role"] == "viewer" and secret

    human = ok(cli("tokens", "create", "--role", "data-scientist", "--name", "ds"))
    assert "only this once" in human.stdout and "sy_" in human.stdout

    listed = ok_json(cli("tokens", "list", "--json"))
    assert {"admin", "reader", "ds"} <= {t["name"] for t in listed}
    assert all("token" not in t for t in listed)
    assert "reader" in ok(cli("tokens", "list")).stdout

    viewer_env = {**server.sdk_env(), "SHIPYARD_TOKEN": secret}
    who = ok_json(run_cli("whoami", "--json", env=viewer_env))
    assert who["name"] == "reader" and who["role"] == "viewer"
    ok(run_cli("datasets", "list", env=viewer_env))
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    forbidden = one_sentence_error(run_cli("datasets", "create", "v", "--file", str(data),
                                           env=viewer_env))
    assert "viewer" in forbidden and "may not" in forbidden

    ok(cli("tokens", "revoke", "reader"))
    revoked_at = time.monotonic()
    listed = {t["name"]: t for t in ok_json(cli("tokens", "list", "--json"))}
    assert listed["reader"]["active"] is False
    # The server caches a token's verdict for up to a second.
    time.sleep(max(0.0, 1.1 - (time.monotonic() - revoked_at)))
    refused = one_sentence_error(run_cli("whoami", env=viewer_env))
    assert "bearer token" in refused.lower()


def test_unknown_role_is_one_sentence(cli: Run) -> None:
    err = one_sentence_error(cli("tokens", "create", "--role", "wizard", "--name", "w"))
    assert "wizard" in err


def test_unreachable_server_is_one_sentence() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    err = one_sentence_error(run_cli("datasets", "list",
                                     env=_env_without_server(SHIPYARD_URL=url, SHIPYARD_TOKEN="x")))
    assert "Cannot reach the server at " + url in err and "shipyard server start" in err


def test_missing_token_is_one_sentence(server: LocalServer, tmp_path: Path) -> None:
    env = _env_without_server(SHIPYARD_URL=server.url, SHIPYARD_HOME=str(tmp_path / "empty"))
    err = one_sentence_error(run_cli("datasets", "list", env=env))
    assert "No token" in err and "SHIPYARD_TOKEN" in err
    bad = one_sentence_error(run_cli("whoami", env={**env, "SHIPYARD_TOKEN": "sy_wrong"}))
    assert "bearer token" in bad.lower()


def test_discovers_url_and_token_from_the_home(server: LocalServer) -> None:
    env = _env_without_server(SHIPYARD_HOME=str(server.home))
    who = ok_json(run_cli("whoami", "--json", env=env))
    assert who["role"] == "admin" and who["url"] == server.url
