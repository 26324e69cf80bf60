"""Auth over a real server: the route inventory, tokens, roles and credentials."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from shipyard.api import create_app
from shipyard.api._auth import OPEN_PATHS
from shipyard.settings import Settings
from shipyard.studio._security import OPEN as STUDIO_OPEN_PATHS
from shipyard.studio._security import PREFIX
from shipyard.testing import LocalServer
from shipyard.tokens import PERMISSIONS, read_credentials

#: For each permission, a role that lacks it (None: every role has it). An annotator holds
#: ``label`` alone, so every route that needs ``read`` must refuse it.
TOO_WEAK = {"read": "annotator", "write": "viewer", "approve": "data-scientist",
            "admin": "data-scientist", "label": "viewer", "studio": None}


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _operations(server: LocalServer) -> list[tuple[str, str, dict]]:
    spec = server.client().get("/api/v1/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]


def test_every_documented_route_needs_a_token_and_the_right_role(server: LocalServer) -> None:
    ops = _operations(server)
    assert len(ops) >= 10
    for method, path, op in ops:
        url = server.url + _fill(path)
        if path == "/healthz":
            assert httpx.request(method, url).status_code == 200
            continue
        r = httpx.request(method, url)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["code"] == "unauthenticated"
        bad = httpx.request(method, url, headers={"Authorization": "Bearer sy_not-a-real-token"})
        assert bad.status_code == 401, (method, path)
        permission = op.get("x-shipyard-permission")
        assert permission in TOO_WEAK, f"{method} {path} declares no permission"
        weak = TOO_WEAK[permission]
        if weak is None:
            continue
        r = httpx.request(method, url, headers={"Authorization": f"Bearer {server.token(weak)}"})
        assert r.status_code == 403, (method, path, weak, r.text)
        assert r.json()["error"]["code"] == "forbidden"


def _mounted(routes: list) -> list[tuple[str, object]]:
    """Every (full path, route) the app serves, through included routers too."""
    out = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI keeps included routers lazily
            out += [(ctx.path, ctx.original_route) for ctx in contexts()]
        elif getattr(route, "path", None) is not None:
            out.append((route.path, route))
    return out


STUDIO = PREFIX
STUDIO_OPEN = STUDIO_OPEN_PATHS


def test_every_mounted_route_needs_a_token(server: LocalServer, tmp_path: Path) -> None:
    app = create_app(Settings.from_env(home=tmp_path))
    seen = 0
    for path, route in _mounted(app.routes):
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        for method in methods:
            if method == "HEAD":
                continue
            r = httpx.request(method, server.url + _fill(path))
            if path in OPEN_PATHS or path in STUDIO_OPEN:
                # liveness, and the sign-in forms and link (a 401 for no token)
                assert r.status_code in (200, 303, 401), (method, path, r.status_code)
            elif path.startswith(STUDIO + "/") or path == STUDIO:
                # The studio's pages send a browser to sign in; anything else is a 401.
                if method == "GET":
                    assert r.status_code == 303, (method, path, r.status_code)
                    assert r.headers["location"].startswith(STUDIO + "/sign-in?next=")
                else:
                    assert r.status_code == 401, (method, path, r.status_code)
            else:
                assert r.status_code == 401, (method, path, r.status_code)
            seen += 1
        if isinstance(route, APIRoute) and path not in OPEN_PATHS and \
                not path.startswith(STUDIO):  # (studio actions: the REST twin's own check)
            assert (route.openapi_extra or {}).get("x-shipyard-permission") in PERMISSIONS["admin"]
    assert seen >= 10
    # Paths that match no route answer 401 too: nothing leaks without a token.
    assert httpx.get(server.url + "/no/such/thing").status_code == 401
    assert httpx.get(server.url + "/api/v1/docs").status_code == 401


def test_roles(server: LocalServer) -> None:
    viewer = server.client("viewer")
    assert viewer.get("/api/v1/whoami").json() == {"name": "test-viewer", "role": "viewer"}
    assert viewer.get("/api/v1/events").status_code == 200
    assert viewer.post("/api/v1/tokens", json={"name": "n", "role": "admin"}).status_code == 403
    ds = server.client("data-scientist")
    assert ds.get("/api/v1/tokens").status_code == 403
    admin = server.client()
    assert admin.get("/api/v1/tokens").status_code == 200


def test_token_lifecycle(server: LocalServer) -> None:
    admin = server.client()
    r = admin.post("/api/v1/tokens", json={"name": "ci-bot", "role": "data-scientist"})
    assert r.status_code == 201
    secret = r.json()["token"]
    assert secret.startswith("sy_") and len(secret) > 40
    listed = {t["name"]: t for t in admin.get("/api/v1/tokens").json()}
    assert "token" not in listed["ci-bot"] and listed["ci-bot"]["active"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(server.url + "/api/v1/whoami", headers=headers).status_code == 200
    dup = admin.post("/api/v1/tokens", json={"name": "ci-bot", "role": "viewer"})
    assert dup.status_code == 409
    bad_role = admin.post("/api/v1/tokens", json={"name": "x1", "role": "root"})
    assert bad_role.status_code == 400
    assert "admin, data-scientist" in bad_role.json()["error"]["message"]
    assert admin.delete("/api/v1/tokens/ci-bot").status_code == 200
    # At once: the revoking server forgets its cached decision (tests/api/test_tokens.py).
    assert httpx.get(server.url + "/api/v1/whoami", headers=headers).status_code == 401
    assert admin.delete("/api/v1/tokens/nobody").status_code == 404


def test_credentials_are_private_and_only_hashes_are_stored(server: LocalServer) -> None:
    creds_path = server.home / "credentials"
    assert creds_path.stat().st_mode & 0o777 == 0o600
    secret = read_credentials(creds_path)["token"]
    with sqlite3.connect(server.home / "shipyard.db") as conn:
        rows = conn.execute("SELECT token_hash FROM tokens").fetchall()
    assert rows and all(len(h) == 64 for (h,) in rows)
    assert secret.encode() not in (server.home / "shipyard.db").read_bytes()


def test_two_fresh_homes_never_share_a_secret(tmp_path: Path) -> None:
    tokens = []
    for i in range(2):
        with LocalServer.start(tmp_path / f"home{i}") as srv:
            tokens.append(srv.admin_token)
            other = tokens[0] if i else None
            if other:
                r = httpx.get(srv.url + "/api/v1/whoami",
                              headers={"Authorization": f"Bearer {other}"})
                assert r.status_code == 401
    assert tokens[0] != tokens[1]


@pytest.mark.parametrize(
    "header", ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  x y", "Token abc", ""])
def test_malformed_authorization_headers(server: LocalServer, header: str) -> None:
    r = httpx.get(server.url + "/api/v1/whoami", headers={"Authorization": header})
    assert r.status_code == 401
