"""Registering a model runs the load checks: a bundle a deploy would refuse is refused (422)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx
import pytest

from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}
PRELUDE = """\
import pickle
from shipyard import runtime
from shipyard.bundle import write_bundle
from shipyard.testing.bundles import write_handmade_bundle
model_dir = runtime.model_dir()
"""
#: Script bodies (after PRELUDE) → (file named in the refusal, the rule).
BAD = {
    "pickle-as-skops": (
        """
        from sklearn.linear_model import LogisticRegression
        manifest = write_handmade_bundle(model_dir)
        model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
        write_bundle(model_dir, manifest={k: v for k, v in manifest.items()
                                          if k not in ("files", "format_version")},
                     files={"recipe.json": (model_dir / "recipe.json").read_bytes(),
                            "model.skops": pickle.dumps(model)})
        """, "'model.skops'", "is not a skops file"),
    "unlisted-file": (
        """
        write_handmade_bundle(model_dir)
        (model_dir / "notes.txt").write_text("added after the manifest")
        """, "['notes.txt']", "not listed in MODEL.json"),
    "altered-file": (
        """
        write_handmade_bundle(model_dir)
        (model_dir / "recipe.json").write_text('{"steps": []}')
        """, "'recipe.json'", "the file was altered"),
    "no-manifest": (
        """
        (model_dir / "weights.txt").write_text("42")
        """, "MODEL.json", "saved no MODEL.json"),
}


def _run(c: httpx.Client, body: str) -> str:
    source = PRELUDE + textwrap.dedent(body)
    r = c.post("/api/v1/jobs", json={"kind": "script",
                                     "script": {"filename": "save.py", "source": source}})
    assert r.status_code == 201, r.text
    job_id = str(r.json()["id"])
    deadline = time.monotonic() + 180
    while (job := c.get(f"/api/v1/jobs/{job_id}").json())["status"] not in TERMINAL:
        assert time.monotonic() < deadline, "the script job did not finish"
        time.sleep(0.2)
    assert job["status"] == "Completed", (job["reason"], job["message"])
    return job_id


@pytest.fixture(scope="module")
def jobs(server: LocalServer) -> dict[str, str]:
    c = server.client()
    out = {name: _run(c, body) for name, (body, _, _) in BAD.items()}
    out["good"] = _run(c, "write_handmade_bundle(model_dir)\n")
    return out


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bundle_a_deploy_would_refuse_is_not_registered(
        server: LocalServer, jobs: dict[str, str], case: str) -> None:
    c = server.client("data-scientist")
    _, file, rule = BAD[case]
    r = c.post("/api/v1/models/refused/versions", json={"job_id": jobs[case]})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_bundle"
    assert file in error["message"] and rule in error["message"], error["message"]
    assert jobs[case] in error["message"] and "/tmp" not in error["message"]
    # Nothing was stored: no group, no version.
    assert c.get("/api/v1/models/refused").status_code == 404


def test_a_valid_handmade_bundle_registers_and_the_cli_refuses_in_one_sentence(
        server: LocalServer, jobs: dict[str, str]) -> None:
    c = server.client()
    r = c.post("/api/v1/models/handmade/versions", json={"job_id": jobs["good"]})
    assert r.status_code == 201, r.text
    assert {f["path"] for f in r.json()["bundle"]["files"]} == {
        "MODEL.json", "recipe.json", "model.skops"}
    result: Any = subprocess.run(
        [sys.executable, "-m", "shipyard.cli", "models", "register", "handmade", "--job",
         jobs["pickle-as-skops"]], env=server.sdk_env(), capture_output=True, text=True,
        timeout=120)
    err = result.stderr.strip()
    assert result.returncode != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'model.skops' is not a skops file" in err
    assert [v["version"] for v in c.get("/api/v1/models/handmade/versions").json()] == [1]
