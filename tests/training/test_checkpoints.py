"""Boosting checkpoints in process: a fit saves one every tenth of its rounds, and a fit
that finds one continues from it, trains only the missing rounds, and writes the same
bundle as a fit that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.training import TrainingContext, run_training

from .conftest import load

ROUNDS = {"xgboost": "n_estimators", "lightgbm": "n_estimators", "catboost": "iterations"}
EXT = {"xgboost": ".ubj", "lightgbm": ".txt"}
#: A CatBoost fit in its own process, killed once it has written a snapshot.
CATBOOST_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import shipyard.training._boosting as boosting
boosting.CATBOOST_SNAPSHOT_SECONDS = 1
from training.conftest import load
from training.test_checkpoints import _fit
_fit(load("modeldata", "wa_churn").head(800), "catboost", Path({out!r}), Path({ckpt!r}),
     [], rounds={rounds})
"""


@pytest.fixture(scope="module")
def churn_small() -> pd.DataFrame:
    return load("modeldata", "wa_churn").head(800)


def _fit(df: pd.DataFrame, algorithm: str, model_dir: Path, ckpt: Path | None,
         lines: list[str], rounds: int = 20, seconds: float = 0, **hp: object):
    return run_training(TrainingContext(
        train=df, algorithm=algorithm, target="churn", model_dir=model_dir, n_jobs=1,
        plots=False, log=lines.append, checkpoint_dir=ckpt, checkpoint_seconds=seconds,
        hyperparameters={ROUNDS[algorithm]: rounds, **hp}))


def test_a_fit_shorter_than_the_time_floor_takes_no_checkpoint(
        tmp_path: Path, churn_small: pd.DataFrame) -> None:
    lines: list[str] = []
    _fit(churn_small, "lightgbm", tmp_path / "m", tmp_path / "ckpt", lines, seconds=600)
    assert not any("checkpoint saved" in line for line in lines)
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())


def _rounds_in(model_dir: Path, algorithm: str) -> int:
    model = load_bundle(model_dir).model
    if algorithm == "xgboost":
        return int(model.num_boosted_rounds())
    if algorithm == "lightgbm":
        return int(model.current_iteration())
    return int(model.tree_count_)


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm"])
def test_resumes_from_the_last_checkpoint(tmp_path: Path, churn_small: pd.DataFrame,
                                          algorithm: str) -> None:
    ckpt = tmp_path / "checkpoints"
    first: list[str] = []
    whole = _fit(churn_small, algorithm, tmp_path / "whole", ckpt, first)
    saved = sorted(p.name for p in ckpt.iterdir())
    # Every 2 rounds of 20, the two newest kept, none at the end, no temporary left.
    assert saved == sorted(f"{algorithm}-{r:07d}{s}" for r in (16, 18)
                           for s in (".json", EXT[algorithm])), saved
    assert sum("checkpoint saved at round" in line for line in first) == 9
    assert not any("resuming" in line for line in first)

    # As if the job had died after round 16: its newer checkpoint never reached the store.
    for suffix in (".json", EXT[algorithm]):
        (ckpt / f"{algorithm}-{18:07d}{suffix}").unlink()
    again: list[str] = []
    resumed = _fit(churn_small, algorithm, tmp_path / "resumed", ckpt, again)
    assert "[training] resuming from checkpoint at round 16 of 20; training the other 4" \
        in again
    progress = [line for line in again if "progress:" in line]
    assert progress and progress[-1].startswith("[training] progress: 20 of 20")
    assert _rounds_in(tmp_path / "resumed", algorithm) == 20
    assert _rounds_in(tmp_path / "whole", algorithm) == 20
    # The same bundle: the same files, every round in the curves, the metrics of the model.
    assert sorted(p.name for p in (tmp_path / "resumed").rglob("*")) == \
        sorted(p.name for p in (tmp_path / "whole").rglob("*"))
    curves = json.loads((tmp_path / "resumed" / "evaluation" / "evaluation.json")
                        .read_text())["curves"]
    assert curves and all(len(values) == 20 for values in curves.values()), \
        {k: len(v) for k, v in curves.items()}
    for split in ("validation", "test"):
        got, ref = resumed.metrics[split], whole.metrics[split]
        assert set(got) == set(ref)
        assert got["roc_auc"] == pytest.approx(ref["roc_auc"], abs=0.05)
    reloaded = load_bundle(tmp_path / "resumed")
    assert reloaded.manifest["metrics"] == resumed.manifest["metrics"]


def test_a_checkpoint_of_other_settings_is_ignored(tmp_path: Path,
                                                   churn_small: pd.DataFrame) -> None:
    ckpt = tmp_path / "checkpoints"
    _fit(churn_small, "lightgbm", tmp_path / "a", ckpt, [])
    lines: list[str] = []
    _fit(churn_small, "lightgbm", tmp_path / "b", ckpt, lines, learning_rate=0.2)
    assert any("ignoring 2 checkpoint(s)" in line for line in lines), lines
    assert not any("resuming" in line for line in lines)
    assert _rounds_in(tmp_path / "b", "lightgbm") == 20


def test_no_checkpoints_with_early_stopping(tmp_path: Path, churn_small: pd.DataFrame) -> None:
    ckpt = tmp_path / "checkpoints"
    lines: list[str] = []
    _fit(churn_small, "xgboost", tmp_path / "m", ckpt, lines, early_stopping_rounds=5)
    assert any("no checkpoints: early_stopping_rounds" in line for line in lines)
    assert not ckpt.exists() or not any(ckpt.iterdir())


def test_catboost_continues_its_snapshot_after_a_kill(tmp_path: Path,
                                                     churn_small: pd.DataFrame) -> None:
    # Long enough that the first snapshot (1 s in) comes well before the fit's end: a fit
    # that ended before the kill leaves a complete snapshot, and nothing to resume.
    ckpt, rounds = tmp_path / "checkpoints", 1000
    code = CATBOOST_CHILD.format(tests=str(Path(__file__).parents[1]), out=str(tmp_path / "x"),
                                 ckpt=str(ckpt), rounds=rounds)
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(ckpt.glob("catboost-*.snapshot")):
            assert child.poll() is None, "the CatBoost fit ended before its first snapshot"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert child.poll() is None, "the CatBoost fit ended before it could be killed"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    lines: list[str] = []
    resumed = _fit(churn_small, "catboost", tmp_path / "m", ckpt, lines, rounds=rounds)
    said = [line for line in lines if "resuming from checkpoint at round" in line]
    assert said, lines
    start = int(said[0].split("at round ")[1].split(" ")[0])
    assert 0 < start < rounds
    assert _rounds_in(tmp_path / "m", "catboost") == rounds
    curves = json.loads((tmp_path / "m" / "evaluation" / "evaluation.json").read_text())["curves"]
    assert all(len(values) == rounds for values in curves.values())
    assert resumed.metrics["test"]["roc_auc"] > 0.75


def test_a_catboost_snapshot_of_a_finished_fit_says_nothing_is_left(
        tmp_path: Path, churn_small: pd.DataFrame) -> None:
    ckpt = tmp_path / "checkpoints"
    _fit(churn_small, "catboost", tmp_path / "a", ckpt, [], rounds=40)
    lines: list[str] = []
    _fit(churn_small, "catboost", tmp_path / "b", ckpt, lines, rounds=40)
    assert any("resuming from checkpoint at round 40 of 40; nothing left to train" in line
               for line in lines), lines
    assert _rounds_in(tmp_path / "b", "catboost") == 40
