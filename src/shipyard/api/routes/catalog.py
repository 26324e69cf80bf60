"""The data catalog: register locations (admin), crawl them, list their tables."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api.schemas import (
    CrawledLocation,
    Deleted,
    Location,
    LocationDetail,
    Table,
    TableDetail,
    deleted,
)
from shipyard.catalog import location_to_dict, table_to_dict
from shipyard.tokens import Principal

router = APIRouter(prefix="/catalog", tags=["catalog"])


class NewLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    #: An absolute folder path on the server, or an fsspec URL (``s3://bucket/prefix``).
    path: str = Field(max_length=4096)
    description: str | None = Field(default=None, max_length=10_000)


@router.post("/locations", status_code=201, response_model=LocationDetail, **permit("admin"))
async def create_location(body: NewLocation, svc: Services = Depends(services),
                       who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Register a data folder or URL and crawl it (admin: the server opens this path)."""
    rec = await anyio.to_thread.run_sync(lambda: svc.catalog.create_location(
        body.name, body.path, description=body.description, actor=who.name))
    return location_to_dict(rec, svc.catalog.tables(rec.name))


@router.get("/locations", response_model=list[Location], **permit("read"))
def list_locations(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [location_to_dict(rec) for rec in svc.catalog.locations()]


@router.get("/locations/{name}", response_model=LocationDetail, **permit("read"))
def get_location(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return location_to_dict(svc.catalog.location(name), svc.catalog.tables(name))


@router.post("/locations/{name}/crawl", response_model=CrawledLocation, **permit("write"))
async def crawl_location(name: str, svc: Services = Depends(services),
                         who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Crawl a location again; the answer says which tables are new, gone or changed."""
    summary = await anyio.to_thread.run_sync(lambda: svc.catalog.crawl(name, who.name))
    return {**location_to_dict(svc.catalog.location(name), svc.catalog.tables(name)),
            "changes": summary}


@router.delete("/locations/{name}", response_model=Deleted, **permit("admin"))
def delete_location(name: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> Deleted:
    """Forget a location and its tables; its files are not touched."""
    return deleted("location", name, tables=svc.catalog.delete_location(name, who.name))


@router.get("/tables", response_model=list[Table], **permit("read"))
def list_tables(location: str | None = None,
                svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """Every catalog table (or one location's), with its columns but not its file list."""
    return [table_to_dict(t, files=False) for t in svc.catalog.tables(location)]


@router.get("/tables/{location}/{name}", response_model=TableDetail, **permit("read"))
def get_table(location: str, name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return table_to_dict(svc.catalog.table(location, name))
