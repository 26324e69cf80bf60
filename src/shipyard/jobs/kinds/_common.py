"""What several kinds share at submit and staging: storing a script, pinning a model.

Submit time runs in the control plane (a :class:`SubmitContext` gives the services);
staging helpers only read the stored spec and name artifact-store keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import SubmitContext
from shipyard.jobs._package import StagedFile
from shipyard.jobs._spec import parse_model_ref
from shipyard.runtime import _contract as c

#: The most instances one job may spread over (``instances``).
MAX_INSTANCES = 64
#: A bundle's manifest (``shipyard.bundle.MANIFEST``; not imported, to keep the ML
#: libraries out of the control plane's kind modules).
MANIFEST = "MODEL.json"
#: The entry of every kind that runs the user's own script.
SCRIPT_ENTRY = "shipyard.runtime._script:main"


def store_script(ctx: SubmitContext[Any]) -> None:
    """Keep the script and the requirements as blobs; the stored spec names them by SHA-256."""
    spec = ctx.spec
    blob = ctx.artifacts.put_bytes(spec.script.source.encode())
    ctx.stored["script"] = {"filename": spec.script.filename, "sha256": blob.sha256,
                            "size": blob.size}
    ctx.stored["requirements"] = None
    if spec.requirements:
        req = ctx.artifacts.put_bytes(spec.requirements.encode())
        ctx.stored["requirements"] = {"sha256": req.sha256, "size": req.size}


def script_file(stored: Mapping[str, Any]) -> list[StagedFile]:
    """The script, staged as ``code/<filename>``."""
    script = stored["script"]
    return [StagedFile(f"{c.CODE_DIR}/{script['filename']}", script["sha256"],
                       int(script["size"]), "The job's script")]


def pin_model(ctx: SubmitContext[Any]) -> None:
    """Name the model version and every file of its bundle by SHA-256 in the stored spec.

    The executor then needs no registry, and a retry runs the very same bundle.

    Raises:
        NotFound: no such model version. InvalidRequest: its bundle has no MODEL.json.
    """
    group, number = parse_model_ref(ctx.spec.model or "")
    version = ctx.models.get(group, number)  # NotFound → 404
    files = (version.bundle or {}).get("files") or []
    if not any(f.get("path") == MANIFEST for f in files):
        raise InvalidRequest(f"Model {group}:{number} has no {MANIFEST} in its bundle; "
                             f"only a bundle of a built-in training job can run a "
                             f"{ctx.spec.kind} job.")
    ctx.stored["model"] = {"group": group, "version": number,
                           "files": [{"path": f["path"], "sha256": f["sha256"],
                                      "size": f["size"]} for f in files]}


def pin_job_model(ctx: SubmitContext[Any], job_id: str, use: str) -> dict[str, Any]:
    """Name the model job ``job_id`` saved (a tuning or AutoML job's best) and every file of
    its bundle by SHA-256 in the stored spec, as :func:`pin_model` does for a version;
    return its MODEL.json. ``use`` says what is done with it ("evaluated"), for messages.

    Raises:
        NotFound: no such job. Conflict: it is not Completed (or has no best model yet).
        InvalidRequest: it saved no model, or one with no MODEL.json.
    """
    from shipyard.jobs._job_models import job_model_files, model_job
    from shipyard.store import JobRepository

    jobs = ctx.jobs or JobRepository(ctx.models.db, ctx.models.events)
    job = model_job(jobs, jobs.get(job_id), use=use,
                    pick="or name one of its completed candidates' jobs: `shipyard automl "
                         f"leaderboard {job_id}` lists them")
    files = job_model_files(job, use=use)
    manifest = next((f for f in files if f["path"] == MANIFEST), None)
    if manifest is None:
        raise InvalidRequest(f"Job {job.id} saved no {MANIFEST} in its model/ folder; only a "
                             f"bundle (as built-in training jobs write) can be {use}.")
    try:
        doc = json.loads(ctx.artifacts.read_bytes(manifest["sha256"]))
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise InvalidRequest(f"The {MANIFEST} of job {job.id}'s model is not a JSON object; "
                             "train the model again.")
    ctx.stored["model"] = {"job": job.id,
                           "files": [{"path": f["path"], "sha256": f["sha256"],
                                      "size": f["size"]} for f in files]}
    return doc


def model_ref(stored: Mapping[str, Any]) -> str:
    """``group:version`` of a pinned registered version, or the id of the job whose model
    was pinned."""
    model = stored["model"]
    if "group" not in model:
        return str(model["job"])
    return f"{model['group']}:{model['version']}"


def model_label(stored: Mapping[str, Any], *, start: bool = False) -> str:
    """The pinned model in a sentence: "model churn:3" or "the model of job job-…"
    (capitalised to ``start`` one)."""
    label = (f"model {model_ref(stored)}" if "group" in stored["model"]
             else f"the model of job {model_ref(stored)}")
    return label[0].upper() + label[1:] if start else label


def model_files(stored: Mapping[str, Any]) -> list[StagedFile]:
    """The pinned bundle's files, staged under ``input/model/`` (paths checked at staging)."""
    model = stored["model"]
    what = model_label(stored, start=True)
    return [StagedFile(f"{c.INPUT_MODEL_DIR}/{f['path']}", f["sha256"], int(f["size"]), what)
            for f in model["files"]]


def check_instances(ctx: SubmitContext[Any], what: str) -> None:
    """``instances`` > 1 needs the Ray executor: refused at submit (400) elsewhere."""
    instances = int(ctx.stored.get("instances") or 1)
    executor = ctx.settings.executor if ctx.settings is not None else "local"
    if instances > 1 and executor != "ray":
        raise InvalidRequest(
            f"instances={instances}: {what} spreads over several instances only on the Ray "
            f"executor (SHIPYARD_EXECUTOR=ray), and this server runs jobs on {executor!r}; "
            "use instances=1.")


def target_zeros(datasets: Any, dataset: str, version: int | None, target: str) -> int:
    """How many rows of a dataset version hold 0 in ``target``, counted over every row
    with the service's ``value_counts`` (one column read a batch at a time)."""
    counts = datasets.value_counts(dataset, version, [target])[target]
    values = counts.column(target).to_numpy(zero_copy_only=False)
    n = counts.column("count").to_numpy(zero_copy_only=False)
    try:
        return int(n[values.astype("float64") == 0].sum())
    except (TypeError, ValueError):  # a text column: MAPE is refused as not numeric
        return 0
