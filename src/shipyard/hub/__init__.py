"""The hub: pre-trained models available offline from installed packages (see _catalog)."""

from __future__ import annotations

from shipyard.hub._catalog import (
    CATALOG,
    DEFAULT_TEXT_MODEL,
    HubModel,
    get_model,
    model_dir,
)

__all__ = ["CATALOG", "DEFAULT_TEXT_MODEL", "HubModel", "get_model", "model_dir"]
