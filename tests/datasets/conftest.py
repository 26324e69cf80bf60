"""Helpers for the dataset tests: uploads through the real API, and the object store's files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shipyard.testing import LocalServer

from .helpers import Upload


@pytest.fixture(scope="module")
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def objects(server: LocalServer) -> Callable[[], set[str]]:
    """The files in the artifact store's content-addressed folder, right now."""
    root = server.home / "artifacts" / "objects"

    def listing() -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    return listing


def _fields(fields: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()
            if v is not None}


@pytest.fixture(scope="module")
def upload(client: httpx.Client) -> Upload:
    """POST files (``[(filename, bytes)]``) to create ``name`` (or append, with ``append=True``)."""

    def post(name: str, files: list[tuple[str, bytes]], *, append: bool = False,
             headers: dict[str, str] | None = None, via: httpx.Client | None = None,
             **fields: Any) -> httpx.Response:
        parts = [("file", (fn, data)) for fn, data in files]
        c = via or client
        if append:
            return c.post(f"/api/v1/datasets/{name}/versions", data=_fields(fields),
                          files=parts, headers=headers)
        return c.post("/api/v1/datasets", data=_fields({"name": name, **fields}), files=parts,
                      headers=headers)

    return post

