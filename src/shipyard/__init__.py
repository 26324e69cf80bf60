"""Shipyard: a self-hosted platform for the whole machine-learning lifecycle.

In a notebook::

    import shipyard as sy
    sy.connect()
    ds = sy.Dataset.create("churn", df)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["SQL", "Client", "Dataset", "Job", "JobFailed", "__version__", "connect"]

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.client import SQL, Client, Dataset, Job, JobFailed, connect


def __getattr__(name: str) -> Any:
    # The SDK is imported lazily so `import shipyard` stays cheap inside jobs and servers.
    if name in ("SQL", "Client", "Dataset", "Job", "JobFailed", "connect"):
        from shipyard import client

        return getattr(client, name)
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
