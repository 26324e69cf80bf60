"""The SDK in-process against the module's real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import shipyard as sy
from shipyard.testing import LocalServer


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server for the whole package (its tests use distinct names), to keep it fast."""
    srv = LocalServer.start(tmp_path_factory.mktemp("home"), SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def sdk(server: LocalServer) -> Iterator[sy.Client]:
    """Connect the SDK (as admin) and make it the default client."""
    client = sy.connect(url=server.url, token=server.token())
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def viewer_token(server: LocalServer) -> str:
    """A viewer token of the module's server (made here: LocalServer.token leaves a client open)."""
    with sy.connect(url=server.url, token=server.token(), set_default=False) as admin:
        existing = {t["name"] for t in admin.tokens()}
        name = f"viewer-{len(existing)}"
        return str(admin.create_token(name, "viewer")["token"])
