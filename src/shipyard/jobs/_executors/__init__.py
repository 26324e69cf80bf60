"""Executors: the protocol, the local executor, and the choice of one by setting.

``SHIPYARD_EXECUTOR`` names the executor (``local`` by default); each is a factory
registered here by name (:func:`register_executor`), so the Ray executor plugs in
the way job kinds do. See docs/architecture.md, "Executors".
"""

from __future__ import annotations

from collections.abc import Callable

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs._executors._local import LocalExecutor, LocalHandle
from shipyard.jobs._executors._protocol import EXIT_UNKNOWN, Executor, JobHandle, Usage
from shipyard.settings import Settings

Factory = Callable[[Settings, ArtifactStore], Executor]

__all__ = ["EXIT_UNKNOWN", "Executor", "ExecutorUnavailable", "JobHandle", "LocalExecutor",
           "LocalHandle", "Usage", "executor_names", "make_executor", "register_executor"]


class ExecutorUnavailable(ShipyardError):
    """The configured executor cannot run here (not built yet, or its extra is missing)."""

    code = "server_unavailable"


def _ray(settings: Settings, artifacts: ArtifactStore) -> Executor:
    """The Ray executor, imported only when chosen (Ray is the optional ``ray`` extra)."""
    from shipyard.jobs._executors._ray import RayExecutor

    return RayExecutor(settings, artifacts)


_FACTORIES: dict[str, Factory] = {"local": LocalExecutor, "ray": _ray}


def register_executor(name: str, factory: Factory) -> None:
    """Make ``SHIPYARD_EXECUTOR=<name>`` build its executor with ``factory``."""
    _FACTORIES[name] = factory


def executor_names() -> list[str]:
    return sorted(_FACTORIES)


def make_executor(settings: Settings, artifacts: ArtifactStore) -> Executor:
    """The executor ``settings.executor`` names.

    Raises:
        ShipyardError: an unknown name, or an executor that cannot run here; the message
            says which values work.
    """
    factory = _FACTORIES.get(settings.executor)
    if factory is None:
        raise ShipyardError(f"SHIPYARD_EXECUTOR must be one of {', '.join(executor_names())}; "
                            f"got {settings.executor!r}.")
    return factory(settings, artifacts)
