"""The studio's endpoint pages: the list, and an endpoint's page with its variants, instances,
latency and throughput, a test-invoke form, update and roll back; and Deploy, which makes
an endpoint from an Approved model version's page.

The figures are the ones the server records already: the supervisor's per-variant counters
and its window of recent latencies (what ``p50_ms``/``p99_ms`` of ``GET /api/v1/endpoints/
{name}`` are computed over), and the captured invocations' timestamps (so throughput is
shown only for an endpoint that captures, and counts the captured share).

Roll back: the endpoint service keeps no "previous version" of its own, but every spec an
endpoint ran is in its events (``endpoint.created`` with ``spec``, each finished update's
``endpoint.updated`` with ``spec_after``). Roll back is an update (the same check and
service call as ``PATCH /api/v1/endpoints/{name}``) to the spec before the current one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from shipyard.api._context import Services, services
from shipyard.api.routes.endpoints import find_endpoint
from shipyard.endpoints import IN_SERVICE, endpoint_to_dict
from shipyard.endpoints import invoke as invoke_endpoint
from shipyard.errors import ShipyardError
from shipyard.studio._charts import line_chart
from shipyard.studio._security import PREFIX
from shipyard.studio._web import (
    BadRequest,
    action_error,
    authorize,
    error_page,
    read_form,
    render,
    run,
)

router = APIRouter(include_in_schema=False)

#: The media types the test-invoke form sends its body as.
FORMATS = {"json": "application/json", "csv": "text/csv"}
#: Throughput is counted per minute over this much of the captured history.
THROUGHPUT_WINDOW = timedelta(hours=1)
#: The most variants the update form edits (one more row creates a variant).
MAX_FORM_VARIANTS = 4
VARIANT_FIELDS = ("name", "model", "weight", "instances", "shadow", "remove")


@router.get(PREFIX + "/endpoints")
def endpoints_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    return render(request, "endpoints.html", endpoints=svc.endpoints.list())


def _may_change(request: Request, created_by: str | None) -> bool:
    who = request.scope.get("state", {}).get("principal")
    return who is not None and who.can("write") and who.may_change(created_by)


@router.get(PREFIX + "/endpoints/{name}")
def endpoint_page(request: Request, name: str,
                  svc: Services = Depends(services)) -> HTMLResponse:
    """Status, variants and weights, instances, latency and throughput, test-invoke, update
    and roll back (for its creator or an admin)."""
    try:
        rec = svc.endpoints.get(name)
    except ShipyardError as exc:
        return error_page(request, exc)
    doc = endpoint_to_dict(rec, svc.endpoint_supervisor, svc.settings.url)
    history = spec_history(svc, name)
    previous = history[-2] if len(history) >= 2 else None
    return render(request, "endpoint.html", ep=doc, created_at=rec.created_at,
                  may_change=_may_change(request, rec.created_by),
                  in_service=rec.status == IN_SERVICE,
                  previous=_describe(previous) if previous else None,
                  form_variants=doc["variants"][:MAX_FORM_VARIANTS],
                  too_many=len(doc["variants"]) > MAX_FORM_VARIANTS, **_live(svc, name, doc))


@router.get(PREFIX + "/endpoints/{name}/live")
def endpoint_live(request: Request, name: str,
                  svc: Services = Depends(services)) -> HTMLResponse:
    """The part of the page that changes (status, variants, instances, charts): htmx polls it."""
    try:
        doc = endpoint_to_dict(svc.endpoints.get(name), svc.endpoint_supervisor, svc.settings.url)
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "_endpoint_live.html", ep=doc, **_live(svc, name, doc))


def _live(svc: Services, name: str, doc: dict[str, Any]) -> dict[str, Any]:
    sup = svc.endpoint_supervisor
    latency = []
    for variant, samples in sorted((sup.latencies(name) if sup is not None else {}).items()):
        svg = line_chart([{"step": i, "value": v} for i, v in enumerate(samples)])
        if svg:
            latency.append((variant, len(samples), Markup(svg)))  # noqa: S704 - SVG we drew
    per_minute = _throughput(svc, name) if doc["capture_percent"] else []
    svg = line_chart([{"step": i, "value": n} for i, (_, n) in enumerate(per_minute)])
    return {"latency": latency, "throughput": Markup(svg),  # noqa: S704 - SVG we drew
            "throughput_from": per_minute[0][0] if per_minute else None,
            "throughput_total": sum(n for _, n in per_minute)}


def _throughput(svc: Services, name: str) -> list[tuple[datetime, int]]:
    """Captured invocations per minute over the last hour, from the first one in it (the
    minutes without any as 0)."""
    from shipyard.serving import read_capture

    sup = svc.endpoint_supervisor
    if sup is None:
        return []
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    frame = read_capture(sup.capture_dir(name), now - THROUGHPUT_WINDOW)
    if frame.empty:
        return []
    minutes = frame["timestamp"].dt.floor("min").value_counts()
    counts = {m.to_pydatetime(): int(n) for m, n in minutes.items()}
    first = min(counts)
    out = []
    while first <= now:
        out.append((first, counts.get(first, 0)))
        first += timedelta(minutes=1)
    return out


# -- history ---------------------------------------------------------------------------------
def spec_history(svc: Services, name: str) -> list[dict[str, Any]]:
    """Every spec the endpoint ran since it was (last) created, oldest first: the created
    spec, then each finished update's."""
    specs: list[dict[str, Any]] = []
    after = 0
    while True:
        page = svc.events.list(resource_type="endpoint", resource_id=name, after_id=after)
        for e in page:
            if e.kind == "endpoint.created" and isinstance(e.payload.get("spec"), dict):
                specs = [e.payload["spec"]]
            elif e.kind == "endpoint.updated" and isinstance(e.payload.get("spec_after"), dict):
                specs.append(e.payload["spec_after"])
        if len(page) < 500:
            return specs
        after = page[-1].id


