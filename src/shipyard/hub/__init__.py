"""The hub: pre-trained models available offline from installed packages (see _catalog).

``sy.hub`` is this package: the catalog itself (:data:`CATALOG`, :func:`model_dir`, which
need no server), and :func:`list`, :func:`show` and :func:`deploy`, which ask the server
(the SDK's ``shipyard.client._hub``, imported when called so this package stays light in
jobs and serving instances).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.hub._catalog import (
    CATALOG,
    DEFAULT_TEXT_MODEL,
    HubModel,
    get_model,
    model_dir,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client import Endpoint


def list(**kwargs: Any) -> pd.DataFrame:  # noqa: A001 - sy.hub.list()
    """Every hub model on the server as a DataFrame (see shipyard.client._hub.list)."""
    from shipyard.client import _hub

    return _hub.list(**kwargs)


def show(name: str, **kwargs: Any) -> dict[str, Any]:
    """Hub model ``name``'s card from the server (``measure=True`` measures it first)."""
    from shipyard.client import _hub

    return _hub.show(name, **kwargs)


def deploy(name: str, endpoint: str, **kwargs: Any) -> Endpoint:
    """Serve hub model ``name`` as endpoint ``endpoint`` (``task``: embedding | similarity)."""
    from shipyard.client import _hub

    return _hub.deploy(name, endpoint, **kwargs)


__all__ = ["CATALOG", "DEFAULT_TEXT_MODEL", "HubModel", "deploy", "fine_tune", "get_model",
           "launch", "list", "model_dir", "show", "solutions"]


def __getattr__(name: str) -> Any:
    # sy.hub.fine_tune is the SDK's (over HTTP); imported lazily so jobs and servers that
    # read the catalog never load the client.
    if name == "fine_tune":
        from shipyard.client._hub_finetune import fine_tune

        return fine_tune
    if name in ("launch", "solutions"):
        from shipyard.client import _hub_solutions

        return getattr(_hub_solutions, name)
    raise AttributeError(f"module 'shipyard.hub' has no attribute {name!r}")
