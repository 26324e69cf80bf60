"""The studio's labeling pages: an annotator's queues and its page of one item at a time,
and a reader's page of a job's progress, agreement, annotators and disagreements.

Every action is the labeling REST route's own check followed by the same
:class:`~shipyard.labeling.LabelingService` call: answer and skip need ``label`` (and the
service's own "may this token work on this job" check, a 404 otherwise), stop needs
``write`` and ownership, export ``write`` and ownership of an existing output dataset.
An annotator sees only what the REST API shows it: its own item, its own answers and
progress, and how far the job as a whole is (a count, never another's answer).

How an item is shown and answered is chosen per task (:data:`TASK_VIEWS`): a content
template and an answer template. An image comes through this module's own route, with the
REST route's check (the item is the caller's lease or answer, 404 otherwise); boxes are
drawn by ``static/images.js`` and sent as the REST answer's JSON, checked by the service.
Undo takes back the caller's own latest answer or skip (``POST …/undo``) and shows that
item again, its answer pre-filled.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from shipyard.api._context import Services, services
from shipyard.errors import Conflict, NotFound, ShipyardError
from shipyard.labeling import ItemView
from shipyard.labeling._export import METHODS
from shipyard.labeling._tasks import gold_agrees
from shipyard.store import AssignmentRecord, LabelingJobRecord
from shipyard.studio._security import PREFIX
from shipyard.studio._web import (
    MAX_FORM_BYTES,
    BadRequest,
    FormTooLarge,
    action_error,
    authorize,
    error_page,
    render,
    run,
)
from shipyard.tokens import Principal, check_owner

router = APIRouter(include_in_schema=False)
BASE = PREFIX + "/labeling"

#: How each task's item is shown and answered: (content template, answer template). The
#: answer template names the form's ``answer`` field: ``label``, ``labels`` or ``spans``.
TASK_VIEWS: dict[str, tuple[str, str]] = {
    "text_classification": ("labeling/_text.html", "labeling/_one_label.html"),
    "text_multilabel": ("labeling/_text.html", "labeling/_many_labels.html"),
    "text_spans": ("labeling/_spans_text.html", "labeling/_spans.html"),
    "tabular_classification": ("labeling/_row.html", "labeling/_one_label.html"),
    "image_classification": ("labeling/_image.html", "labeling/_one_label.html"),
    "image_boxes": ("labeling/_image.html", "labeling/_boxes.html"),
}
#: Items shown in the admin page's "most disagreement" table.
DISAGREEMENTS_SHOWN = 20
SNIPPET = 160


def _who(request: Request) -> Principal:
    principal: Principal = request.scope["state"]["principal"]
    return principal


# -- the list --------------------------------------------------------------------------------
@router.get(BASE)
def labeling_home(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """A reader's: every job with its progress; one that may label: its own queues (an
    admin sees both)."""
    who = _who(request)
    jobs = []
    if who.can("read"):
        jobs = [(j, svc.labeling.repo.counts(j.name)) for j in svc.labeling.list()]
    queues = []
    if who.can("label"):
        queues = [(j, svc.labeling.progress(j.name, who).answered)
                  for j in svc.labeling.list(who)]
    return render(request, "labeling/list.html", jobs=jobs, queues=queues)


# -- the annotator's page --------------------------------------------------------------------
@dataclass(frozen=True)
class ItemPage:
    """What the item fragment shows: the leased item (None: nothing left), and why not."""

    job: LabelingJobRecord
    view: ItemView | None
    why: str


def _next(svc: Services, name: str, who: Principal) -> ItemPage:
    view = svc.labeling.next(name, who)
    job = view.job if view is not None else svc.labeling.get(name)
    why = "" if view is not None else (
        "The job is stopped." if job.status != "Running" else
        "Every item has its annotators, or you answered or skipped it.")
    return ItemPage(job, view, why)


def _item_context(svc: Services, page: ItemPage, who: Principal) -> dict[str, Any]:
    content, answer = TASK_VIEWS.get(page.job.task, ("labeling/_row.html",
                                                     "labeling/_one_label.html"))
    counts = svc.labeling.repo.counts(page.job.name)
    view = page.view
    text = view.content.get("text") if view is not None else None
    # A lease that holds an answer is one an undo gave back: the answer is the pre-fill.
    previous = view.assignment.answer if view is not None else None
    return {"job": page.job, "view": view, "why": page.why, "previous": previous or {},
            "undoable": svc.labeling.undoable(page.job.name, who),
            "content_template": content, "answer_template": answer,
            "text": text, "segments": _segments(text) if text is not None else [],
            "keys": list(zip(page.job.labels, _keys(len(page.job.labels)), strict=True)),
            "mine": svc.labeling.progress(page.job.name, who).answered,
            "counts": counts, "percent": _percent(counts.complete, counts.total)}


def _keys(n: int) -> list[str]:
    """The shortcut of each label: 1 to 9, then none (the button still works)."""
    return [str(i + 1) if i < 9 else "" for i in range(n)]


def _percent(part: int, whole: int) -> int:
    return int(100 * part / whole) if whole else 0


def _segments(text: str) -> list[tuple[int, int, str]]:
    """The text cut so that every carriage return is a piece of its own.

    The spans script counts offsets from each piece's ``data-start``; an HTML parser turns
    CR LF into one LF, so a CR kept inside a longer piece would shift every offset after
    it. A lone CR piece becomes one LF: still one character.
    """
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch == "\r":
            if start < i:
                out.append((start, i, text[start:i]))
            out.append((i, i + 1, ch))
            start = i + 1
    if start < len(text):
        out.append((start, len(text), text[start:]))
    return out


@router.get(BASE + "/{name}/work")
def work_page(request: Request, name: str, svc: Services = Depends(services)) -> HTMLResponse:
    """The annotator's page: the instructions, progress and the item it holds (leased
    now, as ``GET /api/v1/labeling-jobs/{name}/next`` does)."""
    from shipyard.studio._markdown import render_markdown

    try:
        who = authorize(request, svc, "label")
        page = _next(svc, name, who)
    except ShipyardError as exc:
        return error_page(request, exc)
    instructions = Markup(render_markdown(page.job.instructions or ""))  # noqa: S704 - raw HTML off
    return render(request, "labeling/work.html", instructions=instructions,
                  **_item_context(svc, page, who))


async def _answer_form(request: Request) -> dict[str, Any]:
    """The answer body from the item's form: ``answer`` names its key (``label``,
    ``labels``, ``spans`` or ``boxes``), so an empty set of labels is still an answer."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge(MAX_FORM_BYTES)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read; reload the page and answer again.") \
            from None
    key = (fields.get("answer") or [""])[0]
    if key == "label":
        return {"label": (fields.get("label") or [""])[0]}
    if key == "labels":
        return {"labels": fields.get("labels") or []}
    if key in ("spans", "boxes"):  # drawn by the page's script, checked by the service
        try:
            regions = json.loads((fields.get(key) or ["[]"])[0])
        except ValueError:
            raise BadRequest(f"The marked {key} could not be read; reload the page.") from None
        return {key: regions}
    raise BadRequest("The answer form names no answer (label, labels, spans or boxes); "
                     "reload the page.")


