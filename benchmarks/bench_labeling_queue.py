"""What an annotator waits for: next-item fetch and answer submit at 100,000 items.

A synthetic text dataset of ITEMS rows (short reviews), one job with 3 annotators per item
and 5 annotators working in turn:

1. service level, on a real SQLite file (and PostgreSQL when ``SHIPYARD_BENCH_PG`` names a
   server URL, e.g. ``postgresql://postgres@127.0.0.1:5432/test``): job creation time,
   then ROUNDS fetch + submit per annotator, p50 / p95 of each;
2. over HTTP: a real server, the same job created through ``POST /labeling-jobs``, and
   ROUNDS fetch + submit per annotator through ``GET …/next`` and ``POST …/answers``.

Prints figures; not a timed test.

Usage: python benchmarks/bench_labeling_queue.py [ITEMS] [ROUNDS]
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from shipyard.artifacts import ArtifactStore
from shipyard.datasets import DatasetService
from shipyard.labeling import LabelingService, LabelingSpec
from shipyard.settings import Settings
from shipyard.store import Database, EventLog, upgrade
from shipyard.testing import LocalServer, fresh_postgres_database
from shipyard.tokens import Principal

ANNOTATORS = 5
WORDS = np.array(["good", "bad", "tasty", "stale", "sweet", "salty", "fresh", "cheap",
                  "pricey", "crunchy", "soft", "bland", "great", "awful", "fine", "love",
                  "hate", "again", "never", "always"])


def reviews(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = WORDS[rng.integers(0, len(WORDS), size=(n, 12))]
    return pd.DataFrame({"review": [" ".join(w) for w in words],
                         "stars": rng.integers(1, 6, size=n)})


def percentiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"p50 {statistics.median(ms):6.2f} ms   p95 {q[18]:6.2f} ms   (n={len(ms)})"


def timed(fn: Callable[[], object], into: list[float]) -> object:
    start = time.perf_counter()
    got = fn()
    into.append((time.perf_counter() - start) * 1000)
    return got


def service_level(db_url: str, home: Path, frame: pd.DataFrame, rounds: int) -> None:
    settings = Settings(home=home, database_url=db_url)
    home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    upgrade(db)
    events = EventLog(db)
    datasets = DatasetService(db, events, ArtifactStore(settings.artifacts_url,
                                                        tmp_dir=settings.tmp_dir), settings)
    path = home / "reviews.parquet"
    frame.to_parquet(path, index=False)
    datasets.ingest("reviews", [(path.name, path)])
    svc = LabelingService(db, events, datasets)
    start = time.perf_counter()
    svc.create(LabelingSpec("bench", "reviews", "text_classification", ["pos", "neg"],
                            column="review", annotators_per_item=3), "bench")
    print(f"  create ({len(frame):,} items): {time.perf_counter() - start:.2f} s")
    people = [Principal(f"ann-{i}", "annotator") for i in range(ANNOTATORS)]
    fetch: list[float] = []
    submit: list[float] = []
    for r in range(rounds):
        for who in people:
            view = timed(lambda who=who: svc.next("bench", who), fetch)
            item = view.assignment.item  # type: ignore[attr-defined]
            label = "pos" if r % 3 else "neg"
            timed(lambda who=who, item=item, label=label:
                  svc.answer("bench", item, who, {"label": label}), submit)
    print(f"  fetch  {percentiles(fetch[ANNOTATORS:])}")  # the first reads the table once
    print(f"  submit {percentiles(submit)}")
    print(f"  first fetch (reads the version's table): {fetch[0]:.0f} ms")
    start = time.perf_counter()
    svc.status("bench")
    print(f"  status after {len(submit):,} answers: {(time.perf_counter() - start) * 1000:.0f} ms")
    db.dispose()


def over_http(home: Path, frame: pd.DataFrame, rounds: int) -> None:
    with LocalServer.start(home) as srv:
        admin = srv.client()
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        admin.post("/api/v1/datasets", data={"name": "reviews"},
                   files={"file": ("reviews.parquet", buf.getvalue())}).raise_for_status()
        start = time.perf_counter()
        admin.post("/api/v1/labeling-jobs", json={
            "name": "bench", "dataset": "reviews", "task": "text_classification",
            "labels": ["pos", "neg"], "column": "review", "annotators_per_item": 3,
        }).raise_for_status()
        print(f"  create ({len(frame):,} items): {time.perf_counter() - start:.2f} s")
        clients = []
        for i in range(ANNOTATORS):
            r = admin.post("/api/v1/tokens", json={"name": f"ann-{i}", "role": "annotator"})
            clients.append(httpx.Client(base_url=srv.url, timeout=60, headers={
                "Authorization": f"Bearer {r.json()['token']}"}))
        fetch: list[float] = []
        submit: list[float] = []
        for _ in range(rounds):
            for c in clients:
                got = timed(lambda c=c: c.get("/api/v1/labeling-jobs/bench/next"), fetch)
                item = got.json()["item"]["item"]  # type: ignore[attr-defined]
                timed(lambda c=c, item=item: c.post(
                    f"/api/v1/labeling-jobs/bench/items/{item}/answers",
                    json={"label": "pos"}).raise_for_status(), submit)
        for c in clients:
            c.close()
        print(f"  fetch  {percentiles(fetch[ANNOTATORS:])}")
        print(f"  submit {percentiles(submit)}")


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    frame = reviews(items)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Service level, SQLite file, {items:,} items, {ANNOTATORS} annotators:")
        service_level(f"sqlite:///{Path(tmp) / 'sqlite.db'}", Path(tmp) / "sqlite", frame,
                      rounds)
        pg = os.environ.get("SHIPYARD_BENCH_PG")
        if pg:
            with fresh_postgres_database("shipyard_bench", admin_url=pg) as url:
                print(f"Service level, PostgreSQL, {items:,} items, {ANNOTATORS} annotators:")
                service_level(url, Path(tmp) / "pg", frame, rounds)
        print(f"Over HTTP (a real server, SQLite), {items:,} items:")
        over_http(Path(tmp) / "http", frame, rounds)


if __name__ == "__main__":
    main()
