"""The job token: each attempt's own ``SHIPYARD_TOKEN`` reads its own job, nothing else,
and stops working when the job ends (a real server, real job processes)."""

from __future__ import annotations

import json

import httpx
import pytest

from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for

#: Prints what the job's own token may do, as one JSON line, and the token itself (so
#: the test can try it once the job has ended).
TOKEN_PROBE = """
    import json, os, httpx
    url, token = os.environ["SHIPYARD_URL"], os.environ["SHIPYARD_TOKEN"]
    other = os.environ["OTHER_JOB"]
    me = os.environ["SHIPYARD_JOB_ID"]
    h = {"Authorization": f"Bearer {token}"}
    def status(method, path, **kw):
        return httpx.request(method, url + path, headers=h, timeout=30, **kw).status_code
    import shipyard as sy
    sy.connect()
    seen = {
        "own_job": status("GET", f"/api/v1/jobs/{me}"),
        "own_logs": status("GET", f"/api/v1/jobs/{me}/logs"),
        "own_metrics": status("GET", f"/api/v1/jobs/{me}/metrics"),
        "other_job": status("GET", f"/api/v1/jobs/{other}"),
        "job_list": status("GET", "/api/v1/jobs"),
        "datasets": status("GET", "/api/v1/datasets"),
        "create_token": status("POST", "/api/v1/tokens", json={"name": "x", "role": "admin"}),
        "cancel_own": status("POST", f"/api/v1/jobs/{me}/cancel"),
        "submit": status("POST", "/api/v1/jobs", json={"kind": "script"}),
        "sdk_own_job": sy.Job.get(me).status,
        "token_shape": token.startswith("syj_"),
    }
    print("PROBE " + json.dumps(seen), flush=True)
    print("TOKEN " + token, flush=True)
"""


def _line(log: str, prefix: str) -> str:
    return next(ln[len(prefix):] for ln in log.splitlines() if ln.startswith(prefix))


@pytest.fixture(scope="module")
def probed(server: LocalServer) -> tuple[dict, str, dict]:
    ds = server.client("data-scientist")
    other = wait_for(ds, submit(ds, spec("print('other')"))["id"])
    job = submit(ds, spec(TOKEN_PROBE, environment={"OTHER_JOB": other["id"]}))
    done = wait_for(ds, job["id"], timeout=60)
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert done["status"] == "Completed", log
    return json.loads(_line(log, "PROBE ")), _line(log, "TOKEN "), done


def test_the_job_token_reads_its_own_job_only(probed: tuple[dict, str, dict]) -> None:
    seen, _, _ = probed
    assert seen["own_job"] == seen["own_logs"] == seen["own_metrics"] == 200
    assert seen["sdk_own_job"] == "Running"  # the SDK inside the job works with it
    assert seen["token_shape"] is True
    refused = {k: seen[k] for k in ("other_job", "job_list", "datasets", "create_token",
                                    "cancel_own", "submit")}
    assert refused == dict.fromkeys(refused, 403)


def test_the_job_token_is_dead_once_the_job_ended(server: LocalServer,
                                                  probed: tuple[dict, str, dict]) -> None:
    _, token, done = probed
    r = httpx.get(f"{server.url}/api/v1/jobs/{done['id']}",
                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401, r.text


def test_a_refusal_says_what_a_job_token_may_do(server: LocalServer) -> None:
    ds = server.client("data-scientist")
    job = submit(ds, spec("""
        import os, httpx
        r = httpx.get(os.environ["SHIPYARD_URL"] + "/api/v1/datasets", timeout=30,
                      headers={"Authorization": "Bearer " + os.environ["SHIPYARD_TOKEN"]})
        print("REFUSAL", r.status_code, r.json()["error"]["message"], flush=True)
    """))
    wait_for(ds, job["id"], timeout=60)
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert f"REFUSAL 403 A job's own token (job:{job['id']}) may only read its own job" in log


def test_no_user_or_admin_token_reaches_a_job(server: LocalServer) -> None:
    """The server's environment may hold SHIPYARD_* secrets: none of them reaches a job."""
    ds = server.client("data-scientist")
    job = submit(ds, spec("""
        import os
        print("VARS", sorted(k for k in os.environ if k.startswith("SHIPYARD_")), flush=True)
        print("SAME", os.environ["SHIPYARD_TOKEN"] in open(os.environ["CREDS"]).read()
              if os.access(os.environ["CREDS"], os.R_OK) else "unreadable", flush=True)
    """, environment={"CREDS": str(server.home / "credentials")}))
    wait_for(ds, job["id"], timeout=60)
    log = ds.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert server.admin_token not in log
    assert "SHIPYARD_HOME" not in _line(log, "VARS ")
    assert _line(log, "SAME ") in ("False", "unreadable")