def _describe(spec: dict[str, Any]) -> list[str]:
    return [f"{v['name']}: {v['model_group']}:{v['model_version']}, weight {v.get('weight', 1)}"
            f", {v.get('instances', 1)} instance(s){' (shadow)' if v.get('shadow') else ''}"
            for v in spec.get("variants", [])]


# -- actions ---------------------------------------------------------------------------------
@router.post(PREFIX + "/endpoints/{name}/invoke")
async def test_invoke(request: Request, name: str,
                      svc: Services = Depends(services)) -> HTMLResponse:
    """Send a JSON or CSV body to the endpoint and show the answer (REST: ``POST /api/v1/
    endpoints/{name}/invocations``, through the same invocation path)."""
    try:
        form = await read_form(request)
        authorize(request, svc, "read")
        media = FORMATS.get(form.get("format", "json"))
        if media is None:
            raise BadRequest("Choose JSON or CSV as the body's format.")
        body = form.get("body", "").replace("\r\n", "\n").encode("utf-8")
        answer = await invoke_endpoint(
            svc.endpoint_supervisor, request.app.state.forwarder, find_endpoint(svc), name,
            body, media.encode("latin-1"))
    except ShipyardError as exc:
        return action_error(exc)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in answer.headers}
    text = answer.body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    message = None
    if answer.status >= 400 and isinstance(parsed, dict):
        err = parsed.get("error")
        message = err.get("message") if isinstance(err, dict) else parsed.get("detail")
    if isinstance(parsed, dict | list):
        text = json.dumps(parsed, indent=2)
    # The endpoint's own 4xx is shown in place with its status (studio.js swaps 4xx in).
    status = answer.status if 400 <= answer.status < 500 else 200
    return render(request, "_invoke_answer.html", http_status=status, status=answer.status,
                  variant=headers.get("x-shipyard-variant"),
                  instance=headers.get("x-shipyard-instance"), text=text,
                  message=message if isinstance(message, str) else None)


