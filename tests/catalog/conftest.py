"""Fixtures of the catalog tests: one real server and one real lake for the package."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

from shipyard.testing import LocalServer, reachable_by_jobs

from .data import Lake, churn, write_lake


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server for the package (its tests use distinct names), to keep it fast."""
    srv = LocalServer.start(tmp_path_factory.mktemp("home"), SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="package")
def served_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A data folder as a real one is: readable by others (wrangle jobs read it, as the
    job user when the server is root)."""
    root = tmp_path_factory.mktemp("served")
    root.chmod(0o755)
    reachable_by_jobs(root)
    return write_lake(root)


@pytest.fixture(scope="package")
def admin(server: LocalServer) -> httpx.Client:
    return server.client()


@pytest.fixture(scope="package")
def registered(admin: httpx.Client, served_lake: Lake) -> dict[str, Any]:
    """Location ``lake`` over the served lake, and dataset ``churn`` (wa_churn)."""
    r = admin.post("/api/v1/catalog/locations",
                   json={"name": "lake", "path": str(served_lake.root),
                         "description": "flights and churn"})
    assert r.status_code == 201, r.text
    upload_frame(admin, "churn", churn())
    return dict(r.json())


def upload_frame(client: httpx.Client, name: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Create dataset ``name`` from ``frame`` (as a Parquet upload) through the API."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    r = client.post("/api/v1/datasets", data={"name": name},
                    files=[("file", (f"{name}.parquet", buf.getvalue()))])
    assert r.status_code == 201, r.text
    return dict(r.json())


CLI = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(server: LocalServer) -> CLI:
    """Run the real ``shipyard`` CLI as a subprocess (as admin unless ``role`` says)."""

    def run(*args: str, role: str = "admin") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipyard.cli", *args],
                              env=server.sdk_env(role), capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    return run
