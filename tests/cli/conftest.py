"""Fixtures of the CLI tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from shipyard.testing import LocalServer

from .helpers import Run, run_cli


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server for the whole package (its tests use distinct names), to keep it fast."""
    srv = LocalServer.start(tmp_path_factory.mktemp("home"), SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def cli(server: LocalServer) -> Run:
    """Run the CLI as the admin of the module's server."""
    env = server.sdk_env()

    def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=kwargs.pop("env", env), **kwargs)

    return run
