"""``sy.sql`` and ``sy.Catalog``: SQL over catalog tables and datasets, and the catalog itself.

::

    sy.Catalog.create("lake", "/srv/data/lake")     # admin: register and crawl a folder
    sy.Catalog.tables()                              # what the crawl found
    df = sy.sql("SELECT carrier, avg(arr_delay) FROM lake.flights GROUP BY 1")
    sy.sql("SELECT * FROM churn WHERE churn = 'Yes'", save="churners")  # a new version
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote

from shipyard.client._client import Client, default_client
from shipyard.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client._datasets import Dataset

TABLE_COLUMNS = ["ref", "location", "name", "format", "num_files", "num_rows", "size_bytes",
                 "partition_keys", "error"]


@overload
def sql(query: str, save: None = None, *, limit: int | None = None,
        timeout: float | None = None, client: Client | None = None) -> pd.DataFrame: ...
@overload
def sql(query: str, save: str, *, limit: int | None = None, timeout: float | None = None,
        client: Client | None = None, idempotency_key: str | None = None) -> Dataset: ...
def sql(query: str, save: str | None = None, *, limit: int | None = None,
        timeout: float | None = None, client: Client | None = None,
        idempotency_key: str | None = None) -> pd.DataFrame | Dataset:
    """Run a read-only DuckDB query on the server; return its rows as a DataFrame.

    Tables: ``datasets.<name>`` (or ``datasets."<name>:<version>"``), catalog tables
    as ``<location>.<table>``, or plain names (a dataset first, else a catalog table).
    At most ``limit`` rows come back (default 10,000); ``df.attrs["truncated"]`` is
    True when there were more.

    Args:
        save: store every row as a new version of this dataset instead, and return
            that :class:`Dataset`.
        timeout: seconds before the server stops the query (default 120).
        idempotency_key: with ``save``, saving again with this key returns the version it
            made, without running the query again.
    """
    import pyarrow as pa

    c = client or default_client()
    body: dict[str, Any] = {"query": query}
    if limit is not None:
        body["limit"] = limit
    if timeout is not None:
        body["timeout"] = timeout
    if save is not None:
        from shipyard.client._datasets import Dataset

        body["save"] = save
        c.post("/sql", body, headers={"Idempotency-Key": idempotency_key}
               if idempotency_key else None)
        return Dataset(save, client=c)
    body["format"] = "arrow"
    response = c.request("POST", "/sql", json=body)
    with pa.ipc.open_stream(response.content) as reader:
        table = reader.read_all()
    frame = table.to_pandas()
    frame.attrs["truncated"] = response.headers.get("X-Shipyard-Truncated") == "true"
    return frame


class Catalog:
    """The server's data catalog: registered locations and the tables crawled in them."""

    @staticmethod
    def create(name: str, path: str, *, description: str | None = None,
               client: Client | None = None) -> dict[str, Any]:
        """Register a folder on the server (an absolute path there) or an fsspec URL as
        location ``name``, and crawl it (needs an admin token); return the location."""
        body = {"name": name, "path": path, "description": description}
        return (client or default_client()).post("/catalog/locations",
                                                 {k: v for k, v in body.items() if v is not None})

    @staticmethod
    def crawl(name: str, *, client: Client | None = None) -> dict[str, Any]:
        """Crawl location ``name`` again; ``["changes"]`` lists added, removed and changed
        tables."""
        c = client or default_client()
        return c.post(f"/catalog/locations/{quote(name, safe='')}/crawl")

    @staticmethod
    def locations(*, client: Client | None = None) -> pd.DataFrame:
        import pandas as pd

        docs = (client or default_client()).get("/catalog/locations")
        columns = ["name", "url", "kind", "crawled_at", "created_by"]
        return pd.DataFrame([{k: d.get(k) for k in columns} for d in docs], columns=columns)

    @staticmethod
    def tables(location: str | None = None, *, client: Client | None = None) -> pd.DataFrame:
        """Catalog tables as a DataFrame (``columns`` holds each table's schema)."""
        import pandas as pd

        docs = (client or default_client()).get("/catalog/tables", location=location)
        columns = [*TABLE_COLUMNS, "columns"]
        return pd.DataFrame([{k: d.get(k) for k in columns} for d in docs], columns=columns)

    @staticmethod
    def table(ref: str, *, client: Client | None = None) -> dict[str, Any]:
        """One table, ``"location.table"``, with its columns and files."""
        location, _, name = ref.partition(".")
        path = f"/catalog/tables/{quote(location, safe='')}/{quote(name, safe='')}"
        return (client or default_client()).get(path)

    @staticmethod
    def delete(name: str, *, client: Client | None = None) -> dict[str, Any]:
        """Forget location ``name`` and its tables (admin); the files are not touched.

        Returns the API's DELETE answer: ``{"kind": "location", "name", "status": "Deleted",
        "forced": false, "deleted": {"tables": N}}``."""
        c = client or default_client()
        return c.delete(f"/catalog/locations/{quote(name, safe='')}")


def wrangle_spec(output: str, *, sql: str | None = None,
                 recipe: Mapping[str, Any] | None = None,
                 inputs: Mapping[str, Any] | None = None, target: str | None = None,
                 cpus: int | None = None, memory: str | int | None = None,
                 max_runtime: float | None = None, name: str | None = None,
                 retries: int = 0) -> dict[str, Any]:
    """The job spec of a wrangle job (kind ``wrangle``): a query or a recipe → ``output``."""
    from shipyard.client._training import add_limits, dataset_ref

    if (sql is None) == (recipe is None):
        raise InvalidRequest("A wrangle job runs either a SQL query (sql=...) or a feature "
                             "recipe (recipe=...); give exactly one.")
    spec: dict[str, Any] = {"kind": "wrangle", "outputs": [output],
                            "inputs": {ch: dataset_ref(ds) for ch, ds in (inputs or {}).items()}}
    if sql is not None:
        spec["sql"] = sql
    else:
        spec["recipe"] = dict(recipe or {})
        if target is not None:
            spec["target"] = target
    add_limits(spec, cpus=cpus, memory=memory, max_runtime=max_runtime)
    if name:
        spec["name"] = name
    if retries:
        spec["retries"] = retries
    return spec
