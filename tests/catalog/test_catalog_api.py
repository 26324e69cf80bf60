"""The catalog and SQL over a real server: locations, tables, queries, saves, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

import shipyard as sy
from shipyard.testing import LocalServer

from .conftest import CLI, upload_frame
from .data import SECRET, Lake, churn, flights


def sql(client: httpx.Client, query: str, **body: object) -> httpx.Response:
    return client.post("/api/v1/sql", json={"query": query, **body})


def test_registering_a_location_crawls_it(registered: dict, served_lake: Lake) -> None:
    assert registered["url"] == str(served_lake.root.resolve())
    assert registered["kind"] == "local"
    assert sorted(t["name"] for t in registered["tables"]) == ["carriers", "churn", "flights"]
    assert registered["crawl"]["added"] == ["carriers", "churn", "flights"]
    assert "files" not in registered["tables"][0]


def test_only_an_admin_registers_and_removes_locations(server: LocalServer, tmp_path: Path,
                                                       registered: dict) -> None:
    body = {"name": "mine", "path": str(tmp_path)}
    for role in ("data-scientist", "viewer"):
        r = server.client(role).post("/api/v1/catalog/locations", json=body)
        assert r.status_code == 403, r.text
        assert server.client(role).delete("/api/v1/catalog/locations/lake").status_code == 403
    assert server.client("viewer").get("/api/v1/catalog/tables").status_code == 200


@pytest.mark.parametrize(("path", "why"), [
    ("relative/data", "absolute path"), ("/no/such/place", "No folder"),
    ("{home}", "Shipyard's own folder"), ("{home}/artifacts", "Shipyard's own folder"),
])
def test_bad_locations_are_400(admin: httpx.Client, server: LocalServer, path: str,
                               why: str) -> None:
    r = admin.post("/api/v1/catalog/locations",
                   json={"name": "bad", "path": path.format(home=server.home)})
    assert r.status_code == 400, r.text
    assert why in r.json()["error"]["message"]


def test_tables_and_one_table(admin: httpx.Client, registered: dict) -> None:
    tables = {t["ref"]: t for t in admin.get("/api/v1/catalog/tables").json()}
    assert {"lake.flights", "lake.churn", "lake.carriers"} <= set(tables)
    one = admin.get("/api/v1/catalog/tables/lake/flights").json()
    assert one["num_rows"] == len(flights()) and one["partition_keys"] == ["year", "month"]
    assert len(one["files"]) == 3 and one["files"][0]["path"].startswith("flights/year=2013/")
    missing = admin.get("/api/v1/catalog/tables/lake/nope")
    assert missing.status_code == 404 and "has no table 'nope'" in missing.text


def test_sql_over_partitions_datasets_and_versions(admin: httpx.Client, registered: dict) -> None:
    r = sql(admin, "SELECT month, count(*) AS n FROM lake.flights GROUP BY 1 ORDER BY 1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["month", "n"] and not body["truncated"]
    assert [row[1] for row in body["data"]] == list(flights().groupby("month").size())
    by_contract = churn().groupby("contract").size().sort_index()
    for name in ("datasets.churn", "churn", 'datasets."churn:1"'):
        r = sql(admin, f"SELECT contract, count(*) AS n FROM {name} GROUP BY 1 ORDER BY 1")
        assert r.status_code == 200, (name, r.text)
        assert [row[1] for row in r.json()["data"]] == list(by_contract.values), name
    # The plain name `churn` is the dataset; the catalog's churn.csv is lake.churn.
    both = sql(admin, "SELECT (SELECT count(*) FROM churn) AS ds, "
                      "(SELECT count(*) FROM lake.churn) AS csv").json()
    assert both["data"] == [[len(churn()), len(churn())]]
    # A catalog table's plain name works when no dataset has it.
    assert sql(admin, "SELECT count(*) FROM carriers").json()["data"] == \
        [[flights()["carrier"].nunique()]]


def test_limit_truncates_and_arrow_keeps_types(admin: httpx.Client, registered: dict) -> None:
    r = sql(admin, "SELECT * FROM lake.flights", limit=50)
    assert r.json()["num_rows"] == 50 and r.json()["truncated"] is True
    r = sql(admin, "SELECT carrier, dep_delay FROM lake.flights", limit=10, format="arrow")
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert r.headers["X-Shipyard-Truncated"] == "true"
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.num_rows == 10 and pa.types.is_floating(table.schema.field("dep_delay").type)


@pytest.mark.parametrize("query", [
    "COPY (SELECT 1) TO '{lake}/out.csv'",
    "ATTACH '{lake}/x.db'",
    "INSTALL httpfs",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('{home}/credentials')",
    "SELECT * FROM read_csv('{home}/credentials')",
    "SELECT * FROM glob('{home}/**')",
    "SELECT * FROM read_parquet('{home}/artifacts/objects/*/*')",
    "SELECT * FROM read_csv('{lake}/leak.csv')",
    "SELECT * FROM read_csv('{lake}/../outside/secret.csv')",
])
def test_hostile_queries_are_400_and_leak_nothing(admin: httpx.Client, registered: dict,
                                                   server: LocalServer, served_lake: Lake,
                                                   query: str) -> None:
    r = sql(admin, query.format(lake=served_lake.root, home=server.home))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    token = server.admin_token
    assert SECRET not in r.text and token not in r.text
    assert not (served_lake.root / "out.csv").exists()


def test_files_inside_a_location_are_read_by_path_alone(admin: httpx.Client, registered: dict,
                                                        served_lake: Lake) -> None:
    """As docs/catalog.md says: no table of the location needs naming too."""
    root = served_lake.root
    r = sql(admin, f"SELECT count(*) AS n FROM read_csv('{root}/churn.csv')")
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [[len(churn())]]
    r = sql(admin, f"SELECT count(*) FROM glob('{root}/flights/**/*.parquet')")
    assert r.status_code == 200 and r.json()["data"] == [[3]], r.text
    r = sql(admin, f"SELECT count(*) FROM '{root}/carriers/carriers.jsonl'")
    assert r.json()["data"] == [[flights()["carrier"].nunique()]], r.text
    # A folded `..` that stays inside the location is inside.
    r = sql(admin, f"SELECT count(*) FROM read_csv('{root}/flights/../churn.csv')")
    assert r.status_code == 200 and r.json()["data"] == [[len(churn())]], r.text


@pytest.mark.parametrize("path", [
    "{lake}/leak.csv",                         # a symlink out of the location
    "{lake}/../outside/secret.csv",            # `..` out of it
    "{lake}/flights/../../outside/secret.csv",
    "{sibling}/other.csv",                     # a folder sharing the location's name prefix
    "{lake}/../lake2/other.csv",
])
def test_paths_out_of_a_location_are_refused_saying_why(admin: httpx.Client, registered: dict,
                                                        server: LocalServer, served_lake: Lake,
                                                        path: str) -> None:
    target = path.format(lake=served_lake.root, sibling=served_lake.sibling)
    for query in (f"SELECT * FROM read_csv('{target}')",
                  # Naming a table of the location too opens nothing more.
                  f"SELECT * FROM read_csv('{target}'), lake.carriers LIMIT 1"):
        r = sql(admin, query)
        assert r.status_code == 400, (query, r.text)
        message = r.json()["error"]["message"]
        assert "outside the registered catalog locations" in message, message
        assert SECRET not in r.text


def test_refused_statements_are_named_as_written(admin: httpx.Client) -> None:
    for query, name in (("INSTALL httpfs", "an INSTALL statement"),
                        ("FORCE INSTALL httpfs", "a FORCE INSTALL statement"),
                        ("LOAD httpfs", "a LOAD statement"),
                        ("CREATE OR REPLACE VIEW v AS SELECT 1", "a CREATE OR REPLACE VIEW"),
                        ("BEGIN TRANSACTION", "a BEGIN statement")):
        r = sql(admin, query)
        assert r.status_code == 400 and name in r.json()["error"]["message"], (query, r.text)


def test_unknown_tables_and_versions_say_what_exists(admin: httpx.Client,
                                                     registered: dict) -> None:
    # DuckDB answered "Did you mean "pg_attrdef"?" (its own system views), or that the
    # schema "datasets" did not exist for a version that does not.
    cases = {
        "SELECT * FROM flihgts": ("'flihgts', which is neither a dataset nor a catalog table: "
                                  "the closest name is 'flights'"),
        "SELECT * FROM lake.flihgts": ("catalog location 'lake' has no table 'flihgts'; the "
                                       "closest table is 'flights'"),
        "SELECT * FROM swamp.flights": "there is no catalog location 'swamp'",
        'SELECT * FROM datasets."churn:99"': "Dataset 'churn' has no version 99",
        "SELECT * FROM datasets.chrun": "No dataset named 'chrun'. Did you mean 'churn'?",
        "SELECT * FROM '/etc/passwd'": ("'/etc/passwd', which is not a file inside a "
                                        "registered catalog location"),
    }
    for query, expected in cases.items():
        r = sql(admin, query)
        assert r.status_code in (400, 404), (query, r.text)
        message = r.json()["error"]["message"]
        assert expected in message and "pg_" not in message, (query, message)
    r = admin.post("/api/v1/sql", json={"query": "SELECT * FROM flihgts", "save": "x"})
    assert "closest name is 'flights'" in r.json()["error"]["message"]
    # DuckDB's own views and a query's CTEs are still tables.
    assert sql(admin, "SELECT count(*) FROM information_schema.schemata").status_code == 200
    assert sql(admin, "WITH f AS (SELECT 1 AS a) SELECT * FROM f").json()["data"] == [[1]]


def test_save_makes_a_dataset_version_and_needs_write(server: LocalServer, admin: httpx.Client,
                                                      registered: dict) -> None:
    query = "SELECT carrier, count(*) AS n FROM lake.flights GROUP BY 1"
    viewer = server.client("viewer")
    assert sql(viewer, query).status_code == 200
    r = sql(viewer, query, save="per-carrier")
    assert r.status_code == 403 and "may not save" in r.json()["error"]["message"]
    first = sql(admin, query, save="per-carrier")
    assert first.status_code == 200, first.text
    saved = first.json()["saved"]
    assert saved["ref"] == "per-carrier:1" and saved["num_rows"] == flights()["carrier"].nunique()
    assert saved["source"]["type"] == "sql" and saved["source"]["query"] == query
    second = sql(admin, query + " HAVING count(*) > 1000", save="per-carrier").json()["saved"]
    assert second["version"] == 2 and second["num_rows"] < saved["num_rows"]
    empty = sql(admin, query + " HAVING false", save="per-carrier")
    assert empty.status_code == 400 and "no rows" in empty.text
    assert sql(admin, query, save="../etc").status_code == 400


def test_a_retried_save_with_an_idempotency_key_makes_one_version(
        admin: httpx.Client, registered: dict, cli: CLI) -> None:
    """A retry (same key, same query) answers with the version the first save made, even
    when the data changed since, and runs nothing; the key with another query is a 409."""
    upload_frame(admin, "tenure-src", churn().head(300))
    query = 'SELECT * FROM "tenure-src" WHERE tenure > 70'
    key = {"Idempotency-Key": "save-long-tenure-1"}
    body = {"query": query, "save": "long-tenure"}
    first = admin.post("/api/v1/sql", json=body, headers=key)
    assert first.status_code == 200, first.text
    saved = first.json()["saved"]
    assert saved["ref"] == "long-tenure:1"
    more = churn().head(50).to_csv(index=False).encode()  # the data changes
    r = admin.post("/api/v1/datasets/tenure-src/versions", files={"file": ("m.csv", more)})
    assert r.status_code == 201, r.text
    again = admin.post("/api/v1/sql", json=body, headers=key)
    assert again.status_code == 200, again.text
    assert again.json()["saved"] == saved
    other = admin.post("/api/v1/sql", json={**body, "query": query + " AND tenure < 72"},
                       headers=key)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["error"]["message"]
    assert [v["version"] for v in admin.get("/api/v1/datasets/long-tenure/versions").json()
            ] == [1]
    # Without a key, each save is a new version; the CLI sends its key the same way.
    args = ("sql", query, "--save", "long-tenure", "--idempotency-key", "cli-1", "--json")
    runs = [cli(*args), cli(*args)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert {json.loads(r.stdout)["saved"]["ref"] for r in runs} == {"long-tenure:2"}
    lone = cli("sql", "SELECT 1 AS one", "--idempotency-key", "k")
    assert lone.returncode != 0 and "add --save DATASET" in lone.stderr


def test_recrawl_and_remove(admin: httpx.Client, tmp_path: Path) -> None:
    root = tmp_path / "extra"
    root.mkdir()
    (root / "a.csv").write_text("x,y\n1,2\n")
    assert admin.post("/api/v1/catalog/locations",
                      json={"name": "extra", "path": str(root)}).status_code == 201
    (root / "b.csv").write_text("z\n3\n")
    r = admin.post("/api/v1/catalog/locations/extra/crawl")
    assert r.status_code == 200, r.text
    assert r.json()["changes"]["added"] == ["b"]
    assert sql(admin, "SELECT z FROM extra.b").json()["data"] == [[3]]
    assert admin.delete("/api/v1/catalog/locations/extra").json()["deleted"] == {"tables": 2}
    assert sql(admin, "SELECT * FROM extra.b").status_code == 400
    kinds = [e["kind"] for e in admin.get("/api/v1/events",
                                          params={"resource_id": "extra"}).json()]
    assert kinds == ["catalog.location_added", "catalog.crawled", "catalog.crawled",
                     "catalog.location_deleted"]


def test_sdk_sql_and_catalog(server: LocalServer, registered: dict) -> None:
    with sy.connect(url=server.url, token=server.token(), set_default=False) as client:
        frame = sy.sql("SELECT origin, avg(dep_delay) AS d FROM lake.flights GROUP BY 1 "
                       "ORDER BY 1", client=client)
        expected = flights().groupby("origin")["dep_delay"].mean()
        assert list(frame["origin"]) == list(expected.index)
        assert frame["d"].round(6).tolist() == expected.round(6).tolist()
        assert frame.attrs["truncated"] is False
        assert sy.sql("SELECT * FROM churn", limit=5, client=client).attrs["truncated"]
        ds = sy.sql("SELECT * FROM churn WHERE tenure > 60", save="loyal", client=client)
        assert ds.name == "loyal" and ds.doc["num_rows"] == int((churn()["tenure"] > 60).sum())
        tables = sy.Catalog.tables("lake", client=client)
        assert set(tables["name"]) == {"carriers", "churn", "flights"}
        assert sy.Catalog.table("lake.churn", client=client)["num_rows"] == len(churn())


@pytest.mark.slow
def test_cli_catalog_and_sql(cli: CLI, registered: dict, tmp_path: Path) -> None:
    root = tmp_path / "cli-lake"
    root.mkdir()
    (root / "numbers.csv").write_text("n\n1\n2\n3\n")
    added = cli("catalog", "create", str(root), "--name", "cli_lake")
    assert added.returncode == 0, added.stderr
    assert "Registered location 'cli_lake'" in added.stdout and "numbers" in added.stdout
    listed = cli("catalog", "tables", "--location", "cli_lake", "--json")
    assert [t["ref"] for t in json.loads(listed.stdout)] == ["cli_lake.numbers"]
    shown = cli("sql", "SELECT sum(n) AS total FROM cli_lake.numbers")
    assert shown.returncode == 0 and "total" in shown.stdout and "6" in shown.stdout
    assert "1 row in" in shown.stderr
    as_json = json.loads(cli("sql", "SELECT n FROM cli_lake.numbers", "--limit", "2",
                             "--json").stdout)
    assert as_json["data"] == [[1], [2]] and as_json["truncated"] is True
    saved = cli("sql", "SELECT n * 10 AS n FROM cli_lake.numbers", "--save", "tens")
    assert saved.returncode == 0 and "Saved 3 rows as tens:1." in saved.stdout
    refused = cli("sql", "COPY (SELECT 1) TO '/tmp/x.csv'")
    assert refused.returncode == 1 and "COPY statement, which is refused" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    denied = cli("catalog", "create", str(root), "--name", "again", role="data-scientist")
    assert denied.returncode == 1 and "may not admin" in denied.stderr
