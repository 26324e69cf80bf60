"""``sy.Dataset`` against a real server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import shipyard as sy
from shipyard.client import SQL
from shipyard.client._sources import mask_password
from shipyard.errors import Forbidden, InvalidRequest, NotFound
from shipyard.testing import LocalServer


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "customer": ["ann", "bob", "cy", "dee", None],
        "age": [31, 45, 27, 52, 38],
        "spend": [12.5, np.nan, 3.25, 99.0, 7.0],
        "churned": [False, True, False, True, False],
    })


def _normalised(df: pd.DataFrame) -> pd.DataFrame:
    # Strings may come back as object or pandas' string dtype; compare values, not storage.
    return df.astype({c: object for c in df.columns if df[c].dtype.kind in "OUT"
                      or str(df[c].dtype) in ("string", "str")}).reset_index(drop=True)


def test_create_from_a_dataframe_round_trips(sdk: sy.Client, frame: pd.DataFrame) -> None:
    ds = sy.Dataset.create("customers", frame, description="five customers")
    assert (ds.name, ds.version, ds.num_rows, ds.num_columns) == ("customers", 1, 5, 4)
    back = ds.to_pandas()
    pd.testing.assert_frame_equal(_normalised(back), _normalised(frame), check_dtype=False)

    schema = ds.schema
    assert list(schema["name"]) == list(frame.columns)
    assert {"name", "dtype", "semantic_type"} <= set(schema.columns)

    assert list(ds.head(2)["customer"]) == ["ann", "bob"]
    assert "customers" in repr(ds) and "5 rows" in repr(ds)
    html = ds._repr_html_()
    assert "customers" in html and "spend" in html and "<table" in html

    loaded = sy.Dataset("customers")
    assert loaded.version == 1 and sy.Dataset.get("customers").description == "five customers"
    assert "customers" in set(sy.Dataset.list()["name"])


def test_append_and_versions(sdk: sy.Client, frame: pd.DataFrame) -> None:
    ds = sy.Dataset.create("grow", frame.iloc[:3])
    ds.append(frame.iloc[3:])
    assert ds.version == 2 and ds.num_rows == 5
    versions = ds.versions()
    assert list(versions["version"]) == [1, 2] and list(versions["num_rows"]) == [3, 5]
    assert len(ds.to_pandas(version=1)) == 3
    same = sy.Dataset.create("grow", frame.iloc[:1], append=True)
    assert same.version == 3


def test_create_from_a_glob_and_a_folder(sdk: sy.Client, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,a\n2,b\n")
    (tmp_path / "b.csv").write_text("x,y\n3,c\n")
    ds = sy.Dataset.create("globbed", str(tmp_path / "*.csv"))
    assert ds.num_rows == 3
    assert sorted(ds.to_pandas()["x"]) == [1, 2, 3]
    assert sy.Dataset.create("from-folder", tmp_path).num_rows == 3
    assert sy.Dataset.create("from-list", [tmp_path / "b.csv"]).num_rows == 1


def test_create_from_sql(sdk: sy.Client, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, total REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 5.0), (2, 15.0), (3, 25.0)])
    query = "SELECT id, total FROM orders WHERE total > 10"
    ds = sy.Dataset.create("orders", query, db=f"sqlite:///{db}")
    assert ds.num_rows == 2 and list(ds.to_pandas()["id"]) == [2, 3]
    source = ds.versions()["source"].iloc[0]
    assert source["type"] == "sql" and source["query"] == query
    assert source["db"] == f"sqlite:///{db}"

    again = sy.Dataset.create("orders2", SQL("SELECT * FROM orders", f"sqlite:///{db}"))
    assert again.num_rows == 3
    with pytest.raises(InvalidRequest, match="needs the database"):
        sy.Dataset.create("orders3", "SELECT 1")
    with pytest.raises(InvalidRequest, match="query failed"):
        sy.Dataset.create("orders3", "SELECT * FROM missing", db=f"sqlite:///{db}")


def test_passwords_are_masked_in_lineage() -> None:
    masked = mask_password("postgresql://etl:s3cret@db.example/sales")
    assert "s3cret" not in masked and masked == "postgresql://etl:***@db.example/sales"
    assert "s3cret" not in repr(SQL("SELECT 1", "postgresql://etl:s3cret@h/db"))


def test_errors_are_typed(sdk: sy.Client, server: LocalServer, viewer_token: str,
                          frame: pd.DataFrame) -> None:
    with pytest.raises(NotFound, match="no-such"):
        sy.Dataset("no-such")
    doomed = sy.Dataset.create("doomed", frame)
    doomed.delete()
    with pytest.raises(NotFound):
        sy.Dataset.get("doomed")
    with sy.connect(url=server.url, token=viewer_token, set_default=False) as viewer:
        with pytest.raises(Forbidden, match="viewer"):
            sy.Dataset.create("nope", frame, client=viewer)
        assert set(sy.Dataset.list(client=viewer)["name"]) == set(sy.Dataset.list()["name"])
    with pytest.raises(InvalidRequest, match="Cannot make a dataset"):
        sy.Dataset.create("x", 42)


def test_from_images_makes_a_files_dataset_and_appends(sdk: sy.Client, tmp_path: Path) -> None:
    from shipyard.testing.images import digits_folder

    folder = digits_folder(tmp_path / "digits", limit=6)
    (folder / "README.txt").write_text("not an image")
    seen: list[tuple[int, int]] = []
    ds = sy.Dataset.from_images("sdk-digits", folder, description="six digits",
                                progress=lambda sent, total: seen.append((sent, total)))
    assert ds.skipped == ["README.txt"]
    assert seen and seen[-1][0] == seen[-1][1] > 0
    head = ds.head(10)
    assert len(head) == 6 and {"path", "sha256", "width", "height"} <= set(head.columns)
    assert (head["width"] == 32).all() and (head["height"] == 32).all()
    digits_folder(tmp_path / "more" / "batch-2", limit=2)  # paths under batch-2/: new ones
    grown = sy.Dataset.from_images("sdk-digits", tmp_path / "more", append=True).head(100)
    assert len(grown) == 8 and grown["path"].str.startswith("batch-2/").sum() == 2
    with pytest.raises(InvalidRequest, match="is not a folder"):
        sy.Dataset.from_images("sdk-none", tmp_path / "digits" / "README.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequest, match="No image files"):
        sy.Dataset.from_images("sdk-none", tmp_path / "empty")


def test_sql_integers_with_nulls_stay_exact(sdk: sy.Client, tmp_path: Path) -> None:
    # pandas' read_sql made an integer column with a NULL float64, rounding ids past 2**53.
    db = tmp_path / "ids.db"
    big = 2**53 + 1
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, parent INTEGER, score REAL)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)",
                         [(1, big, 0.5), (2, None, None), (3, 7, 1.0)])
    ds = sy.Dataset.create("exact-ids", "SELECT * FROM t ORDER BY id", db=f"sqlite:///{db}")
    dtypes = dict(zip(ds.schema["name"], ds.schema["dtype"], strict=True))
    assert dtypes == {"id": "int64", "parent": "int64", "score": "double"}
    ds.download(tmp_path / "back.parquet")
    back = pq.read_table(tmp_path / "back.parquet").to_pydict()
    assert back["parent"] == [big, None, 7] and back["score"] == [0.5, None, 1.0]


def test_a_dataframe_column_of_mixed_types_is_one_sentence(sdk: sy.Client) -> None:
    # pyarrow's ArrowInvalid reached the notebook as it was, naming no fix.
    mixed = pd.DataFrame({"code": [1, "two", 3.0], "x": [1, 2, 3]})
    with pytest.raises(InvalidRequest, match=r"Column 'code' of the DataFrame cannot be stored "
                                             r"as one column type \(Could not convert 'two'"):
        sy.Dataset.create("mixed-types", mixed)
    with pytest.raises(NotFound):
        sy.Dataset.get("mixed-types")
    fixed = sy.Dataset.create("mixed-types", mixed.astype({"code": str}))
    assert list(fixed.to_pandas()["code"]) == ["1", "two", "3.0"]
