"""The studio's routes: pages, the fragments htmx swaps in, and the actions.

Reads go through the same services as the REST API. An action is the REST route's own
check (:func:`authorize`: the role's permission, then ownership where the REST route
checks it) followed by the same service call, so the studio can do nothing the API
would refuse. Each action names its REST twin in its docstring.

Errors: a service's :class:`~shipyard.errors.ShipyardError` on a page renders the error
page with its status (404 for a missing job, …); on an action, a fragment with the
message and the status, which the page shows in place.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._session import StudioSessions
from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.registry._service import ALLOWED_FROM, APPROVED, PENDING, REJECTED
from shipyard.studio._security import LOGIN, PREFIX, SIGN_IN, LoginLinks, safe_next
from shipyard.studio._web import (
    ACTIVE,
    BadRequest,
    FormTooLarge,
    action_error,
    authorize,
    error_page,
    read_form,
    render,
    run,
)

router = APIRouter(include_in_schema=False)
#: REST routes of the studio itself (in the API document, with their permission).
api_router = APIRouter(tags=["studio"])

#: The static files pages may load: a fixed list, so no request path names a file.
STATIC = {"htmx.min.js": "text/javascript; charset=utf-8",
          "studio.js": "text/javascript; charset=utf-8",
          "upload.js": "text/javascript; charset=utf-8",
          "labeling.js": "text/javascript; charset=utf-8",
          "images.js": "text/javascript; charset=utf-8",
          "studio.css": "text/css; charset=utf-8"}
LOG_TAIL_BYTES = 64 * 1024
#: Jobs per page of the jobs list.
JOBS_PAGE = 50
#: Where a training job's bundle keeps its evaluation plots, and their names.
PLOTS = "model/evaluation/"
PLOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.png")


# -- sign-in ---------------------------------------------------------------------------------
def _sessions(request: Request) -> StudioSessions:
    sessions: StudioSessions = request.app.state.studio_sessions
    return sessions


def _links(request: Request) -> LoginLinks:
    links: LoginLinks = request.app.state.studio_links
    return links


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and origin.split("://", 1)[-1].lower() == \
        request.headers.get("host", "").lower()


@router.get(SIGN_IN)
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    """The studio's sign-in page (open): paste a token, or use `shipyard studio`'s link."""
    return render(request, "sign_in.html", next=safe_next(next), message="")


@router.post(SIGN_IN)
async def sign_in(request: Request) -> Response:
    """Check a pasted token; on success the session cookie, and on to the page asked for."""
    if not _same_origin(request):
        return render(request, "sign_in.html", http_status=403, next=PREFIX,
                      message="This form can only be sent from this server's own page.")
    try:
        form = await read_form(request)
    except FormTooLarge:
        form = {}
    token = (form.get("token") or "").strip()
    target = safe_next(form.get("next"))
    issued = await run(lambda: _sessions(request).issue(token)) if token else None
    if issued is None:
        return render(request, "sign_in.html", http_status=401, next=target,
                      message="That is not an active Shipyard token; check it and paste it "
                              "again.")
    response = RedirectResponse(target, status_code=303)
    _sessions(request).set_cookie(response, issued[0], https=request.url.scheme == "https")
    return response


@router.get(LOGIN)
async def login_link(request: Request, code: str = "") -> Response:
    """A one-time link from `shipyard studio`: good once, for 5 minutes."""
    name = _links(request).redeem(code)
    value = await run(lambda: _sessions(request).issue_for(name)) if name else None
    if value is None:
        return render(request, "sign_in.html", http_status=401, next=PREFIX,
                      message="That sign-in link was used already or has expired; run "
                              "`shipyard studio` again, or paste a token.")
    response = RedirectResponse(PREFIX, status_code=303)
    _sessions(request).set_cookie(response, value, https=request.url.scheme == "https")
    return response


@router.post(f"{PREFIX}/sign-out")
def sign_out(request: Request) -> Response:
    """Forget the session in this browser (the token itself stays valid)."""
    response = Response(status_code=204, headers={"HX-Redirect": SIGN_IN})
    _sessions(request).clear_cookie(response, https=request.url.scheme == "https")
    return response


class StudioLink(BaseModel):
    """A one-time sign-in link to the studio."""

    path: str = Field(description="Under the server's URL: open it in a browser, once.")
    expires_at: float = Field(description="When it stops working (epoch seconds).")


@api_router.post("/studio/links", status_code=201, response_model=StudioLink,
                 **permit("studio"))
def create_login_link(request: Request) -> dict[str, Any]:
    """A one-time sign-in link to the studio for the calling token (what `shipyard studio`
    prints): good once, for 5 minutes. Any user's role may ask (``studio``): an annotator
    signs in to its labeling pages with one."""
    principal = current_principal(request)
    code, expires = _links(request).create(principal.name)
    return {"path": f"{LOGIN}?code={code}", "expires_at": expires}


# -- static files ----------------------------------------------------------------------------
def _static_route(name: str, media: str) -> None:
    data = resources.files("shipyard.studio").joinpath("static", name).read_bytes()

    def asset() -> Response:
        return Response(data, media_type=media)

    asset.__name__ = "studio_static_" + name.replace(".", "_").replace("-", "_")
    router.add_api_route(f"{PREFIX}/static/{name}", asset, methods=["GET"])


for _name, _media in STATIC.items():
    _static_route(_name, _media)


# -- home ------------------------------------------------------------------------------------
@router.get(PREFIX)
def home(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """Recent jobs, endpoints, models waiting for approval, recent monitor alerts."""
    jobs = svc.jobs.list(limit=10)
    endpoints = svc.endpoints.list()
    waiting = svc.registry.repo.with_status(PENDING, limit=20)
    alerts = []
    for monitor in svc.monitors.list():
        alerts += [(monitor.name, a) for a in svc.monitors.alerts(monitor.name, limit=5)]
    alerts.sort(key=lambda pair: pair[1].created_at, reverse=True)
    return render(request, "home.html", jobs=jobs, endpoints=endpoints, waiting=waiting,
                  alerts=alerts[:10])


# -- jobs ------------------------------------------------------------------------------------
@router.get(f"{PREFIX}/jobs")
def jobs_page(request: Request, status: str | None = None, kind: str | None = None,
              page: int = 1, svc: Services = Depends(services)) -> HTMLResponse:
    """Every job, newest first, filtered by status and kind, a page of ``JOBS_PAGE`` at a
    time."""
    page = max(page, 1)
    try:
        jobs = svc.jobs.list(status=status or None, kind=kind or None, limit=JOBS_PAGE + 1,
                             offset=(page - 1) * JOBS_PAGE)
    except ShipyardError as exc:
        return error_page(request, exc)
    return render(request, "jobs.html", jobs=jobs[:JOBS_PAGE], status=status or "",
                  kind=kind or "", statuses=st.STATUSES,
                  kinds=[k["name"] for k in svc.jobs.kinds()], page=page,
                  more=len(jobs) > JOBS_PAGE)


@router.get(PREFIX + "/jobs/{job_id}")
def job_page(request: Request, job_id: str, svc: Services = Depends(services)) -> HTMLResponse:
    """One job: status, the live log, metrics, resource profile, debugger findings, cancel."""
    try:
        job = svc.jobs.get(job_id)
    except ShipyardError as exc:
        return error_page(request, exc)
    # A queued job can be cancelled too (it stops at once, as over REST).
    return render(request, "job.html", job=job, active=job.status in ACTIVE,
                  cancellable=job.status in ACTIVE or job.status == st.PENDING,
                  summary=svc.jobs.metrics_summary(job_id), findings=svc.jobs.findings(job_id),
                  profile=_profile(svc, job_id))


def _profile(svc: Services, job_id: str) -> dict[str, Any]:
    try:
        return svc.jobs.profile(job_id).to_dict()
    except ShipyardError:
        return {}


@router.get(PREFIX + "/jobs/{job_id}/log")
def job_log(request: Request, job_id: str, offset: int = 0, live: bool = False,
            svc: Services = Depends(services)) -> HTMLResponse:
    """The log from ``offset`` as a fragment that asks for the rest until the job ended
    (the last ``LOG_TAIL_BYTES`` on first load). A poll (``live``) that finds the job
    ended reloads the page once, so its status, metrics and buttons are the final ones."""
    try:
        if offset < 0:
            offset = 0
        data, nxt, status = svc.jobs.logs(job_id, offset)
        if offset == 0 and len(data) >= LOG_TAIL_BYTES:
            data = data[-LOG_TAIL_BYTES:]
        more = b""
        while len(more) < 4 * 1024 * 1024:  # the rest of a long log, up to 4 MB a call
            chunk, after, status = svc.jobs.logs(job_id, nxt)
            if not chunk:
                break
            more += chunk
            nxt = after
        data = (data + more)[-LOG_TAIL_BYTES:] if offset == 0 else data + more
    except ShipyardError as exc:
        return action_error(exc)
    # A queued job is followed too: the train form lands on the page of a job that has
    # often not started yet, and the page must show it run and end without a reload.
    page = render(request, "_log.html", job_id=job_id, text=data.decode("utf-8", "replace"),
                  offset=nxt, follow=status in ACTIVE or status == st.PENDING, status=status)
    if live and status not in ACTIVE and status != st.PENDING:
        page.headers["HX-Refresh"] = "true"
    return page


@router.get(PREFIX + "/jobs/{job_id}/metrics")
def job_metrics(request: Request, job_id: str,
                svc: Services = Depends(services)) -> HTMLResponse:
    """The job's metric curves as inline SVG (htmx polls it while the job runs)."""
    from shipyard.studio._charts import line_chart

    try:
        job = svc.jobs.get(job_id)
        series = svc.jobs.metrics(job_id)
    except ShipyardError as exc:
        return action_error(exc)
    charts = [(name, Markup(line_chart(points)))  # noqa: S704 - SVG we drew, text escaped
              for name, points in sorted(series.items()) if len(points) > 1][:12]
    single = {name: points[-1]["value"] for name, points in sorted(series.items())
              if len(points) == 1}
    return render(request, "_metrics.html", job_id=job_id, charts=charts, single=single,
                  follow=job.status in ACTIVE)


