"""The OpenAPI document: operation ids, the bearer scheme and the error answers.

FastAPI writes each route's success answer from its response model. What every route
shares is added here, once, from what the route declares, so a new route gets it
without saying so:

- ``operationId`` is ``<tag>_<function>`` (``datasets_list_datasets``), stable and short
  enough for a generated client's method names;
- every operation but the open ones (``/healthz``) needs the bearer token
  (``components.securitySchemes.bearer``);
- the errors a route can answer, each with the one error body
  ``{"error": {"code", "message"}}``: 401 without a valid token, 403 with a token whose
  role lacks the permission, 404 for a path that names a resource (or a route that
  declares it: a query that names one), 400/422 for bad
  input, 409 for a write that conflicts, 408/413 for a request body that is too slow or
  too big, and 507 when the server's disk is full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from shipyard.api.schemas import ErrorBody

#: What each error status means, as the document says it.
ERRORS = {
    400: "Bad input: the message says what is wrong and how to fix it.",
    401: "No valid bearer token.",
    403: "The token's role may not do this, or the resource is another user's.",
    404: "No such resource.",
    408: "The request body did not arrive in time.",
    409: "It conflicts with what is stored (a name taken, something still uses it, a state "
         "that does not allow it).",
    413: "The request body is larger than this route takes.",
    422: "The request does not match the route's parameters or body.",
    507: "The server's disk is full; nothing of the request was kept.",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def operation_id(route: APIRoute) -> str:
    """``<first tag>_<function name>``: unique because route names are unique per module."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def _errors(path: str, method: str, op: dict[str, Any]) -> list[int]:
    codes = [400, 422]
    if op.get("x-shipyard-permission"):
        codes += [401, 403]
    if "{" in path or "404" in op.get("responses", {}):  # a path or a query names one
        codes.append(404)
    if method in _WRITES:
        codes += [409, 507]
    if "requestBody" in op:
        codes += [408, 413]
    return sorted(codes)


def annotate(doc: dict[str, Any], open_paths: frozenset[str]) -> None:
    """Add the bearer scheme and the error answers to ``doc`` (in place)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    doc["components"]["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "A Shipyard token (the admin's is in $SHIPYARD_HOME/credentials)."}}
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            if path in open_paths:
                op["security"] = []
            else:
                op["security"] = [{"bearer": []}]
            for code in _errors(path, method, op):
                responses[str(code)] = {"description": ERRORS[code],
                                        "content": {"application/json": {"schema": ref}}}


def install(app: FastAPI, open_paths: frozenset[str]) -> Callable[[], dict[str, Any]]:
    """Make ``app.openapi`` build the annotated document (once); return it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            annotate(build(), open_paths)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
