"""A local Ray instance for tests: one per test session, shared by every server.

Servers started with ``SHIPYARD_EXECUTOR=ray`` and ``SHIPYARD_RAY_ADDRESS=<address>``
run their jobs as actors on it; the test process stays connected as a driver, so it
can kill a job's actor (a lost worker) by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable


def ray_available() -> str | None:
    """Why a local Ray instance cannot start here, or None when it can."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install 'shipyard[ray]')"
    return None


def start_ray(num_cpus: int = 2) -> tuple[str, Callable[[], None]]:
    """Start a local Ray instance with this process as its driver.

    Returns:
        Its GCS address (for ``SHIPYARD_RAY_ADDRESS``) and the function that stops it.

    Raises:
        RuntimeError: Ray is not installed (the message says how to install it).
    """
    reason = ray_available()
    if reason:
        raise RuntimeError(reason)
    import ray

    from shipyard.jobs._executors._ray import NAMESPACE

    ray.init(num_cpus=num_cpus, include_dashboard=False, namespace=NAMESPACE,
             log_to_driver=False, logging_level=logging.WARNING)
    return str(ray.get_runtime_context().gcs_address), ray.shutdown
