"""The control plane's FastAPI application.

Its lifespan opens the stores, then joins the leader election
(``shipyard.store.Election``): the leader runs the supervisors, schedules and event
subscribers (``_leadership.Duties``); every control plane serves the API. With
SQLite, or a PostgreSQL database no other control plane uses, the one server is
the leader from its first second.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import FastAPI

from shipyard import __version__
from shipyard.api import _docs, _document, _errors, _session
from shipyard.api._auth import OPEN_PATHS, AuthMiddleware
from shipyard.api._body import BodyGuard, RouteLimits
from shipyard.api._context import Services
from shipyard.api._invoke import InvocationPath
from shipyard.api._leadership import Duties, FollowerMiddleware, LeaderProxy, reap_orphans
from shipyard.api.routes import (
    algorithms,
    catalog,
    datasets,
    endpoints,
    experiments,
    hub,
    jobs,
    labeling,
    lineage,
    models,
    monitors,
    pipeline_triggers,
    pipelines,
    schedules,
    sql,
    system,
    tokens,
)
from shipyard.endpoints import Forwarder
from shipyard.serving import DEFAULT_MAX_BODY_BYTES
from shipyard.settings import Settings
from shipyard.store import Election, leader_lock
from shipyard.studio import LoginLinks, StudioGate

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.server import HomeLock

log = logging.getLogger("shipyard.server")


def create_app(settings: Settings | None = None, *, home_lock: HomeLock | None = None
               ) -> FastAPI:
    """Build the app; stores are opened and supervisors started in its lifespan.

    ``home_lock`` is the home's lock, held by the caller (``shipyard.server.serve``);
    only its holder writes ``server.json``.
    """
    settings = settings or Settings.from_env()
    proxy = LeaderProxy(lambda: getattr(app.state, "election", None))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services.build(settings)
        app.state.services = svc
        app.state.sessions = _session.Sessions(svc.tokens, settings)
        app.state.studio_sessions = _session.StudioSessions(svc.tokens, settings)
        if svc.tokens.bootstrap(settings.credentials_path, settings.url):
            log.warning("created the admin token in %s", settings.credentials_path)
        if home_lock is not None and home_lock.held:
            reap_orphans(svc)
        duties = Duties(svc)
        election = Election(leader_lock(svc.db, settings.public_url), duties.start,
                            duties.stop, settings.leader_poll_seconds)
        await anyio.to_thread.run_sync(election.start)
        app.state.election = election
        app.state.forwarder = Forwarder()
        if home_lock is not None and home_lock.held:
            _write_server_info(settings)
        try:
            yield
        finally:
            await app.state.forwarder.aclose()
            await proxy.aclose()
            await anyio.to_thread.run_sync(election.stop)
            if home_lock is not None and home_lock.held:
                # Here, not after uvicorn returns: it re-raises SIGTERM once shut down.
                settings.server_info_path.unlink(missing_ok=True)
                settings.pid_path.unlink(missing_ok=True)
            svc.db.dispose()

    app = FastAPI(
        title="Shipyard",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served offline, behind sign-in, by _docs.router
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_document.operation_id,
    )
    _errors.install(app)
    app.include_router(system.router)
    app.include_router(_session.router)
    app.include_router(_docs.router)
    app.include_router(tokens.router, prefix="/api/v1")
    app.include_router(datasets.router, prefix="/api/v1")
    app.include_router(jobs.router, prefix="/api/v1")
    app.include_router(experiments.router, prefix="/api/v1")
    app.include_router(models.router, prefix="/api/v1")
    app.include_router(algorithms.router, prefix="/api/v1")
    app.include_router(hub.router, prefix="/api/v1")
    app.include_router(endpoints.router, prefix="/api/v1")
    app.include_router(schedules.router, prefix="/api/v1")
    app.include_router(catalog.router, prefix="/api/v1")
    app.include_router(sql.router, prefix="/api/v1")
    app.include_router(monitors.router, prefix="/api/v1")
    app.include_router(pipelines.router, prefix="/api/v1")
    app.include_router(lineage.router, prefix="/api/v1")
    app.include_router(pipeline_triggers.router, prefix="/api/v1")
    app.include_router(labeling.router, prefix="/api/v1")
    # Imported here: the studio's page modules import this package's auth and context.
    from shipyard.studio import _pages as studio_pages

    studio_pages.include(app)
    app.state.studio_links = LoginLinks()
    _document.install(app, OPEN_PATHS)
    # Inner first: a follower forwards endpoint requests once auth and body checks passed.
    app.add_middleware(FollowerMiddleware, proxy=proxy)
    limits = RouteLimits(app.openapi, json_limit=settings.max_json_bytes,
                         upload_limit=settings.max_upload_bytes,
                         invocation_limit=DEFAULT_MAX_BODY_BYTES)
    app.add_middleware(
        AuthMiddleware,
        tokens=lambda: app.state.services.tokens,
        body=BodyGuard(limits, lambda: settings.body_timeout),
        invocations=InvocationPath(lambda: app.state.services, lambda: app.state.forwarder,
                                   proxy=proxy),
        sessions=lambda: getattr(app.state, "sessions", None),
        studio=StudioGate(settings, lambda: app.state.services.tokens,
                          lambda: getattr(app.state, "studio_sessions", None)),
    )
    app.state.route_limits = limits
    return app


def _write_server_info(settings: Settings) -> None:
    info = {"url": settings.url, "pid": os.getpid(), "version": __version__}
    tmp = settings.server_info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, settings.server_info_path)
