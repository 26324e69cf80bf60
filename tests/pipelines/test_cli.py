"""``shipyard pipelines`` as a user runs it: the real CLI in a subprocess, against a real
server; definitions from JSON and from Python files, executions started, followed,
shown, retried and stopped."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import typer

from shipyard.cli import app
from shipyard.testing import LocalServer, ok, ok_json, one_sentence_error, run_cli

from .helpers import processing, ref

NOOP = "print('nothing to do')\n"


@pytest.fixture
def cli(server: LocalServer) -> Any:
    env = server.sdk_env()

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli("pipelines", *args, env=env, cwd=cwd)

    return run


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_create_from_json_fills_in_the_name_and_says_whether_it_changed(
        cli: Any, tmp_path: Path) -> None:
    definition = {"steps": [processing("a", NOOP)]}
    file = _write(tmp_path / "p.json", definition)
    assert ok(cli("create", "cli-json", "--file", str(file))).stdout.strip() == \
        "Created pipeline 'cli-json' (version 1)."
    assert "unchanged at version 1" in ok(cli("create", "cli-json", "-f", str(file))).stdout
    definition["steps"].append(processing("b", NOOP, depends_on=["a"]))
    _write(file, definition)
    assert "as version 2 (the definition changed)" in ok(
        cli("create", "cli-json", "--file", str(file))).stdout
    saved = ok_json(cli("create", "cli-json", "--file", str(file), "--json"))
    assert saved["version"] == 2 and saved["changed"] is False

    _write(file, {"name": "cli-json", **definition})
    err = one_sentence_error(cli("create", "other", "--file", str(file)))
    assert "is named 'cli-json', not 'other'" in err and "shipyard pipelines create cli-json" \
        in err

    listed = ok_json(cli("list", "--json"))
    assert {"name": "cli-json", "latest_version": 2} in [
        {k: p[k] for k in ("name", "latest_version")} for p in listed]
    assert "cli-json" in ok(cli("list")).stdout
    assert "Deleted pipeline 'cli-json'" in ok(cli("delete", "cli-json", "--yes")).stdout
    assert "cli-json" not in ok(cli("list")).stdout


def test_create_from_a_python_file_builds_it_here_in_its_folder(
        cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "prep.py").write_text(NOOP)
    (folder / "pipeline.py").write_text(textwrap.dedent("""\
        import shipyard as sy

        print("building the pipeline")  # on stderr: stdout carries the JSON
        rows = sy.Parameter("rows", type=int, default=10, description="how many")
        prep = sy.steps.Processing("prep", "prep.py", hyperparameters={"rows": rows})
        train = sy.steps.Processing("report", "print(1)\\n", depends_on=[prep])
        pipeline = sy.Pipeline("cli-py", steps=[train])
        """))
    done = ok(cli("create", "cli-py", "--file", "project/pipeline.py", cwd=tmp_path))
    assert "Created pipeline 'cli-py' (version 1)." in done.stdout
    assert "building the pipeline" in done.stderr

    doc = ok_json(cli("describe", "cli-py", "--json"))
    steps = {s["name"]: s for s in doc["definition"]["steps"]}
    assert steps["prep"]["job"]["script"] == {"filename": "prep.py", "source": NOOP}
    assert steps["prep"]["job"]["hyperparameters"] == {"rows": {"ref": "parameters.rows"}}
    text = ok(cli("describe", "cli-py")).stdout
    assert "Pipeline 'cli-py', version 1." in text
    assert "rows" in text and "how many" in text and "Parameters" in text
    report = next(line for line in text.splitlines() if line.strip().startswith("report"))
    assert "prep" in report  # its dependency
    assert ok_json(cli("describe", "cli-py", "--version", "1", "--json"))["version"] == 1

    (folder / "empty.py").write_text("import shipyard as sy\n")
    err = one_sentence_error(cli("create", "cli-py", "--file", str(folder / "empty.py")))
    assert "defines no module-level `pipeline`" in err
    (folder / "missing.py").write_text("import shipyard as sy\n"
                                       "sy.steps.Processing('p', 'nowhere.py')\n")
    err = one_sentence_error(cli("create", "cli-py", "--file", str(folder / "missing.py")))
    assert err == "Error: missing.py: No such script file: 'nowhere.py'.", err
    (folder / "broken.py").write_text("x = 1 / 0\n")
    err = one_sentence_error(cli("create", "cli-py", "--file", str(folder / "broken.py")))
    assert "Building the pipeline of" in err and "ZeroDivisionError" in err


def test_start_with_params_waits_and_the_execution_shows_its_steps(
        cli: Any, tmp_path: Path) -> None:
    first_step = processing("a", NOOP)
    first_step["job"]["hyperparameters"] = {"n": ref("parameters.n")}
    file = _write(tmp_path / "p.json", {"name": "cli-start", "parameters": [
        {"name": "n", "type": "int", "default": 1}, {"name": "flag", "type": "bool"}],
        "steps": [first_step, processing("b", NOOP, depends_on=["a"])]})
    ok(cli("create", "cli-start", "--file", str(file)))
    done = cli("start", "cli-start", "--param", "n=3", "--param", "flag=true", "--wait",
               "--json")
    first = ok_json(done)
    assert first["status"] == "Succeeded" and first["parameters"] == {"n": 3, "flag": True}
    assert {s["name"]: s["status"] for s in first["steps"]} == {"a": "Succeeded",
                                                               "b": "Succeeded"}

    # Without --json: the steps as they change (stderr), then the execution (stdout).
    again = ok(cli("start", "cli-start", "-p", "n=3", "-p", "flag=true"))
    assert "step a: Succeeded (cache hit" in again.stderr
    second_id = again.stdout.split("Started execution ")[1].split()[0]
    shown = ok(cli("show", second_id)).stdout
    row_a = next(ln for ln in shown.splitlines() if ln.strip().startswith("a "))
    assert "processing" in row_a and "Succeeded" in row_a and "hit" in row_a
    assert "n=3" in shown and "flag=true" in shown
    detail = ok_json(cli("show", second_id, "--json"))
    assert detail["steps"][0]["cache_hit"] is True and detail["steps"][0]["job_id"]

    listed = ok_json(cli("executions", "cli-start", "--json"))
    assert [e["id"] for e in listed] == [second_id, first["id"]]
    table = ok(cli("executions", "cli-start", "--status", "Succeeded", "--limit", "1")).stdout
    assert second_id in table and first["id"] not in table
    assert "has no executions that are Failed" in ok(
        cli("executions", "cli-start", "--status", "Failed")).stdout
    assert ok(cli("start", "cli-start", "-p", "flag=0", "--no-wait", "-q")).stdout.strip() \
        .startswith("exec-")


def test_a_failed_execution_exits_non_zero_and_retry_resumes_it(
        cli: Any, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    flaky = (f"import pathlib, sys\nif not pathlib.Path({str(flag)!r}).exists():\n"
             "    sys.exit('the input is not ready')\n")
    file = _write(tmp_path / "p.json", {"name": "cli-flaky", "steps": [
        processing("first", NOOP, cache=False),
        processing("second", flaky, depends_on=["first"], cache=False)]})
    ok(cli("create", "cli-flaky", "--file", str(file)))
    failed = cli("start", "cli-flaky", "--wait")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert "ended Failed: step 'second' failed" in last and "pipelines retry" in last
    assert "the input is not ready" in failed.stdout  # the steps table's reason
    execution_id = failed.stdout.split("Started execution ")[1].split()[0]

    flag.write_text("ok")
    retried = ok(cli("retry", execution_id, "--wait"))
    assert f"Execution {execution_id} is Executing again." in retried.stdout
    doc = ok_json(cli("show", execution_id, "--json"))
    assert doc["status"] == "Succeeded"
    assert {s["name"]: s["attempt"] for s in doc["steps"]} == {"first": 1, "second": 2}
    err = one_sentence_error(cli("retry", execution_id))
    assert "only a Failed or Stopped execution can be retried" in err


def test_stop_ends_an_execution_as_stopped(cli: Any, tmp_path: Path,
                                           server: LocalServer) -> None:
    file = _write(tmp_path / "p.json", {"name": "cli-stop", "steps": [
        processing("long", "import time\ntime.sleep(60)\n", cache=False),
        processing("next", NOOP, depends_on=["long"])]})
    ok(cli("create", "cli-stop", "--file", str(file)))
    execution_id = ok(cli("start", "cli-stop", "--no-wait", "-q")).stdout.strip()
    client = server.client()
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/pipeline-executions/{execution_id}").json()["steps"][0][
            "job_id"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped = ok(cli("stop", execution_id)).stdout
    assert stopped.strip() in (f"Execution {execution_id} is Stopping.",
                               f"Execution {execution_id} is Stopped.")
    deadline = time.monotonic() + 60
    while ok_json(cli("show", execution_id, "--json"))["status"] != "Stopped":
        assert time.monotonic() < deadline, "the execution did not stop"
        time.sleep(0.5)
    shown = ok(cli("show", execution_id)).stdout
    assert "Stopped" in shown and "long" in shown


@pytest.mark.parametrize(("args", "needle"), [
    (("start", "cli-any", "--param", "rows"), "Invalid --param 'rows': expected KEY=VALUE"),
    (("create", "cli-any", "--file", "no-such.json"), "No definition file 'no-such.json'"),
    (("create", "cli-any", "--file", "pipeline.yaml"), "must be a .json definition or a .py"),
    (("show", "exec-nope"), "exec-nope"),
])
def test_mistakes_are_one_sentence_errors(cli: Any, tmp_path: Path, args: tuple[str, ...],
                                          needle: str) -> None:
    (tmp_path / "pipeline.yaml").write_text("name: x\n")
    assert needle in one_sentence_error(cli(*args, cwd=tmp_path))


def test_the_server_types_parameters_and_names_the_flag(cli: Any, tmp_path: Path) -> None:
    file = _write(tmp_path / "p.json", {"name": "cli-typed", "parameters": [
        {"name": "n", "type": "int", "default": 1}], "steps": [processing("a", NOOP)]})
    ok(cli("create", "cli-typed", "--file", str(file)))
    err = one_sentence_error(cli("start", "cli-typed", "--param", "n=many"))
    assert "parameter 'n' must be a whole number; got 'many'" in err
    err = one_sentence_error(cli("start", "cli-typed", "--param", "m=1"))
    assert "no parameter 'm'" in err


def test_every_pipelines_command_says_what_it_does() -> None:
    group = typer.main.get_command(app).commands["pipelines"]  # type: ignore[attr-defined]
    assert {"create", "list", "describe", "delete", "start", "executions", "show", "retry",
            "stop"} <= set(group.commands)
    for name, command in group.commands.items():
        assert (command.help or "").strip(), f"shipyard pipelines {name} has no help"
        for param in command.params:
            assert param.name == "help" or getattr(param, "help", None) or \
                param.param_type_name == "argument", f"{name} {param.name} has no help"
