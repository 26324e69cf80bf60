"""The server process: start, schema checks, and running on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from shipyard.testing import LocalServer


def test_healthz_and_openapi(server: LocalServer) -> None:
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    spec = server.client().get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Shipyard"


def test_errors_are_json_with_a_code(server: LocalServer) -> None:
    r = server.client().get("/api/v1/no-such-route")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = server.client().post("/api/v1/tokens", content=b"{not json",
                             headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_refuses_to_start_on_a_newer_schema(tmp_path: Path) -> None:
    home = tmp_path / "home"
    LocalServer.start(home).stop()
    with sqlite3.connect(home / "shipyard.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(RuntimeError, match="newer than this Shipyard knows"):
        LocalServer.start(home)


@pytest.mark.postgres
def test_server_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with LocalServer.start(tmp_path / "home", SHIPYARD_DATABASE_URL=pg_url) as srv:
        admin = srv.client()
        assert admin.get("/api/v1/whoami").json()["role"] == "admin"
        r = admin.post("/api/v1/tokens", json={"name": "pg-viewer", "role": "viewer"})
        assert r.status_code == 201
        assert [e["kind"] for e in admin.get("/api/v1/events").json()][:2] == [
            "token.created", "token.created"]
        assert not (srv.home / "shipyard.db").exists()