def _in_place(exc: ShipyardError, name: str | None = None) -> HTMLResponse:
    """A refusal shown under the item, which stays as it was. A conflict over the item
    (answered in another tab, its lease gone) comes with a link on to the next item: the
    item shown can no longer be answered, and the message speaks of ``GET …/next``."""
    page = action_error(exc)
    if name is not None and isinstance(exc, Conflict):
        href = f"{BASE}/{quote(name, safe='')}/work"
        page = HTMLResponse(
            bytes(page.body).decode() + f'<p><a id="next-item" href="{html.escape(href)}">'
            "Go on to your next item</a> (this page fell behind: the item was answered, "
            "skipped or let go in another tab or window).</p>", status_code=page.status_code)
    page.headers.update({"HX-Retarget": "#item-error", "HX-Reswap": "innerHTML"})
    return page


def _next_fragment(request: Request, svc: Services, name: str, who: Principal
                   ) -> HTMLResponse:
    page = _next(svc, name, who)
    return render(request, "labeling/_item.html", oob=True, **_item_context(svc, page, who))


@router.post(BASE + "/{name}/items/{item}/answer")
async def answer(request: Request, name: str, item: str,
                 svc: Services = Depends(services)) -> HTMLResponse:
    """Answer the item held, then show the next (REST: ``POST /api/v1/labeling-jobs/
    {name}/items/{item}/answers``)."""
    try:
        who = authorize(request, svc, "label")
        body = await _answer_form(request)
        await run(lambda: svc.labeling.answer(name, item, who, body))
        return await run(lambda: _next_fragment(request, svc, name, who))
    except ShipyardError as exc:
        return _in_place(exc, name)


