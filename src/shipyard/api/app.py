"""The control plane's FastAPI application."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shipyard import __version__
from shipyard.api import _errors
from shipyard.api._auth import AuthMiddleware
from shipyard.api._context import Services
from shipyard.api._invoke import InvocationPath
from shipyard.api.routes import (
    algorithms,
    catalog,
    datasets,
    endpoints,
    experiments,
    jobs,
    models,
    monitors,
    schedules,
    sql,
    system,
    tokens,
)
from shipyard.endpoints import AutoDeployer, Forwarder
from shipyard.settings import Settings

log = logging.getLogger("shipyard.server")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; stores are opened and supervisors started in its lifespan."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services.build(settings)
        app.state.services = svc
        if svc.tokens.bootstrap(settings.credentials_path, settings.url):
            log.warning("created the admin token in %s", settings.credentials_path)
        svc.supervisor.start()
        svc.dispatcher.subscribe("model_version.status_changed",
                                 AutoDeployer(svc.registry, svc.endpoints))
        svc.dispatcher.subscribe("job.status_changed", svc.monitors.on_job_event)
        svc.dispatcher.start()
        svc.endpoint_supervisor.start()
        svc.scheduler.start()
        app.state.forwarder = Forwarder()
        _write_server_info(settings)
        try:
            yield
        finally:
            await app.state.forwarder.aclose()
            svc.scheduler.stop()
            svc.endpoint_supervisor.stop()
            svc.dispatcher.stop()
            svc.supervisor.stop()
            settings.server_info_path.unlink(missing_ok=True)
            svc.db.dispose()

    app = FastAPI(
        title="Shipyard",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    _errors.install(app)
    app.include_router(system.router)
    app.include_router(tokens.router, prefix="/api/v1")
    app.include_router(datasets.router, prefix="/api/v1")
    app.include_router(jobs.router, prefix="/api/v1")
    app.include_router(experiments.router, prefix="/api/v1")
    app.include_router(models.router, prefix="/api/v1")
    app.include_router(algorithms.router, prefix="/api/v1")
    app.include_router(endpoints.router, prefix="/api/v1")
    app.include_router(schedules.router, prefix="/api/v1")
    app.include_router(catalog.router, prefix="/api/v1")
    app.include_router(sql.router, prefix="/api/v1")
    app.include_router(monitors.router, prefix="/api/v1")
    app.add_middleware(
        AuthMiddleware,
        tokens=lambda: app.state.services.tokens,
        max_body=lambda: settings.max_upload_bytes,
        invocations=InvocationPath(lambda: app.state.services, lambda: app.state.forwarder),
    )
    return app


def _write_server_info(settings: Settings) -> None:
    info = {"url": settings.url, "pid": os.getpid(), "version": __version__}
    tmp = settings.server_info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, settings.server_info_path)
