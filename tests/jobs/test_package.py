"""The job package: what a worker gets, staged into a folder with a real artifact store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs import JobFailure, JobPackage, StagedFile, package_for, stage
from shipyard.jobs._package import open_log, staged_path
from shipyard.runtime import _contract as c


def _spec(store: ArtifactStore, **fields: object) -> dict:
    blob = store.put_bytes(b"print('hi')\n")
    return {"kind": "processing", "name": None,
            "script": {"filename": "main.py", "sha256": blob.sha256, "size": blob.size},
            "requirements": None, "metric_definitions": [],
            "resources": {"cpus": 1, "memory": "1G", "memory_bytes": 1024**3},
            "inputs": {}, "outputs": ["out"], "hyperparameters": {"lr": 0.1},
            "environment": {}, "max_runtime_seconds": 60, "retries": 0,
            "grace_period_seconds": None, **fields}


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"), tmp_dir=tmp_path)


def test_package_is_json_and_stages_a_complete_folder(store: ArtifactStore,
                                                      tmp_path: Path) -> None:
    part = store.put_bytes(b"PAR1 not really parquet")
    inputs = (StagedFile("input/data/raw/part-00000.parquet", part.sha256, part.size,
                         "Input 'raw'"),)
    spec = _spec(store, inputs={"raw": {"dataset": "churn", "version": 2}})
    package = package_for("job-1", spec, attempt=2, max_attempts=3, input_files=inputs)
    again = JobPackage.from_dict(json.loads(json.dumps(package.to_dict())))
    assert again == package
    assert package.entry == "shipyard.runtime._script:main" and not package.warm
    job_dir = tmp_path / "job"
    assert stage(again, job_dir, store)
    assert (job_dir / "code" / "main.py").read_text() == "print('hi')\n"
    assert (job_dir / "input/data/raw/part-00000.parquet").read_bytes() == \
        b"PAR1 not really parquet"
    job = json.loads((job_dir / c.JOB_FILE).read_text())
    assert job == {"job_id": "job-1", "kind": "processing",
                   "entry": "shipyard.runtime._script:main", "script": "main.py",
                   "outputs": ["out"], "attempt": 2, "gated": True, "metric_definitions": []}
    assert json.loads((job_dir / c.HYPERPARAMETERS_FILE).read_text()) == {"lr": 0.1}
    assert json.loads((job_dir / c.INPUTDATA_FILE).read_text()) == {
        "raw": {"dataset": "churn", "version": 2, "path": str(job_dir / "input/data/raw")}}
    assert (job_dir / "output/data/out").is_dir() and (job_dir / c.CHECKPOINTS_DIR).is_dir()


def test_a_retry_resets_the_folder_but_keeps_checkpoints_and_log(store: ArtifactStore,
                                                                 tmp_path: Path) -> None:
    package = package_for("job-1", _spec(store))
    job_dir = tmp_path / "job"
    stage(package, job_dir, store)
    (job_dir / c.CHECKPOINTS_DIR / "epoch-3").write_text("state")
    (job_dir / c.MODEL_DIR / "half.bin").write_text("x")
    (job_dir / c.EXIT_FILE).write_text("0\n")
    (job_dir / c.LOG_FILE).write_text("attempt 1\n")
    stage(package, job_dir, store)
    assert (job_dir / c.CHECKPOINTS_DIR / "epoch-3").read_text() == "state"
    assert not (job_dir / c.MODEL_DIR / "half.bin").exists()
    assert not (job_dir / c.EXIT_FILE).exists()  # never mistaken for this attempt's exit
    assert (job_dir / c.LOG_FILE).read_text() == "attempt 1\n"


def test_a_fresh_folder_continues_the_stored_log(store: ArtifactStore, tmp_path: Path) -> None:
    earlier = store.put_bytes(b"[shipyard] attempt 1 of 2 starting\n")
    package = package_for("job-1", _spec(store), attempt=2, max_attempts=2, log=earlier.sha256)
    path = open_log(package, tmp_path / "elsewhere", store)
    assert path.read_bytes() == b"[shipyard] attempt 1 of 2 starting\n"


@pytest.mark.parametrize("rel", ["/etc/passwd", "input/../../x", "code/../../x", "output/x",
                                 "model/x", "input\\..\\x", "input/", "job.log"])
def test_staged_paths_stay_in_the_folder(tmp_path: Path, rel: str) -> None:
    with pytest.raises(ShipyardError, match="unsafe file name"):
        staged_path(tmp_path / "job", rel)


def test_a_symlinked_folder_cannot_lead_a_staged_file_out(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    (job_dir / "input").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (job_dir / "input" / "model").symlink_to(tmp_path / "outside")
    with pytest.raises(ShipyardError, match="unsafe file name"):
        staged_path(job_dir, "input/model/MODEL.json")


def test_a_missing_object_is_an_input_error_naming_what(store: ArtifactStore,
                                                        tmp_path: Path) -> None:
    spec = _spec(store)
    missing = StagedFile("input/data/raw/part-00000.parquet", "ab" * 32, 10,
                         "Input 'raw' (dataset 'churn' version 1)")
    package = package_for("job-1", spec, input_files=(missing,))
    with pytest.raises(JobFailure) as err:
        stage(package, tmp_path / "job", store)
    assert err.value.reason == "input_error"
    assert err.value.message.startswith("Input 'raw' (dataset 'churn' version 1) could not be "
                                        "prepared")


def test_staging_stops_when_asked(store: ArtifactStore, tmp_path: Path) -> None:
    package = package_for("job-1", _spec(store))
    assert stage(package, tmp_path / "job", store, should_abort=lambda: True) is False
    assert not (tmp_path / "job" / "code" / "main.py").exists()


def test_what_a_worker_runs_needs_no_database() -> None:
    """Staging, collecting and the command line import neither the store nor the API, so a
    cluster worker with only the artifact store can run them."""
    import subprocess
    import sys

    code = ("import sys, shipyard.jobs._package, shipyard.jobs._collect, "
            "shipyard.jobs._workdir\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'fastapi', 'alembic', 'uvicorn') or m.startswith(("
            "'shipyard.store', 'shipyard.api', 'shipyard.jobs._service', "
            "'shipyard.datasets'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_shipyard_from_pythonpath_is_passed_on_to_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server run from a source tree through PYTHONPATH gives its jobs that tree, so a
    job never imports another copy of Shipyard; an installed Shipyard needs no path."""
    import shipyard
    from shipyard.jobs._kinds import import_root

    root = str(Path(shipyard.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/nowhere", root]))
    assert import_root("shipyard.jobs.kinds._autolabel_entry") == root
    monkeypatch.setenv("PYTHONPATH", "/nowhere")
    assert import_root("shipyard.jobs.kinds._autolabel_entry") is None
    monkeypatch.delenv("PYTHONPATH")
    assert import_root("shipyard.runtime._script") is None
