"""The error hierarchy and the one table that maps error codes to HTTP statuses.

Every error Shipyard raises on purpose is a :class:`ShipyardError` with a stable
``code``. Faces translate it: the REST API answers ``{"error": {"code",
"message"}}`` with the status from :data:`HTTP_STATUS`; the CLI prints the
message as one sentence and exits non-zero. Messages say what was wrong, what was
expected, what was got, and how to fix it.
"""

from __future__ import annotations

from typing import Any

#: Stable error code → HTTP status. The only place this mapping lives.
HTTP_STATUS: dict[str, int] = {
    "invalid_request": 400,
    "malformed_data": 400,
    "invalid_name": 400,
    "webhook_refused": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "request_timeout": 408,
    "conflict": 409,
    "server_running": 409,
    "criteria_not_met": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "unprocessable": 422,
    "invalid_bundle": 422,
    "schema_too_new": 500,
    "integrity_error": 500,
    "server_unavailable": 503,
    "disk_full": 507,
    "internal": 500,
}


class ShipyardError(Exception):
    """Root of every error Shipyard raises on purpose."""

    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidRequest(ShipyardError):
    code = "invalid_request"


class InvalidName(InvalidRequest):
    code = "invalid_name"


class WebhookRefused(InvalidRequest):
    """A webhook URL that could reach the server's own network (SSRF) or is not a URL at all."""

    code = "webhook_refused"


class MalformedData(InvalidRequest):
    """A file or table that cannot become a dataset version as it is."""

    code = "malformed_data"


class Unauthenticated(ShipyardError):
    code = "unauthenticated"


class Forbidden(ShipyardError):
    code = "forbidden"


class NotFound(ShipyardError):
    code = "not_found"


class Conflict(ShipyardError):
    code = "conflict"


class ServerRunning(Conflict):
    """Another control plane already holds this home (its lock file names its PID and URL)."""

    code = "server_running"


class CriteriaNotMet(Conflict):
    """A model fails its experiment's success criteria and no override was given."""

    code = "criteria_not_met"


class Unprocessable(ShipyardError):
    """Well-formed input that does not fit what it is for (rows against a model's signature)."""

    code = "unprocessable"


class InvalidBundle(Unprocessable):
    """A model that would be refused at load (not a valid bundle): refused at registration."""

    code = "invalid_bundle"


class PayloadTooLarge(ShipyardError):
    code = "payload_too_large"


class UnsupportedMediaType(ShipyardError):
    code = "unsupported_media_type"


class RequestTimeout(ShipyardError):
    """The client stopped sending its request body before it was complete."""

    code = "request_timeout"


class DiskFull(ShipyardError):
    """The server's disk (or quota) ran out while it handled a request (HTTP 507)."""

    code = "disk_full"


class SchemaTooNew(ShipyardError):
    """The metadata store was migrated by a newer Shipyard than this one."""

    code = "schema_too_new"


class IntegrityError(ShipyardError):
    """Stored bytes no longer match their recorded SHA-256."""

    code = "integrity_error"


class ServerUnavailable(ShipyardError):
    code = "server_unavailable"


def error_from_response(status: int, body: Any) -> ShipyardError:
    """Rebuild a typed error from an API error body (used by the SDK)."""
    code, message = "internal", f"HTTP {status}"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", code))
        message = str(body["error"].get("message", message))
    for cls in _ALL:
        if cls.code == code:
            return cls(message)
    return ShipyardError(message, code=code)


_ALL: tuple[type[ShipyardError], ...] = (
    InvalidName, MalformedData, WebhookRefused, InvalidRequest, Unauthenticated, Forbidden,
    NotFound, RequestTimeout,
    CriteriaNotMet, ServerRunning, Conflict, InvalidBundle, Unprocessable, PayloadTooLarge,
    UnsupportedMediaType, SchemaTooNew, IntegrityError, ServerUnavailable, DiskFull,
)
