"""SQL: read-only DuckDB queries over catalog tables and datasets, answered or saved."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pyarrow as pa
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api.routes.datasets import IdempotencyKey
from shipyard.api.schemas import QueryAnswer, SavedQuery
from shipyard.datasets import version_to_dict
from shipyard.datasets._export import table_rows
from shipyard.errors import Forbidden
from shipyard.names import check_name
from shipyard.sandbox import QueryResult
from shipyard.tokens import Principal

router = APIRouter(tags=["sql"])

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=1_000_000)
    #: Rows to return at most (default 10,000); the answer says when there were more.
    limit: int | None = None
    #: Seconds before the query is stopped (default 120).
    timeout: float | None = None
    #: Save every row as a new version of this dataset instead of returning rows.
    save: str | None = Field(default=None, max_length=128)
    #: ``json`` (columns, types and rows) or ``arrow`` (an Arrow IPC stream).
    format: str = Field(default="json", pattern="^(json|arrow)$")


def _arrow(result: QueryResult) -> Response:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.table.schema) as writer:
        writer.write_table(result.table)
    return Response(content=sink.getvalue().to_pybytes(), media_type=ARROW_STREAM, headers={
        "X-Shipyard-Rows": str(result.num_rows),
        "X-Shipyard-Truncated": "true" if result.truncated else "false",
        "X-Shipyard-Seconds": f"{result.seconds:.3f}"})


@router.post("/sql", response_model=QueryAnswer | SavedQuery, responses={200: {
    "description": "Rows (format json), an Arrow IPC stream (format arrow), or the saved "
                   "version (save).",
    "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}}},
    **permit("read"))
async def query(body: Query, svc: Services = Depends(services),
                who: Principal = Depends(current_principal),
                idempotency_key: IdempotencyKey = None) -> Any:
    """Run one read-only query (SELECT, WITH, VALUES, DESCRIBE, SUMMARIZE).

    Names: ``datasets.<name>`` or ``datasets."<name>:<version>"``, ``<location>.<table>``,
    or a plain name (a dataset first, else a catalog table). With ``save`` (which needs
    permission to write) every row becomes a new version of that dataset; an
    ``Idempotency-Key`` makes that repeatable (a retry answers with the version the key
    made, without running the query again; the key with another query is a 409).
    """
    if body.save is not None:
        check_name(body.save, "dataset name")
        if not who.can("write"):
            raise Forbidden(f"Token {who.name!r} has role {who.role!r}, which may not save a "
                            "query as a dataset; ask for a token that may write.")
        rec = await anyio.to_thread.run_sync(lambda: svc.sql.save(
            body.query, str(body.save), actor=who.name, timeout=body.timeout,
            idempotency_key=idempotency_key))
        return {"saved": version_to_dict(rec), "num_rows": rec.num_rows}
    result = await anyio.to_thread.run_sync(lambda: svc.sql.query(
        body.query, max_rows=body.limit, timeout=body.timeout))
    if body.format == "arrow":
        return _arrow(result)
    table = result.table
    return {"columns": table.column_names, "types": [str(t) for t in table.schema.types],
            "data": table_rows(table), "num_rows": result.num_rows,
            "truncated": result.truncated, "seconds": round(result.seconds, 3)}
