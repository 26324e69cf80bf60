"""`shipyard datasets …` as a real subprocess against a real server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from shipyard.testing import LocalServer

from .helpers import Run, ok, ok_json, one_sentence_error


def _csv(path: Path, rows: list[tuple[str, int]]) -> Path:
    path.write_text("region,amount\n" + "".join(f"{r},{a}\n" for r, a in rows))
    return path


def test_create_from_file_then_inspect_and_delete(cli: Run, server: LocalServer,
                                                  tmp_path: Path) -> None:
    f = _csv(tmp_path / "sales.csv", [("north", 10), ("south", 20), ("east", 30)])
    doc = ok_json(cli("datasets", "create", "sales", "--file", str(f), "--description", "Q1 sales",
                      "--type", "amount=float64", "--json"))
    assert doc["version"] == 1 and doc["num_rows"] == 3

    human = ok(cli("datasets", "list")).stdout
    assert "sales" in human
    listed = ok_json(cli("datasets", "list", "--json"))
    assert "sales" in [d["name"] for d in listed]

    shown = ok(cli("datasets", "show", "sales")).stdout
    assert "Schema" in shown and "region" in shown and "amount" in shown and "3 rows" in shown
    shown_json = ok_json(cli("datasets", "show", "sales", "--json"))
    assert shown_json["name"] == "sales" and shown_json["description"] == "Q1 sales"
    dtypes = {c["name"]: c["dtype"] for c in shown_json["latest"]["schema"]}
    assert dtypes["amount"].startswith("float") or dtypes["amount"] == "double"

    head = ok_json(cli("datasets", "head", "sales", "-n", "2", "--json"))
    assert head["columns"] == ["region", "amount"]
    assert [row[0] for row in head["data"]] == ["north", "south"]
    assert "south" in ok(cli("datasets", "head", "sales")).stdout

    more = _csv(tmp_path / "more.csv", [("west", 40)])
    appended = ok(cli("datasets", "append", "sales", "--file", str(more)))
    assert "version 2" in appended.stdout and "4 rows" in appended.stdout
    versions = ok_json(cli("datasets", "versions", "sales", "--json"))
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["num_rows"] for v in versions] == [3, 4]
    assert "4" in ok(cli("datasets", "versions", "sales")).stdout

    out_csv = tmp_path / "out.csv"
    ok(cli("datasets", "download", "sales", "--output", str(out_csv), "--version", "1"))
    assert pd.read_csv(out_csv)["amount"].tolist() == [10.0, 20.0, 30.0]
    out_pq = tmp_path / "out.parquet"
    got = ok_json(cli("datasets", "download", "sales", "-o", str(out_pq), "--json"))
    assert got["format"] == "parquet" and got["bytes"] == out_pq.stat().st_size
    assert pd.read_parquet(out_pq)["region"].tolist() == ["north", "south", "east", "west"]

    refused = one_sentence_error(cli("datasets", "delete", "sales"))
    assert "--yes" in refused
    assert ok_json(cli("datasets", "delete", "sales", "--yes", "--json")) == {
        "kind": "dataset", "name": "sales", "status": "Deleted", "forced": False,
        "deleted": {"versions": 2}}
    with server.client() as admin:
        assert admin.get("/api/v1/datasets/sales").status_code == 404


def test_create_from_a_glob_of_two_csvs(cli: Run, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    _csv(parts / "a.csv", [("north", 1), ("south", 2)])
    _csv(parts / "b.csv", [("east", 3)])
    (parts / "notes.txt").write_text("not data")
    r = ok(cli("datasets", "create", "globbed", "--path", str(parts / "*.csv")))
    assert "3 rows" in r.stdout
    head = ok_json(cli("datasets", "head", "globbed", "--json"))
    assert sorted(row[1] for row in head["data"]) == [1, 2, 3]
    # A folder means every supported file in it.
    folder = ok_json(cli("datasets", "create", "foldered", "--path", str(parts), "--json"))
    assert folder["num_rows"] == 3


def test_create_from_sql_on_a_real_sqlite_file(cli: Run, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, customer TEXT, total REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)",
                         [(1, "ann", 9.5), (2, "bob", 20.0), (3, "cy", 31.25)])
    query = "SELECT id, customer, total FROM orders WHERE total > 10 ORDER BY id"
    doc = ok_json(cli("datasets", "create", "orders", "--sql", query, "--db", f"sqlite:///{db}",
                      "--json"))
    assert doc["num_rows"] == 2
    head = ok_json(cli("datasets", "head", "orders", "--json"))
    assert head["columns"] == ["id", "customer", "total"]
    assert head["data"] == [[2, "bob", 20.0], [3, "cy", 31.25]]
    source = ok_json(cli("datasets", "versions", "orders", "--json"))[0]["source"]
    assert source["type"] == "sql" and source["query"] == query

    bad = one_sentence_error(cli("datasets", "create", "broken", "--sql", "SELECT * FROM nope",
                                 "--db", f"sqlite:///{db}"))
    assert "query failed" in bad and "nope" in bad
    missing_db = one_sentence_error(cli("datasets", "create", "x", "--sql", "SELECT 1"))
    assert "--db" in missing_db


def test_user_mistakes_are_one_sentence(cli: Run, tmp_path: Path) -> None:
    unknown = one_sentence_error(cli("datasets", "head", "no-such-dataset"))
    assert "no-such-dataset" in unknown
    none_given = one_sentence_error(cli("datasets", "create", "x"))
    assert "--file" in none_given
    no_file = one_sentence_error(
        cli("datasets", "create", "x", "--file", str(tmp_path / "nope.csv")))
    assert "nope.csv" in no_file
    no_match = one_sentence_error(
        cli("datasets", "create", "x", "--path", str(tmp_path / "*.csv")))
    assert "No files match" in no_match
    bad_type = one_sentence_error(
        cli("datasets", "create", "x", "--file", str(tmp_path), "--type", "oops"))
    assert "COLUMN=TYPE" in bad_type or "KEY=VALUE" in bad_type
