"""How long from submitting a job to its first line of user code running.

Starts a real server in a throwaway home, submits N trivial script jobs one at a
time (each waits for the previous to finish), and measures from the client's clock
just before the POST to the time.time() the script's first line prints.
Usage: python benchmarks/bench_job_start.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from shipyard.testing import LocalServer

SCRIPT = 'import time; print("first-line", repr(time.time()), flush=True)\n'
TERMINAL = {"Completed", "Failed", "Stopped"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(n: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp, LocalServer.start(Path(tmp) / "home") as srv:
        client = srv.client()
        body = {"kind": "script", "script": {"filename": "first.py", "source": SCRIPT}}
        to_first, to_done = [], []
        for _ in range(n + 1):  # the first job warms the server up and is not counted
            t0 = time.time()
            job = client.post("/api/v1/jobs", json=body).json()
            while (status := client.get(f"/api/v1/jobs/{job['id']}").json()["status"]) \
                    not in TERMINAL:
                time.sleep(0.01)
            t_done = time.time()
            if status != "Completed":
                raise SystemExit(f"job {job['id']} ended {status}")
            log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
            first = next(float(ln.split()[1]) for ln in log.splitlines()
                         if ln.startswith("first-line"))
            to_first.append(first - t0)
            to_done.append(t_done - t0)
        to_first, to_done = to_first[1:], to_done[1:]
    print(f"jobs: {n} (one at a time, after one warm-up job)")
    for label, values in (("submit -> first line of user code", to_first),
                          ("submit -> Completed seen by the client", to_done)):
        print(f"{label}: p50 {statistics.median(values) * 1000:.0f} ms, "
              f"p95 {_pct(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
