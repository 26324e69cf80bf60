"""Train a model from a dataset's page: the form's choices, and the action that submits
the training job (``POST /studio/datasets/{name}/train``).

The action is ``POST /api/v1/jobs`` with ``kind: training`` done from a form: the REST
route's check (permission to write), then the same service call with the spec the form
describes. The studio checks only what the form itself can get wrong (no target, a
column or algorithm that is not on offer), so the message names the field; everything
else (a constant target, a recipe that leaves nothing) is the service's own 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from shipyard.api._context import Services, services
from shipyard.errors import ShipyardError
from shipyard.names import did_you_mean, names_hint
from shipyard.store import VersionRecord
from shipyard.studio._security import PREFIX
from shipyard.studio._web import BadRequest, action_error, authorize, read_form, run

router = APIRouter(include_in_schema=False)

#: The algorithm the form starts on: strong on most tables, fast, native categoricals
#: (Canvas's quick build uses it too).
DEFAULT_ALGORITHM = "lightgbm"
#: Semantic types the default recipe drops by itself (``shipyard.features``), said next
#: to those columns so nobody ticks them for nothing, or thinks the model sees them.
DROPPED_BY_DEFAULT = frozenset({"identifier", "row_number"})


@dataclass(frozen=True)
class Choice:
    """One option of the form: a value and the words shown for it."""

    value: str
    label: str


def algorithms() -> list[Choice]:
    """The built-in algorithms that learn a target (binary, multiclass, regression): the
    registry's own list, as ``GET /api/v1/algorithms`` shows it, less clustering, PCA
    and anomaly detection, which a target-first form cannot use, and forecasting, which
    needs a time column the form does not ask for (docs/forecast.md)."""
    from shipyard.training import ALGORITHMS

    infos = [ALGORITHMS[name].info for name in sorted(ALGORITHMS)]
    return [Choice(i.name, f"{i.name}: {i.description}") for i in infos
            if i.supervised and "forecasting" not in i.problem_types]


def train_form(shown: VersionRecord) -> dict[str, Any]:
    """The dataset page's context for its train form: the shown version's columns (with
    a note on those the default recipe leaves out anyway) and the algorithms."""
    columns = []
    for field in shown.schema:
        semantic = str(field.get("semantic_type") or "")
        note = f"{semantic}: left out by the default recipe" \
            if semantic in DROPPED_BY_DEFAULT else ""
        columns.append({"name": str(field["name"]), "note": note})
    return {"columns": columns, "algorithms": algorithms(),
            "default_algorithm": DEFAULT_ALGORITHM}


@router.post(PREFIX + "/datasets/{name}/train")
async def train(request: Request, name: str, svc: Services = Depends(services)) -> Response:
    """Submit a training job on the shown version (REST: ``POST /api/v1/jobs`` with
    ``kind: training``); then on to the job's page."""
    try:
        who = authorize(request, svc, "write")
        form = await read_form(request)
        job = await run(lambda: _submit(svc, name, form, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Redirect": f"{PREFIX}/jobs/{job}"})


def training_spec(name: str, shown: VersionRecord, form: dict[str, str]) -> dict[str, Any]:
    """The job spec the form describes, as a ``POST /api/v1/jobs`` body.

    Raises:
        BadRequest: no target, or a target, column or algorithm the form did not offer.
    """
    columns = [str(f["name"]) for f in shown.schema]
    ref = f"{name}:{shown.version}"
    target = form.get("target", "").strip()
    if not target:
        raise BadRequest("Pick the column to predict (the target).")
    if target not in columns:
        raise BadRequest(f"The target {target!r} is not a column of {ref}; "
                         f"{names_hint(target, columns, 'column')}. Pick it from the list.")
    offered = [a.value for a in algorithms()]
    algorithm = form.get("algorithm", "").strip()
    if algorithm not in offered:
        raise BadRequest(f"Unknown algorithm {algorithm!r}; pick one of {', '.join(offered)}."
                         + did_you_mean(algorithm, offered))
    drop = [key.removeprefix("drop.") for key, value in form.items()
            if key.startswith("drop.") and value]
    unknown = [c for c in drop if c not in columns]
    if unknown:
        raise BadRequest(f"Cannot leave out {unknown[0]!r}: it is not a column of {ref}; "
                         f"{names_hint(unknown[0], columns, 'column')}.")
    if target in drop:
        raise BadRequest(f"The target {target!r} cannot be left out; untick it, or pick "
                         "another target.")
    body: dict[str, Any] = {"kind": "training", "algorithm": algorithm, "target": target,
                            "inputs": {"train": ref}}
    # Blank fields are left to the service: the experiment defaults to the dataset's name.
    for field in ("experiment", "name"):
        value = form.get(field, "").strip()
        if value:
            body[field] = value
    if drop:
        body["recipe"] = {"extends": "default", "drop": drop}
    return body


def _submit(svc: Services, name: str, form: dict[str, str], actor: str) -> str:
    try:
        version = int(form.get("version", ""))
    except ValueError:
        raise BadRequest("The form names no dataset version; reload the page and send it "
                         "again.") from None
    shown = svc.datasets.version(name, version)
    job, _ = svc.jobs.submit(training_spec(name, shown, form), actor)
    return job.id
