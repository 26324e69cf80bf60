"""Choosing an executor: SHIPYARD_EXECUTOR, SHIPYARD_RAY_ADDRESS and the other job settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs import LocalExecutor, make_executor
from shipyard.settings import Settings
from shipyard.testing import LocalServer


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("SHIPYARD_EXECUTOR", " Local ")
    monkeypatch.setenv("SHIPYARD_RAY_ADDRESS", "ray://10.0.0.5:10001")
    monkeypatch.setenv("SHIPYARD_HEARTBEAT_TIMEOUT", "90")
    monkeypatch.setenv("SHIPYARD_PLUGINS", "a.kinds, b ,")
    monkeypatch.setenv("SHIPYARD_RAY_WARM_RUNNERS", "0")
    s = Settings.from_env(home=tmp_path)
    assert (s.executor, s.ray_address, s.heartbeat_timeout, s.plugins, s.ray_warm_runners) == (
        "local", "ray://10.0.0.5:10001", 90.0, ("a.kinds", "b"), 0)
    assert isinstance(make_executor(s, ArtifactStore(str(tmp_path / "a"))), LocalExecutor)
    for var in ("SHIPYARD_EXECUTOR", "SHIPYARD_RAY_ADDRESS", "SHIPYARD_HEARTBEAT_TIMEOUT",
                "SHIPYARD_PLUGINS", "SHIPYARD_RAY_WARM_RUNNERS"):
        monkeypatch.delenv(var)
    s = Settings.from_env(home=tmp_path)
    assert (s.executor, s.ray_address, s.heartbeat_timeout, s.plugins, s.ray_warm_runners) == (
        "local", "", 60.0, (), 1)


def test_an_unknown_executor_is_refused_with_the_choices(tmp_path: Path) -> None:
    s = Settings.from_env(home=tmp_path, executor="nomad")
    with pytest.raises(ShipyardError, match="SHIPYARD_EXECUTOR must be one of local, ray"):
        make_executor(s, ArtifactStore(str(tmp_path / "a")))


@pytest.mark.parametrize(("value", "needle"), [
    ("nomad", "SHIPYARD_EXECUTOR must be one of local, ray; got 'nomad'"),
    ("ray", "SHIPYARD_EXECUTOR=ray needs Ray: pip install 'shipyard[ray]'"),
])
def test_the_server_refuses_to_start_with_an_executor_it_cannot_use(
        tmp_path: Path, value: str, needle: str) -> None:
    # Ray made impossible to import (a package named ray that refuses), as where the
    # extra is not installed.
    shadow = tmp_path / "shadow" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no ray here')\n")
    with pytest.raises(RuntimeError) as err:
        LocalServer.start(tmp_path / "home", SHIPYARD_EXECUTOR=value,
                          PYTHONPATH=str(shadow.parent))
    assert needle in str(err.value)
    assert "Traceback" not in str(err.value)  # one sentence, not a stack
