"""The model a job saved: which job's it is (a tuning or AutoML job's best), and its files.

The registry (``models register --job``) and the kinds that take a job's model
(``evaluate``) read it through these two functions, so both pick the same job and
name the same files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.errors import Conflict, InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.store import JobRecord, JobRepository

#: Where a job's model files sit among its outputs; a bundle names them relative to it.
MODEL_PREFIX = "model/"


def model_job(jobs: JobRepository, job: JobRecord, *, use: str, pick: str) -> JobRecord:
    """The job whose model ``job`` stands for: a tuning job's is its best settings' (the
    scoring job: the best trial's settings, scored on test); an AutoML job's is its final
    model (the best candidate or the ensemble, scored on test); any other job is its own.

    Args:
        use: what is done with the model, for the messages ("registered", "evaluated").
        pick: how to take one of an unfinished AutoML job's completed candidates instead
            (a clause, e.g. "or pick a completed candidate with --candidate N").

    Raises:
        Conflict: a tuning or AutoML job that has no best model yet.
    """
    if job.kind == "automl":
        board = (job.outputs or {}).get("automl") or {}
        if job.status != "Completed" or not board.get("model_job_id"):
            raise Conflict(f"AutoML job {job.id} is {job.status}; its final model can be "
                           f"{use} once it is Completed ({pick}).")
        return jobs.get(str(board["model_job_id"]))
    if job.kind == "tuning":
        best = ((job.outputs or {}).get("study") or {}).get("best") or {}
        if job.status != "Completed" or not best.get("model_job_id"):
            raise Conflict(f"Tuning job {job.id} is {job.status}; its best model can be "
                           f"{use} once it is Completed.")
        return jobs.get(str(best["model_job_id"]))
    return job


def job_model_files(job: JobRecord, *, use: str) -> list[dict[str, Any]]:
    """The files of the model a Completed job saved (its ``model/`` folder), each named
    relative to that folder as a bundle names them, with its SHA-256 and size.

    Raises:
        Conflict: the job is not Completed. InvalidRequest: it saved no model.
    """
    if job.status != "Completed":
        raise Conflict(f"Job {job.id} is {job.status}; only a Completed job's model can be "
                       f"{use}.")
    files = [{**f, "path": str(f["path"]).removeprefix(MODEL_PREFIX)}
             for f in ((job.outputs or {}).get("model") or {}).get("files") or []]
    if not files:
        raise InvalidRequest(f"Job {job.id} saved no model; a job's model is what it writes "
                             "to its model/ folder.")
    return files