@router.post(BASE + "/{name}/items/{item}/skip")
async def skip(request: Request, name: str, item: str,
               svc: Services = Depends(services)) -> HTMLResponse:
    """Give the item back and show the next (REST: ``POST /api/v1/labeling-jobs/{name}/
    items/{item}/skip``)."""
    try:
        who = authorize(request, svc, "label")
        await run(lambda: svc.labeling.skip(name, item, who))
        return await run(lambda: _next_fragment(request, svc, name, who))
    except ShipyardError as exc:
        return _in_place(exc, name)


@router.post(BASE + "/{name}/undo")
async def undo(request: Request, name: str, svc: Services = Depends(services)) -> HTMLResponse:
    """Take back the caller's own latest answer or skip and show that item again, its
    answer pre-filled (REST: ``POST /api/v1/labeling-jobs/{name}/undo``)."""
    try:
        who = authorize(request, svc, "label")

        def go() -> HTMLResponse:
            view = svc.labeling.undo(name, who)
            page = ItemPage(view.job, view, "")
            return render(request, "labeling/_item.html", oob=True,
                          **_item_context(svc, page, who))

        return await run(go)
    except ShipyardError as exc:
        return _in_place(exc)


@router.get(BASE + "/{name}/items/{item}/image")
def item_image(request: Request, name: str, item: str,
               svc: Services = Depends(services)) -> Response:
    """The image of an item the caller holds or answered (REST: ``GET /api/v1/labeling-jobs
    /{name}/items/{item}/image``: ``label``, and 404 for any other item)."""
    from shipyard.api._downloads import image_file

    try:
        who = authorize(request, svc, "label")
        sha, size, media = svc.labeling.image(name, item, who)
    except ShipyardError as exc:
        return action_error(exc)
    return image_file(svc, sha, size, media, what=f"item {item!r} of labeling job {name!r}")


# -- the reader's page -----------------------------------------------------------------------
@dataclass(frozen=True)
class Disagreement:
    item: str
    #: 1 − the share of the most common answer: 0 when all agree.
    score: float
    answers: list[tuple[str, str]]
    snippet: str


def _summary(answer: dict[str, Any] | None) -> str:
    """An answer as one short line: a label, labels joined, or spans with their text."""
    a = answer or {}
    if "label" in a:
        return str(a["label"])
    if "labels" in a:
        return ", ".join(a["labels"]) or "(none)"
    if "boxes" in a:
        return "; ".join(f"{b.get('label')} ({b.get('x'):g}, {b.get('y'):g}, "
                         f"{b.get('width'):g} × {b.get('height'):g})"
                         for b in a["boxes"]) or "(none)"
    return "; ".join(f"{r.get('label')} [{r.get('start', '')}–{r.get('end', '')})"
                     for r in a.get("spans", [])) or "(none)"