@router.post(PREFIX + "/jobs/{job_id}/cancel")
async def cancel_job(request: Request, job_id: str,
                     svc: Services = Depends(services)) -> Response:
    """Cancel a job (REST: ``POST /api/v1/jobs/{job_id}/cancel``)."""
    try:
        who = authorize(request, svc, "write", ("job", {"job_id": job_id}))
        await run(lambda: svc.jobs.cancel(job_id, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


# -- models ----------------------------------------------------------------------------------
@router.get(PREFIX + "/models")
def models_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """Model groups with their versions' count, latest and latest approved version."""
    return render(request, "models.html", groups=svc.registry.repo.group_summaries())


@router.get(PREFIX + "/models/{group}")
def model_group_page(request: Request, group: str,
                     svc: Services = Depends(services)) -> HTMLResponse:
    try:
        rec = svc.registry.group(group)
        versions = svc.registry.versions(group)
    except ShipyardError as exc:
        return error_page(request, exc)
    return render(request, "model_group.html", group=rec, versions=list(reversed(versions)))


@router.get(PREFIX + "/models/{group}/{version}")
def model_version_page(request: Request, group: str, version: int,
                       svc: Services = Depends(services)) -> HTMLResponse:
    """A version: metrics, success criteria, its card (Markdown rendered safely), the
    bias and explainability summaries, its lineage, approve/reject for approvers, and
    Deploy for writers once it is Approved (``_pages_endpoints.deploy``)."""
    from shipyard.studio._markdown import render_markdown

    try:
        rec = svc.registry.get(group, version)
    except ShipyardError as exc:
        return error_page(request, exc)
    card = rec.card or {}
    texts = {k: Markup(render_markdown(str(v)))  # noqa: S704 - rendered with raw HTML off
             for k, v in card.items() if isinstance(v, str) and v.strip()}
    from shipyard.registry._service import CARD_FIELDS
    from shipyard.studio._lineage import lineage_view, node_link, summary

    who = request.scope.get("state", {}).get("principal")
    may_edit = who is not None and who.can("write") and who.may_change(rec.created_by)
    return render(request, "model_version.html", rec=rec, card_texts=texts,
                  plots=_plots(svc, rec.job_id),
                  lineage=lineage_view(svc, f"model:{group}:{version}"), link=node_link,
                  summary=summary,
                  reports=card.get("reports") or [], metrics=_flat(rec.metrics),
                  card_fields=CARD_FIELDS, card=card, may_edit=may_edit,
                  may_approve=rec.status in ALLOWED_FROM[APPROVED],
                  may_reject=rec.status in ALLOWED_FROM[REJECTED],
                  may_deploy=rec.status == APPROVED and who is not None and who.can("write"))


def _plots(svc: Services, job_id: str) -> list[str]:
    """The evaluation plots (PNG) the version's training job stored in its bundle, by
    file name (``GET /api/v1/jobs/{id}/artifacts`` lists them)."""
    try:
        files = svc.jobs.artifacts_of(job_id)["files"]
    except ShipyardError:
        return []
    return sorted(name for f in files
                  if (name := str(f["path"]).removeprefix(PLOTS)) != f["path"]
                  and PLOT_NAME.fullmatch(name))


@router.get(PREFIX + "/models/{group}/{version}/plots/{name}")
def model_plot(request: Request, group: str, version: int, name: str,
               svc: Services = Depends(services)) -> Response:
    """One evaluation plot of the version's job, as ``image/png``: found in the job's
    manifest by its path (REST: ``GET /api/v1/jobs/{id}/artifacts/{path}``), never a file
    path of the request's making."""
    from shipyard.api._downloads import stored_file

    try:
        if not PLOT_NAME.fullmatch(name):
            raise BadRequest(f"{name!r} is not the name of an evaluation plot (NAME.png).")
        rec = svc.registry.get(group, version)
        path = PLOTS + name
        entry = svc.jobs.artifact_entry(rec.job_id, path)
    except ShipyardError as exc:
        return action_error(exc)
    return stored_file(svc, entry["sha256"], int(entry["size"]),
                       what=f"{path!r} of job {rec.job_id}", filename=name,
                       media_type="image/png")


def _flat(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _flat(value, f"{prefix}{key}.")
    elif isinstance(doc, int | float) and not isinstance(doc, bool):
        out.append((prefix.rstrip("."), doc))
    return out


@router.post(PREFIX + "/models/{group}/{version}/decision")
async def decide(request: Request, group: str, version: int,
                 svc: Services = Depends(services)) -> Response:
    """Approve or reject with a comment (REST: ``POST /api/v1/models/{group}/versions/
    {version}/approve`` and ``…/reject``)."""
    try:
        form = await read_form(request)
        who = authorize(request, svc, "approve")
        decision = {"approve": APPROVED, "reject": REJECTED}.get(form.get("decision", ""))
        if decision is None:
            raise BadRequest("Choose approve or reject.")
        await run(lambda: svc.registry.set_status(group, version, decision,
                                                  form.get("comment"), who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@router.post(PREFIX + "/models/{group}/{version}/card")
async def edit_card(request: Request, group: str, version: int,
                    svc: Services = Depends(services)) -> Response:
    """Edit the card's Markdown fields (REST: ``PATCH /api/v1/models/{group}/versions/
    {version}/card``)."""
    from shipyard.registry._service import CARD_FIELDS

    try:
        form = await read_form(request)
        who = authorize(request, svc, "write",
                        ("model_version", {"group": group, "version": str(version)}))
        changes = {k: v.replace("\r\n", "\n") for k, v in form.items() if k in CARD_FIELDS}
        await run(lambda: svc.registry.update_card(group, version, changes, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


def include(app: Any) -> None:
    """Mount the studio on ``app``: its REST routes under ``/api/v1``, then every page
    module's router (a page module that lands later is listed here)."""
    from shipyard.studio import (
        _pages_canvas,
        _pages_datasets,
        _pages_endpoints,
        _pages_experiments,
        _pages_labeling,
        _pages_monitors,
        _pages_pipelines,
        _pages_train,
    )

    app.include_router(api_router, prefix="/api/v1")
    for module_router in (router, _pages_datasets.router, _pages_train.router,
                          _pages_experiments.router,
                          _pages_endpoints.router, _pages_monitors.router,
                          _pages_pipelines.router, _pages_canvas.router,
                          _pages_labeling.router):
        app.include_router(module_router)
