"""Error handlers: every error leaves as ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shipyard.errors import HTTP_STATUS, ShipyardError

log = logging.getLogger("shipyard.api")

_HTTP_CODES = {v: k for k, v in reversed(list(HTTP_STATUS.items()))}


def install(app: FastAPI) -> None:
    @app.exception_handler(ShipyardError)
    async def _shipyard(_: Request, exc: ShipyardError) -> JSONResponse:
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
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "invalid_request")
        if exc.status_code == 404:
            code, msg = "not_found", "No such route; see /api/v1/openapi.json for the API."
        elif exc.status_code == 405:
            code, msg = "invalid_request", "This method is not allowed on this route."
        else:
            msg = str(exc.detail)
        return JSONResponse({"error": {"code": code, "message": msg}},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            {"error": {"code": "internal", "message": f"Internal error: {type(exc).__name__}."}},
            status_code=500,
        )
