"""The studio's page times on a busy home: 10,000 jobs and 1,000 model versions.

Seeds a throwaway home through the store (jobs across kinds and statuses, 1,000 model
versions in 20 groups, a tenth of them waiting for approval), starts a real server on
it, signs in through a one-time link, then:

- server time per page: each page fetched N times over HTTP on 127.0.0.1 (the client's
  clock around the request: the loopback adds well under a millisecond), p50 and p95;
- time to first render in Chromium (/usr/bin/chromium, when installed): from
  ``page.goto`` to the load event, for the jobs list and a job's page, p50 over N.

Goal (issue 16): every page under 300 ms of server time.
Usage: python benchmarks/bench_studio.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from shipyard.settings import Settings
from shipyard.testing import LocalServer

JOBS, GROUPS, VERSIONS = 10_000, 20, 1_000
CHROMIUM = "/usr/bin/chromium"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seed(home: Path) -> tuple[str, str]:
    """The jobs and versions, straight into the store; a job id and a model page path."""
    from shipyard.store import Database, EventLog, JobRepository, RegistryRepository, upgrade

    settings = Settings.from_env(home=home)
    home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    upgrade(db)
    events = EventLog(db)
    jobs, registry = JobRepository(db, events), RegistryRepository(db, events)
    kinds = ("training", "processing", "transform", "script")
    statuses = ("Completed", "Completed", "Completed", "Failed", "Stopped")
    spec = {"kind": "training", "algorithm": "lightgbm", "target": "churn",
            "inputs": {"train": {"dataset": "churn", "version": 1}},
            "resources": {"cpus": 1, "memory": "1G", "memory_bytes": 1 << 30}}
    first = ""
    for i in range(JOBS):
        job_id = f"job-bench{i:07d}"
        first = first or job_id
        jobs.create(job_id, kinds[i % 4], {**spec, "kind": kinds[i % 4]}, name=f"bench-{i}",
                    max_attempts=1, actor="admin", initial_status=statuses[i % 5],
                    tags={"bench": "1"})
    for i in range(VERSIONS):
        registry.add_version(
            f"group-{i % GROUPS:02d}",
            status="PendingManualApproval" if i % 10 == 0 else "Approved",
            job_id=f"job-bench{i:07d}", bundle={"files": []},
            metrics={"test": {"roc_auc": 0.8 + (i % 7) / 100}}, lineage={"datasets": []},
            card={"description": f"version {i}"}, criteria={}, actor="admin")
    db.dispose()
    return first, "/studio/models/group-03/7"


def main(n: int = 30) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        job_id, model_page = seed(home)
        print(f"seeded {JOBS:,} jobs and {VERSIONS:,} model versions in "
              f"{time.perf_counter() - t0:.1f} s")
        with LocalServer.start(home) as srv:
            api = srv.client()
            link = api.post("/api/v1/studio/links").json()["path"]
            b = httpx.Client(base_url=srv.url, follow_redirects=False, timeout=60)
            b.get(link)
            pages = ["/studio", "/studio/jobs", "/studio/jobs?status=Failed",
                     f"/studio/jobs/{job_id}", "/studio/models", "/studio/models/group-03",
                     model_page, "/studio/datasets", "/studio/experiments",
                     "/studio/endpoints", "/studio/monitors", "/studio/pipelines",
                     "/studio/canvas"]
            worst = 0.0
            print(f"server time per page, {n} requests each (ms):")
            for path in pages:
                b.get(path)  # warm (templates compiled, caches filled)
                times = []
                for _ in range(n):
                    t = time.perf_counter()
                    r = b.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (path, r.status_code, r.text[:200])
                p95 = _pct(times, 0.95)
                worst = max(worst, p95)
                print(f"  {path:<40} p50 {statistics.median(times):7.1f}  p95 {p95:7.1f}")
            print(f"worst p95: {worst:.1f} ms (goal < 300 ms): "
                  f"{'met' if worst < 300 else 'MISSED'}")
            b.close()
            _first_render(srv, api, job_id, max(5, n // 3))


def _first_render(srv: LocalServer, api: httpx.Client, job_id: str, n: int) -> None:
    if not Path(CHROMIUM).exists():
        print(f"time to first render: skipped (no {CHROMIUM}; apt-get install -y chromium)")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(srv.url + api.post("/api/v1/studio/links").json()["path"])
            print(f"time to first render in Chromium, {n} loads each (ms, goto -> load):")
            for path in ("/studio/jobs", f"/studio/jobs/{job_id}"):
                page.goto(srv.url + path)
                times = []
                for _ in range(n):
                    t = time.perf_counter()
                    page.goto(srv.url + path, wait_until="load")
                    times.append((time.perf_counter() - t) * 1000)
                print(f"  {path:<40} p50 {statistics.median(times):7.1f}  "
                      f"p95 {_pct(times, 0.95):7.1f}")
        finally:
            browser.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
