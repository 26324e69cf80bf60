"""What handing a job folder to the job user and taking it back costs (root only).

A root server gives each job folder to the job user before the process starts
(inputs made read-only, outputs chowned) and reclaims it when the attempt ends,
walking it by file descriptor. This builds a folder with N staged input files and N
output files and times both steps.
Usage: python benchmarks/bench_job_folder.py [N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shipyard.jobs._identity import hand_over, job_user, reclaim
from shipyard.settings import Settings


def _folder(root: Path, n: int) -> Path:
    job = root / "job"
    for sub in ("input/data/train", "input/config", "code", "model", "output", "checkpoints"):
        (job / sub).mkdir(parents=True)
    for i in range(n):
        (job / "input/data/train" / f"part-{i:05d}.parquet").write_bytes(b"x" * 64)
        (job / "model" / f"file-{i:05d}.bin").write_bytes(b"y" * 64)
    (job / "job.log").touch()
    return job


def main(n: int = 2000, repeats: int = 5) -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root: only a root server hands job folders to the job user")
    user = job_user(Settings.from_env())
    if user is None:
        raise SystemExit("SHIPYARD_JOB_USER=root: there is no job user to hand folders to")
    give, take = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            job = _folder(Path(tmp), n)
            t0 = time.perf_counter()
            hand_over(job, user)
            t1 = time.perf_counter()
            reclaim(job)
            give.append(t1 - t0)
            take.append(time.perf_counter() - t1)
    print(f"job folder with {n} input and {n} model files, {repeats} repeats")
    print(f"hand over: median {statistics.median(give) * 1000:.1f} ms")
    print(f"reclaim:   median {statistics.median(take) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
