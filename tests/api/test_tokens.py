"""Token lifecycle: revocation at once (and across replicas), the last admin token."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shipyard.testing import LocalServer
from shipyard.tokens import CACHE_SECONDS


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _new_token(admin: httpx.Client, name: str, role: str = "data-scientist") -> str:
    r = admin.post("/api/v1/tokens", json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_revocation_takes_effect_at_once_on_the_revoking_server(server: LocalServer) -> None:
    admin = server.client()
    secret = _new_token(admin, "revoke-now")
    invoke = server.url + "/api/v1/endpoints/no-such-endpoint/invocations"
    with httpx.Client(headers=_bearer(secret), timeout=30) as c:
        # Both paths have the token in the auth cache now: the routed API and the
        # invocation fast path (404: the token passed, the endpoint does not exist).
        for _ in range(3):
            assert c.get(server.url + "/api/v1/whoami").status_code == 200
            assert c.post(invoke, json=[{"x": 1}]).status_code == 404
        assert admin.delete("/api/v1/tokens/revoke-now").status_code == 200
        who = c.get(server.url + "/api/v1/whoami")
        assert who.status_code == 401, who.text
        inv = c.post(invoke, json=[{"x": 1}])
        assert inv.status_code == 401, inv.text
        assert inv.json()["error"]["code"] == "unauthenticated"


def test_the_last_admin_token_cannot_be_revoked(fresh_server: LocalServer) -> None:
    admin = fresh_server.client()
    r = admin.delete("/api/v1/tokens/admin")
    assert r.status_code == 409, r.text
    message = r.json()["error"]["message"]
    assert "last active admin token" in message and "reset-admin" in message
    assert admin.get("/api/v1/whoami").status_code == 200  # still works
    # With a second admin, either may go, but not both.
    second = _new_token(admin, "admin-two", role="admin")
    assert admin.delete("/api/v1/tokens/admin").status_code == 200
    with httpx.Client(base_url=fresh_server.url, headers=_bearer(second), timeout=30) as c:
        refused = c.delete("/api/v1/tokens/admin-two")
        assert refused.status_code == 409, refused.text
        assert c.get("/api/v1/whoami").json() == {"name": "admin-two", "role": "admin"}
        # Revoking an already revoked admin token is not blocked by the rule.
        assert c.delete("/api/v1/tokens/admin").status_code == 200
    kinds = [e["kind"] for e in admin.get("/api/v1/events", params={"resource_type": "token"},
                                          headers=_bearer(second)).json()]
    assert kinds.count("token.revoked") == 1


@pytest.mark.postgres
def test_revocation_across_two_servers_on_one_postgresql(pg_url: str, tmp_path: Path) -> None:
    """Another replica keeps a cached decision for at most CACHE_SECONDS (docs/security.md)."""
    with LocalServer.start(tmp_path / "a", SHIPYARD_DATABASE_URL=pg_url) as a, \
            LocalServer.start(tmp_path / "b", SHIPYARD_DATABASE_URL=pg_url) as b:
        admin = httpx.Client(base_url=a.url, headers=_bearer(a.admin_token), timeout=30)
        secret = _new_token(admin, "replicated")
        with httpx.Client(headers=_bearer(secret), timeout=30) as c:
            assert c.get(b.url + "/api/v1/whoami").status_code == 200  # cached on b now
            assert admin.delete("/api/v1/tokens/replicated").status_code == 200
            revoked_at = time.monotonic()
            assert c.get(a.url + "/api/v1/whoami").status_code == 401  # at once on a
            deadline = revoked_at + 30  # far past the bound: fails only if it never expires
            while c.get(b.url + "/api/v1/whoami").status_code == 200:
                assert time.monotonic() < deadline, "b kept accepting a revoked token"
                time.sleep(0.05)
            elapsed = time.monotonic() - revoked_at
        admin.close()
    print(f"revoked token refused by the other replica after {elapsed:.2f} s "
          f"(bound: {CACHE_SECONDS:g} s cache)")