def _variants_from_form(form: dict[str, str]) -> list[dict[str, Any]]:
    """The update form's variants (``v0-name``, ``v0-model``, …), numbers checked here so a
    mistyped one is a 400 naming the field. A row marked ``remove`` is left out; the blank
    row for a new variant counts once it names a model."""
    out = []
    for i in range(MAX_FORM_VARIANTS + 1):
        if f"v{i}-name" not in form:
            break
        v: dict[str, Any] = {k: form.get(f"v{i}-{k}", "").strip() for k in VARIANT_FIELDS}
        if v.pop("remove") == "true" or not (v["name"] or v["model"]):
            continue
        label = v["name"] or f"#{i + 1}"
        for key, kind in (("weight", float), ("instances", int)):
            try:
                v[key] = kind(v[key] or 1)
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                raise BadRequest(f"The {key} of variant {label!r} must be {what}; got "
                                 f"{v[key]!r}. Fix it and update again.") from None
        v["shadow"] = v["shadow"] == "true"
        out.append(v)
    if not out:
        raise BadRequest("An endpoint needs at least one variant; keep one, or name a model "
                         "for a new one.")
    return out


def _percent(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"capture_percent must be a number from 0 to 100; got {raw!r}."
                         ) from None


@router.post(PREFIX + "/endpoints/{name}/update")
async def update_endpoint(request: Request, name: str,
                          svc: Services = Depends(services)) -> Response:
    """Roll the endpoint over to new variants (models, weights, instances; a variant created
    or removed) or capture percentage (REST: ``PATCH /api/v1/endpoints/{name}``)."""
    try:
        form = await read_form(request)
        who = authorize(request, svc, "write", ("endpoint", {"name": name}))
        variants = _variants_from_form(form)
        capture = _percent(form.get("capture_percent"))
        await run(lambda: svc.endpoints.update(name, variants=variants, capture_percent=capture,
                                               actor=who.name, actor_role=who.role))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@router.post(PREFIX + "/endpoints/{name}/rollback")
async def roll_back(request: Request, name: str,
                    svc: Services = Depends(services)) -> Response:
    """Go back to the spec the endpoint ran before its last update: an update (REST:
    ``PATCH /api/v1/endpoints/{name}``) with that spec's variants, capture percentage,
    autoscaling and unseen-category handling."""
    try:
        who = authorize(request, svc, "write", ("endpoint", {"name": name}))
        history = await run(lambda: spec_history(svc, name))
        if len(history) < 2:
            raise BadRequest(f"Endpoint {name!r} has not been updated since it was created, so "
                             "there is nothing to roll back to.")
        prev = history[-2]
        variants = [{"name": v["name"], "model": f"{v['model_group']}:{v['model_version']}",
                     "weight": v.get("weight", 1.0), "instances": v.get("instances", 1),
                     "shadow": bool(v.get("shadow"))} for v in prev.get("variants", [])]
        await run(lambda: svc.endpoints.update(
            name, variants=variants, capture_percent=prev.get("capture_percent"),
            allow_unapproved=bool(prev.get("allow_unapproved")),
            autoscaling=prev.get("autoscaling") or {},
            unseen_categories=prev.get("unseen_categories"),
            actor=who.name, actor_role=who.role))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


def _whole(raw: str | None, field: str, default: int) -> int:
    """A form's whole number, or a 400 naming the field (the service checks the range)."""
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise BadRequest(f"{field} must be a whole number; got {raw!r}. Fix it and deploy "
                         "again.") from None


@router.post(PREFIX + "/models/{group}/{version}/deploy")
async def deploy(request: Request, group: str, version: int,
                 svc: Services = Depends(services)) -> Response:
    """Deploy this model version as a new endpoint (REST: ``POST /api/v1/endpoints`` with
    ``name``, ``model``, ``instances`` and ``capture_percent``), then go to its page.

    No ``allow_unapproved`` here: the form is on Approved versions only, and the service
    refuses any other (409) as it refuses the API.
    """
    try:
        form = await read_form(request)
        who = authorize(request, svc, "write")
        name = form.get("name", "").strip()
        instances = _whole(form.get("instances"), "instances", 1)
        capture = _percent(form.get("capture_percent")) or 0.0
        rec = await run(lambda: svc.endpoints.create(
            name, f"{group}:{version}", instances=instances, capture_percent=capture,
            actor=who.name, actor_role=who.role))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204,
                    headers={"HX-Redirect": f"{PREFIX}/endpoints/{quote(rec.name, safe='')}"})
