"""Error handlers: every error leaves as ``{"error": {"code", "message"}}``.

A full disk is the server's condition, not the client's mistake nor a bug: an
``ENOSPC``/``EDQUOT`` anywhere in the chain of causes of what a request raised (an
``OSError``, SQLite's "database or disk is full", PostgreSQL's ``disk_full``, or a
``ShipyardError`` raised because of one) is answered 507 with the home it ran out
in, so an operator knows where to look.
"""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from shipyard.errors import HTTP_STATUS, DiskFull, InvalidRequest, ShipyardError
from shipyard.settings import Settings

log = logging.getLogger("shipyard.api")

_HTTP_CODES = {v: k for k, v in reversed(list(HTTP_STATUS.items()))}
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_FULL_WORDS = ("no space left on device", "disk quota exceeded", "database or disk is full")
#: PostgreSQL's SQLSTATE for disk_full.
_PG_DISK_FULL = "53100"


def disk_full(exc: BaseException) -> bool:
    """True when ``exc`` or anything that caused it says the disk (or quota) is full."""
    for e in _causes(exc):
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return True
        if getattr(e, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if any(w in str(e).lower() for w in _FULL_WORDS):
            return True
    return False


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``__cause__``, ``__context__``, a driver's ``orig``)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return seen


def nul_in_text(exc: BaseException) -> bool:
    """True when PostgreSQL refused a text value for holding NUL (a form field, a query)."""
    return any("cannot contain NUL" in str(e) for e in _causes(exc))


def _disk_full_answer(request: Request, exc: BaseException) -> JSONResponse:
    settings: Settings | None = getattr(
        getattr(request.app.state, "services", None), "settings", None)
    home = str(settings.home) if settings is not None else "unknown"
    log.error("the disk is full (home %s): %s: %s", home, type(exc).__name__, exc)
    err = DiskFull(f"The server's disk is full (home: {home}); nothing of this request was "
                   "kept. Free space there (or ask the operator to) and try again.")
    return JSONResponse(err.to_dict(), status_code=err.http_status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ShipyardError)
    async def _shipyard(request: Request, exc: ShipyardError) -> JSONResponse:
        if not isinstance(exc, DiskFull) and disk_full(exc):
            return _disk_full_answer(request, exc)
        if exc.http_status >= 500:
            log.error("internal error: %s", exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{loc or 'request'}: {err.get('msg')}")
        message = "Invalid request: " + "; ".join(problems) + "."
        return JSONResponse({"error": {"code": "invalid_request", "message": message}},
                            status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if disk_full(exc):  # e.g. spooling a multipart upload, wrapped by FastAPI as a 400
            return _disk_full_answer(request, exc)
        code = _HTTP_CODES.get(exc.status_code, "invalid_request")
        if exc.status_code == 404:
            code, msg = "not_found", "No such route; see /api/v1/openapi.json for the API."
        elif exc.status_code == 405:
            code, msg = "invalid_request", "This method is not allowed on this route."
        else:
            msg = str(exc.detail)
        return JSONResponse({"error": {"code": code, "message": msg}},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def _server_side(request: Request, exc: Exception) -> JSONResponse:
        """OS and database errors: a full disk (507) or a NUL PostgreSQL refused (400) are
        answered here, so the connection stays usable (the catch-all below re-raises, and
        uvicorn then closes it)."""
        if disk_full(exc):
            return _disk_full_answer(request, exc)
        if nul_in_text(exc):  # nothing was stored: the transaction rolled back
            err = InvalidRequest("A text value of this request holds a NUL character "
                                 "(\\u0000), which the database cannot store; remove it.")
            return JSONResponse(err.to_dict(), status_code=err.http_status)
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(
            {"error": {"code": "internal", "message": f"Internal error: {type(exc).__name__}."}},
            status_code=500,
        )

    app.add_exception_handler(OSError, _server_side)
    app.add_exception_handler(SQLAlchemyError, _server_side)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if disk_full(exc):
            return _disk_full_answer(request, exc)
        log.exception("unhandled error")
        return JSONResponse(
            {"error": {"code": "internal", "message": f"Internal error: {type(exc).__name__}."}},
            status_code=500,
        )
