"""What every response model shares: the strict base, timestamps, errors, the DELETE answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: An ISO 8601 UTC time as the API writes it (``2026-01-31T12:00:00.123456Z``). Kept as the
#: string the server wrote, so a document round-trips byte for byte; the schema says its
#: format, so a generated client parses it.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

#: A JSON object whose keys are the user's or a plug-in's own: a job spec, hyperparameters,
#: a report document. Only these stay untyped (see ``tests/api/test_contract.py``).
OpenDoc = dict[str, Any]


class Out(BaseModel):
    """A response document: exactly these fields.

    ``extra="forbid"`` makes a route that returns a field its model does not declare fail
    loudly (a 500 in tests) instead of the field silently vanishing from the answer, so
    the document can never drift from what the server sends.
    """

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Out):
    code: str = Field(description="A stable code, e.g. not_found, invalid_request, conflict.")
    message: str = Field(description="One sentence: what was wrong and how to fix it.")
    details: OpenDoc | None = Field(
        None, description="Machine-readable facts where an error has them, e.g. a 409's "
        "referrers: [{kind, name, how}].")


class ErrorBody(Out):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class Deleted(Out):
    """The answer of every DELETE, whatever the resource.

    A token is revoked rather than deleted: its record stays (inactive) for the audit
    log, so its ``status`` is ``Revoked``.
    """

    kind: Literal["dataset", "model_group", "endpoint", "monitor", "schedule", "location",
                  "token", "pipeline", "pipeline_trigger"] = Field(
        description="The kind of resource deleted.")
    name: str
    status: Literal["Deleted", "Revoked"]
    forced: bool = Field(description="An admin deleted it although something still used it "
                         "(?force=true; audited).")
    deleted: dict[str, int] = Field(
        default_factory=dict,
        description="What went with it, counted: {'versions': 3}, {'tables': 2}; {} if nothing.")


def deleted(kind: str, name: str, *, forced: bool = False, status: str = "Deleted",
            **counts: int) -> Deleted:
    """The DELETE answer for ``kind`` ``name`` (``counts``: what went with it)."""
    return Deleted.model_validate({"kind": kind, "name": name, "status": status,
                                   "forced": forced, "deleted": counts})


def binary(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route that sends bytes (a file, a log, a page), by media type."""
    schema = {"type": "string", "format": "binary"}
    return {200: {"description": description,
                  "content": {m: {"schema": schema} for m in media_types}}}
