"""What every studio page module shares: the templates, rendering, the action check, forms.

A page module (``_pages``, ``_pages_datasets``, …) has its own ``router`` and uses:

- :func:`render` for a page or a fragment (the signed-in principal, its CSRF token, the
  navigation it may see and ``can(permission)`` are in every template's context);
- :func:`error_page` / :func:`action_error` for a service's refusal, on a page / in place;
- :func:`authorize` before any action: the REST twin's own role and ownership check;
- :func:`read_form` for an action's small urlencoded form; :func:`run` for a blocking
  service call from an async route.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from shipyard import __version__
from shipyard.api._auth import require
from shipyard.api._context import Services
from shipyard.api._owners import LOOKUPS
from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.studio._nav import visible_sections
from shipyard.studio._security import PREFIX
from shipyard.tokens import Principal, check_owner

MAX_FORM_BYTES = 64 * 1024
ACTIVE = frozenset(st.ACTIVE)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("shipyard.studio", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["when"] = _when
    env.filters["number"] = _number
    env.globals["prefix"] = PREFIX
    env.globals["version"] = __version__
    return env


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return readable(value)
    return str(value)


def readable(value: float) -> str:
    """A number as people read it: ``884,800`` (not ``8.848e+05``), ``12.5``, ``0.8123``."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


TEMPLATES = _environment()


# -- helpers ---------------------------------------------------------------------------------
def render(request: Request, name: str, http_status: int = 200, **context: Any
           ) -> HTMLResponse:
    """A page (or a fragment) rendered with the signed-in user, its CSRF token and the
    navigation it may see."""
    principal = request.scope.get("state", {}).get("principal")
    page = TEMPLATES.get_template(name).render(
        request=request, principal=principal, csrf=request.scope.get("state", {}).get("csrf", ""),
        sections=visible_sections(principal) if principal else [],
        can=(lambda permission: principal is not None and principal.can(permission)),
        path=request.url.path, **context)
    return HTMLResponse(page, status_code=http_status)


def error_page(request: Request, exc: ShipyardError) -> HTMLResponse:
    return render(request, "error.html", http_status=exc.http_status, message=exc.message)


def authorize(request: Request, svc: Services, permission: str,
              owner: tuple[str, dict[str, str]] | None = None) -> Principal:
    """The REST route's own check of an action: the permission, then (where the REST route
    checks it) ownership of the resource, found the same way (``_owners.LOOKUPS``).

    Raises:
        Forbidden: the role may not, or the resource is someone else's.
        NotFound: the resource does not exist.
    """
    principal: Principal = require(permission)(request)
    if owner is not None:
        kind, params = owner
        what, created_by = LOOKUPS[kind](svc, params)
        check_owner(principal, what, created_by)
    return principal


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """A small urlencoded form (an action's fields), first value of each."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormTooLarge(max_bytes)
    try:
        # A field per column (Canvas): bounded by MAX_FORM_BYTES, not by a count.
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10_000)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read (not UTF-8 form fields); reload the "
                         "page and send it again.") from None
    return {k: v[0] for k, v in fields.items()}


class FormTooLarge(ShipyardError):
    code = "payload_too_large"

    def __init__(self, limit: int = MAX_FORM_BYTES) -> None:
        super().__init__(f"The form is larger than {limit:,} bytes.")


def action_error(exc: ShipyardError) -> HTMLResponse:
    """What an action answers when the service refused it: the message, shown in place."""
    text = html.escape(exc.message)
    return HTMLResponse(f'<p class="error" role="alert">{text}</p>', status_code=exc.http_status)


async def run(fn: Callable[[], Any]) -> Any:
    return await anyio.to_thread.run_sync(fn)


class BadRequest(ShipyardError):
    """A form the studio itself finds wrong (400)."""

    code = "invalid_request"
