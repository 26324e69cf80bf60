"""The OpenAPI document generates a working client.

``openapi-python-generator`` (a dev dependency) writes a typed httpx + pydantic client
from the running server's document, offline, into a temporary folder; the test then
lists datasets, submits a job and reads it back with that client alone.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard.testing import LocalServer


@pytest.fixture
def generated(server: LocalServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    doc = server.client().get("/api/v1/openapi.json").json()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(doc))
    out = tmp_path / "gen" / "shipyard_api"
    run = subprocess.run([sys.executable, "-m", "openapi_python_generator", str(spec), str(out),
                          "--formatter", "none"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    sys.path.insert(0, str(out.parent))
    try:
        with warnings.catch_warnings():
            # The generated models name a field "schema" (a dataset version's columns, a job
            # kind's spec schema), which pydantic notes shadows BaseModel.schema(); harmless.
            warnings.filterwarnings("ignore", "Field name \"schema\"", UserWarning)
            modules = {name: importlib.import_module(f"shipyard_api.{name}") for name in (
                "api_config", "models", "services.datasets_service", "services.jobs_service")}
        yield modules
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == "shipyard_api" or
                     m.startswith("shipyard_api.")]:
            del sys.modules[name]


def test_a_generated_client_lists_datasets_submits_a_job_and_reads_it(
        server: LocalServer, generated: dict[str, Any]) -> None:
    server.client().post("/api/v1/datasets", data={"name": "gen-rows"}, files={
        "file": ("rows.csv", b"a,b\n1,x\n2,y\n3,z\n", "text/csv")}).raise_for_status()
    config = generated["api_config"].APIConfig(base_path=server.url,
                                               access_token=server.token("data-scientist"))
    datasets = generated["services.datasets_service"]
    jobs = generated["services.jobs_service"]
    models = generated["models"]

    listed = datasets.datasets_list_datasets(api_config_override=config)
    found = {d.name: d for d in listed}
    assert isinstance(found["gen-rows"], models.Dataset)
    assert found["gen-rows"].num_rows == 3 and found["gen-rows"].latest.ref == "gen-rows:1"

    # The generator sends every header parameter, so the optional Idempotency-Key is given.
    submitted = jobs.jobs_submit_job(api_config_override=config, Idempotency_Key="gen-1", data={
        "kind": "script", "name": "generated-client",
        "script": {"filename": "hello.py",
                   "source": "print('hello from a generated client')"}})
    assert isinstance(submitted, models.JobDetail) and submitted.kind == "script"

    deadline = time.monotonic() + 180
    job = jobs.jobs_get_job(api_config_override=config, job_id=submitted.id)
    while job.status not in ("Completed", "Failed", "Stopped") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = jobs.jobs_get_job(api_config_override=config, job_id=submitted.id)
    assert job.status == "Completed", job.message
    assert job.name == "generated-client" and job.outputs.log is not None

    # Errors come back as the client's exception with the status, not as a half-parsed body.
    with pytest.raises(generated["api_config"].HTTPException) as err:
        jobs.jobs_get_job(api_config_override=config, job_id="no-such-job")
    assert err.value.status_code == 404
