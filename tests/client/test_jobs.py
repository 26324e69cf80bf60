"""``sy.Job`` against a real server."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import shipyard as sy
from shipyard.client import JobFailed, WaitTimeout

TRAIN = """\
from shipyard import runtime
hp = runtime.hyperparameters()
df = runtime.read_input("train")
for step in range(3):
    runtime.log_metric("loss", 1.0 / (step + 1), step=step)
runtime.log_metric("rows", len(df))
print(f"lr={hp['lr']} rows={len(df)}", flush=True)
(runtime.model_dir() / "weights.txt").write_text("42")
"""


def _script(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def test_run_wait_logs_metrics(sdk: sy.Client, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    sy.Dataset.create("train-set", pd.DataFrame({"x": [1, 2, 3, 4]}))
    job = sy.Job.run("script", _script(tmp_path, "train.py", TRAIN), inputs={"train": "train-set"},
                     hyperparameters={"lr": 0.01}, name="trainer")
    assert job.id and job.status in ("Pending", "Starting", "Running")
    assert job.wait(timeout=120, logs=True) is job
    assert job.status == "Completed" and job.reason is None and job.done
    assert "lr=0.01 rows=4" in capsys.readouterr().out

    assert "lr=0.01 rows=4" in job.logs()
    metrics = job.metrics()
    assert list(metrics.columns) == ["name", "value", "step", "timestamp"]
    loss = metrics[metrics["name"] == "loss"]
    assert list(loss["step"]) == [0, 1, 2] and list(loss["value"]) == [1.0, 0.5, 1 / 3]
    assert metrics[metrics["name"] == "rows"]["value"].tolist() == [4.0]

    paths = [a["path"] for a in job.artifacts()]
    weights = next(p for p in paths if p.endswith("weights.txt"))
    assert job.download(weights, tmp_path).read_text() == "42"

    html = job._repr_html_()
    assert "Completed" in html and job.id in html and "loss" in html
    assert job.id in repr(job)
    assert sy.Job(job.id).status == "Completed"
    assert job.id in set(sy.Job.list()["id"])


def test_failing_script_raises_job_failed(sdk: sy.Client, tmp_path: Path) -> None:
    script = _script(tmp_path, "bad.py", "raise ValueError('no good')\n")
    job = sy.Job.run("script", script)
    with pytest.raises(JobFailed, match="failed: bad.py:1: ValueError: no good. ") as info:
        job.wait(timeout=120, progress=False)
    assert info.value.job is job and info.value.reason == "script_error"
    assert "ValueError: no good" in job.logs()
    again = sy.Job.run("script", script).wait(timeout=120, raise_on_failure=False)
    assert again.status == "Failed"


def test_cancel_and_wait_timeout(sdk: sy.Client, tmp_path: Path) -> None:
    script = _script(tmp_path, "sleep.py",
                     "import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    job = sy.Job.run("script", script)
    with pytest.raises(WaitTimeout, match=job.id):
        job.wait(timeout=0.5, progress=False)
    deadline = time.monotonic() + 30
    while "up" not in job.logs():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job.cancel().status in ("Stopping", "Stopped")
    assert job.wait(timeout=60).status == "Stopped"


def test_idempotent_submit(sdk: sy.Client, tmp_path: Path) -> None:
    script = _script(tmp_path, "hi.py", "print('hi')\n")
    first = sy.Job.run("script", script, idempotency_key="hi-once")
    second = sy.Job.run("script", script, idempotency_key="hi-once")
    assert first.id == second.id
    first.wait(timeout=120)
