"""The scheduler runs at most max_concurrent_jobs (2 by default) and queues the rest."""

from __future__ import annotations

import time

from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for

NAP = """
    import time
    from shipyard import runtime
    runtime.log_metric("start", time.time())
    time.sleep(1.0)
    runtime.log_metric("end", time.time())
"""


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = peak = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


def test_at_most_two_jobs_run_at_once(server: LocalServer) -> None:
    client = server.client()
    jobs = [submit(client, spec(NAP, name=f"nap-{i}")) for i in range(4)]
    queued = submit(client, spec(NAP, name="queued-then-cancelled"))
    cancelled = client.post(f"/api/v1/jobs/{queued['id']}/cancel").json()
    assert cancelled["status"] == "Stopped" and cancelled["attempts"] == 0

    peak_seen = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        active = client.get("/api/v1/jobs",
                            params={"status": "Starting,Running,Stopping"}).json()
        peak_seen = max(peak_seen, len(active))
        assert len(active) <= 2, [j["id"] for j in active]
        states = [client.get(f"/api/v1/jobs/{j['id']}").json()["status"] for j in jobs]
        if all(s == "Completed" for s in states):
            break
        time.sleep(0.05)
    intervals = []
    for job in jobs:
        done = wait_for(client, job["id"], "Completed", timeout=1)
        series = client.get(f"/api/v1/jobs/{job['id']}/metrics").json()["metrics"]
        intervals.append((series["start"][0]["value"], series["end"][0]["value"]))
        assert done["attempts"] == 1
    assert peak_seen == 2
    assert _max_overlap(intervals) == 2
    assert client.get(f"/api/v1/jobs/{queued['id']}").json()["status"] == "Stopped"