def _most_agreeing(given: list[AssignmentRecord]) -> int:
    """How many of an item's answers agree with the most common one.

    Two answers agree as a gold item scores an answer (:func:`gold_agrees`): equal labels
    and spans, and boxes matched one to one by label at IoU ≥ 0.5. Boxes drawn by hand
    never land on the same pixels, so equal JSON put every boxed image among the items
    of most disagreement, however well the annotators agreed.
    """
    groups: list[tuple[dict[str, Any], int]] = []
    for a in given:
        answer = a.answer or {}
        for i, (first, n) in enumerate(groups):
            if gold_agrees(first, answer) and gold_agrees(answer, first):
                groups[i] = (first, n + 1)
                break
        else:
            groups.append((answer, 1))
    return max(n for _, n in groups)


def disagreements(svc: Services, job: LabelingJobRecord,
                  answers: list[AssignmentRecord]) -> list[Disagreement]:
    """The items whose answers differ most (items with two answers or more).

    ``status`` measures agreement over the job; which items cause it is read here from
    the job's answers, as the export reads them. Two answers are the same when their
    normalised bodies are equal (the service stores labels and spans in one order).
    """
    by_item: dict[str, list[AssignmentRecord]] = defaultdict(list)
    for a in answers:
        by_item[a.item].append(a)
    scored = []
    for item, given in by_item.items():
        if len(given) < 2:
            continue
        score = 1 - _most_agreeing(given) / len(given)
        if score > 0:
            scored.append((score, given[0].position, item, given))
    scored.sort(key=lambda s: (-s[0], s[1]))
    out = []
    for score, position, item, given in scored[:DISAGREEMENTS_SHOWN]:
        content = svc.labeling.content(job, position)
        text = (content["text"] if "text" in content else content["image"]["path"]
                if "image" in content else json.dumps(content.get("row"), default=str))
        text = str(text)
        out.append(Disagreement(item, score, [(a.annotator, _summary(a.answer)) for a in given],
                                text if len(text) <= SNIPPET else text[:SNIPPET - 1] + "…"))
    return out


@router.get(BASE + "/{name}")
def job_page(request: Request, name: str, svc: Services = Depends(services)) -> HTMLResponse:
    """A job's progress, agreement, each annotator's figures and the items with the most
    disagreement (REST: ``GET /api/v1/labeling-jobs/{name}/status``), Stop and Export."""
    try:
        who = authorize(request, svc, "read")
        status = svc.labeling.status(name)
        worst = disagreements(svc, status.job, svc.labeling.repo.answers(status.job.name))
    except ShipyardError as exc:
        return error_page(request, exc)
    c = status.counts
    return render(request, "labeling/job.html", status=status, job=status.job, counts=c,
                  percent=_percent(c.complete, c.total), worst=worst,
                  may_stop=who.can("write") and who.may_change(status.job.created_by)
                  and status.job.status == "Running",
                  may_label=svc.labeling.may_label(status.job, who), methods=METHODS)


@router.post(BASE + "/{name}/stop")
async def stop(request: Request, name: str, svc: Services = Depends(services)) -> Response:
    """Hand out no more items (REST: ``POST /api/v1/labeling-jobs/{name}/stop``: write,
    and the job's creator or an admin)."""
    try:
        who = authorize(request, svc, "write", ("labeling_job", {"name": name}))
        await run(lambda: svc.labeling.stop(name, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@router.post(BASE + "/{name}/export")
async def export(request: Request, name: str, svc: Services = Depends(services)
                 ) -> HTMLResponse:
    """Write the consolidated labels as a new dataset version (REST: ``POST /api/v1/
    labeling-jobs/{name}/export``: write; a new version of an existing dataset only for
    its creator or an admin)."""
    from shipyard.studio._web import read_form

    try:
        who = authorize(request, svc, "write")
        form = await read_form(request)
        output = (form.get("output") or "").strip()
        method = form.get("method") or "dawid_skene"
        if not output:
            raise BadRequest("Name the dataset the labels are written to (Output dataset).")

        def go() -> Any:
            with suppress(NotFound):
                check_owner(who, f"Dataset {output!r}", svc.datasets.get(output).created_by)
            return svc.labeling.export(name, output, method=method, actor=who.name)

        version = await run(go)
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "labeling/_exported.html", http_status=201, version=version)
