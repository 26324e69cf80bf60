"""Shared fixtures: a real Shipyard server on 127.0.0.1, and store URLs for both backends."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.api._context import Services
from shipyard.settings import Settings
from shipyard.testing import (
    LocalServer,
    S3Server,
    fresh_postgres_database,
    moto_available,
    postgres_unavailable,
    reachable_by_jobs,
)


def pytest_configure(config: pytest.Config) -> None:
    """As root, test folders live in a base folder of this session's own.

    Jobs there run as the job user, which must pass through the folders above each test
    home (``shipyard.testing.reachable_by_jobs`` opens them). Under the shared
    ``/tmp/pytest-of-root``, any other pytest session that starts resets that folder to
    0700, and the job user loses its way mid-test.
    """
    if os.geteuid() == 0 and config.option.basetemp is None:
        base = Path(tempfile.mkdtemp(prefix="shipyard-tests-"))
        config.option.basetemp = str(base / "t")
        config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))


@pytest.fixture(autouse=True)
def _tmp_path_reachable_by_jobs(request: pytest.FixtureRequest) -> None:
    """A test's ``tmp_path`` is one the job user passes through (root only): a home made
    there by the CLI, or a file a job reads there, works as it would on a real machine."""
    if os.geteuid() == 0 and "tmp_path" in request.fixturenames:
        reachable_by_jobs(request.getfixturevalue("tmp_path"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server per test module, in a fresh home (fast cancel grace for the tests)."""
    home = tmp_path_factory.mktemp("home")
    srv = LocalServer.start(home, SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A server of the test's own, for tests that kill or restart it."""
    srv = LocalServer.start(tmp_path / "home", SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    """The server's services on a fresh home, without an HTTP server (a unit's view)."""
    services = Services.build(Settings.from_env(home=tmp_path / "home"))
    try:
        yield services
    finally:
        services.db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend (PostgreSQL: a database of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from _fresh_pg_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (skipped, with the reason, where none answers)."""
    yield from _fresh_pg_database()


def _fresh_pg_database() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server (``python -m moto.server``) on 127.0.0.1, one per test session."""
    reason = moto_available()
    if reason:
        pytest.skip(reason)
    srv = S3Server.start(tmp_path_factory.mktemp("moto"))
    try:
        srv.create_bucket("shipyard-test")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def s3_url(s3_server: S3Server) -> str:
    """A fresh ``s3://bucket/prefix`` of the session's S3 server (endpoint: ``s3_server.env()``)."""
    return f"s3://shipyard-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of the test session's one local Ray instance (servers connect to it with
    ``SHIPYARD_RAY_ADDRESS``); skipped, with the reason, where Ray is not installed.

    Four logical CPUs on this 2-core machine: Ray only counts them, and the executor
    suite runs three one-CPU jobs at once (recovery after a control-plane restart).
    """
    from shipyard.testing import ray_available, start_ray

    reason = ray_available()
    if reason:
        pytest.skip(reason)
    address, stop = start_ray(num_cpus=4)
    try:
        yield address
    finally:
        stop()
