"""The hub: pre-trained models available offline from installed packages (see _catalog)."""

from __future__ import annotations

from typing import Any

from shipyard.hub._catalog import (
    CATALOG,
    DEFAULT_TEXT_MODEL,
    HubModel,
    get_model,
    model_dir,
)

__all__ = ["CATALOG", "DEFAULT_TEXT_MODEL", "HubModel", "fine_tune", "get_model", "model_dir"]


def __getattr__(name: str) -> Any:
    # sy.hub.fine_tune is the SDK's (over HTTP); imported lazily so jobs and servers that
    # read the catalog never load the client.
    if name == "fine_tune":
        from shipyard.client._hub_finetune import fine_tune

        return fine_tune
    raise AttributeError(f"module 'shipyard.hub' has no attribute {name!r}")
