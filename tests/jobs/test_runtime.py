"""The bootstrap and in-job API, run as real job processes on a prepared folder (no server)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shipyard.jobs import admit, command_line, environment, package_for
from shipyard.jobs._collect import read_failure
from shipyard.jobs._package import layout


def _spec(**fields: object) -> dict:
    return {"kind": "processing", "script": {"filename": "main.py", "sha256": "0" * 64,
                                             "size": 0},
            "resources": {"cpus": 1, "memory": "1G", "memory_bytes": 1024**3},
            "inputs": {}, "outputs": [], "hyperparameters": {}, "environment": {}, **fields}


def _run(tmp_path: Path, source: str, setup: Callable[[Path], None] = lambda _: None,
         **fields: object) -> tuple[subprocess.CompletedProcess[str], Path]:
    job_dir = tmp_path / "job"
    package = package_for("job-test", _spec(**fields))
    layout(job_dir, package)
    admit(job_dir, package.attempt)  # the control plane's part: no supervisor here
    setup(job_dir)
    (job_dir / "code" / "main.py").write_text(textwrap.dedent(source))
    (job_dir / "code" / "helper.py").write_text("VALUE = 42\n")
    proc = subprocess.run(command_line(job_dir), env=environment(job_dir, package),
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    return proc, job_dir


def test_contract_seen_by_the_script(tmp_path: Path) -> None:
    proc, job_dir = _run(tmp_path, """
        import json, os
        from pathlib import Path
        import helper
        from shipyard import runtime
        print(json.dumps({
            "cwd": os.getcwd(), "job_id": runtime.job_id(), "helper": helper.VALUE,
            "hp": runtime.hyperparameters(), "hp_env": os.environ["SHIPYARD_HP_LEARNING_RATE"],
            "cpus": os.environ["SHIPYARD_NUM_CPUS"], "omp": os.environ["OMP_NUM_THREADS"],
            "model": str(runtime.model_dir()), "name": __name__,
            "env": os.environ["MY_VAR"],
        }))
        for step in range(3):
            runtime.log_metric("loss", 1 / (step + 1), step=step)
    """, hyperparameters={"learning_rate": 0.5, "layers": [3, 4]}, environment={"MY_VAR": 7})
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen == {
        "cwd": str(job_dir), "job_id": "job-test", "helper": 42,
        "hp": {"learning_rate": 0.5, "layers": [3, 4]}, "hp_env": "0.5", "cpus": "1",
        "omp": "1", "model": str(job_dir / "model"), "name": "__main__", "env": "7",
    }
    lines = (job_dir / "output" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["value"] for ln in lines] == [1.0, 0.5, 1 / 3]
    for sub in ("input/config/resources.json", "input/config/inputdata.json", "checkpoints"):
        assert (job_dir / sub).exists()


def test_read_input_and_write_output(tmp_path: Path) -> None:
    def setup(job_dir: Path) -> None:
        raw = job_dir / "input" / "data" / "raw"
        pd.DataFrame({"x": [1, 2]}).to_parquet(raw / "part-00000.parquet")
        pd.DataFrame({"x": [3]}).to_parquet(raw / "part-00001.parquet")

    proc, job_dir = _run(tmp_path, """
        from shipyard import runtime
        df = runtime.read_input("raw")
        runtime.write_output(df[df.x > 1], "clean-data")
        runtime.write_output(df[df.x > 2], "clean-data")
        try:
            runtime.output_dir("undeclared")
        except KeyError as exc:
            print("refused:", exc)
    """, setup, inputs={"raw": {"dataset": "d", "version": 1}}, outputs=["clean-data"])
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "undeclared" in proc.stdout
    out = job_dir / "output" / "data" / "clean-data"
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert pd.read_parquet(out / "part-00000.parquet")["x"].tolist() == [2, 3]


def test_script_error_is_reported(tmp_path: Path) -> None:
    proc, job_dir = _run(tmp_path, """
        def deep():
            raise ValueError("column 'tenure' is broken")
        deep()
    """)
    assert proc.returncode == 1
    assert "ValueError: column 'tenure' is broken" in proc.stderr
    reason, message = read_failure(job_dir)
    assert reason == "script_error"
    # One sentence: the user's last frame and the exception; the traceback is in the log.
    assert message == "main.py:3: ValueError: column 'tenure' is broken"
    assert "deep()" in proc.stderr


def test_memory_error_is_memory_limit(tmp_path: Path) -> None:
    proc, job_dir = _run(tmp_path, "raise MemoryError()\n")
    assert proc.returncode == 1
    reason, message = read_failure(job_dir)
    assert reason == "memory_limit" and "MemoryError) at main.py:1;" in message


def test_sys_exit(tmp_path: Path) -> None:
    proc, job_dir = _run(tmp_path, "import sys\nsys.exit(0)\n")
    assert proc.returncode == 0 and read_failure(job_dir) == (None, "")
    proc, job_dir = _run(tmp_path, "import sys\nsys.exit(3)\n")
    assert proc.returncode == 3
    assert read_failure(job_dir) == ("script_error", "The script exited with code 3.")


def test_user_written_failure_is_kept(tmp_path: Path) -> None:
    proc, job_dir = _run(tmp_path, """
        from shipyard import runtime
        (runtime.job_dir() / "output" / "failure").write_text("labels are missing")
        raise SystemExit(2)
    """)
    assert proc.returncode == 2
    assert read_failure(job_dir) == ("script_error", "labels are missing")


def test_runtime_imports_only_the_standard_library() -> None:
    code = ("import sys; import shipyard.runtime, shipyard.runtime._bootstrap, "
            "shipyard.runtime._script; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pandas', 'pyarrow', 'numpy', 'fastapi', 'sqlalchemy', 'httpx', 'psutil', "
            "'pydantic') or m.startswith(('shipyard.api', 'shipyard.store', 'shipyard.jobs'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_entry_modules_of_the_built_in_kinds_stay_server_free() -> None:
    """What a job process imports to run any built-in kind never pulls in the server (a
    driven kind, such as tuning, runs in the control plane and has no job process)."""
    from shipyard.jobs import registered_kinds

    modules = sorted({k.entry_module for k in registered_kinds()
                      if k.builtin and k.driver is None})
    assert "shipyard.jobs.kinds._transform_entry" in modules and len(modules) >= 5
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'sqlalchemy', 'alembic', 'uvicorn', 'httpx', 'psutil', 'pydantic') "
            "or m.startswith(('shipyard.api', 'shipyard.store', 'shipyard.jobs._', "
            "'shipyard.datasets', 'shipyard.registry', 'shipyard.client'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_environment_keeps_server_secrets_out(tmp_path: Path) -> None:
    spec = _spec(inputs={"raw_2": {}}, outputs=["churn-clean.v2"], environment={"A": True},
                 hyperparameters={"lr": 0.1, "name": "x", "layers": [1, 2]})
    env = environment(tmp_path, package_for("job-1", spec),
                      base={"PATH": "/bin", "SHIPYARD_TOKEN": "sy_secret", "PYTHONPATH": "/x",
                            "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cret"})
    assert "SHIPYARD_TOKEN" not in env and "PYTHONPATH" not in env and env["PATH"] == "/bin"
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["SHIPYARD_CHANNEL_RAW_2"] == str(tmp_path / "input/data/raw_2")
    out = env["SHIPYARD_OUTPUT_DATA_CHURN_CLEAN_V2"]
    assert out == str(tmp_path / "output/data/churn-clean.v2")
    assert (env["SHIPYARD_HP_LR"], env["SHIPYARD_HP_NAME"], env["SHIPYARD_HP_LAYERS"]) == (
        "0.1", "x", "[1, 2]")
    assert env["A"] == "true" and env["MKL_NUM_THREADS"] == "1"
