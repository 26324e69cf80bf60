"""The tuning driver: one step of a tuning job, run by the supervisor on every tick.

A tuning job runs no process. Each tick :func:`drive` reads its trials (ordinary
``training`` jobs whose spec carries ``tuning.job``), rebuilds the study from them,
and then does whichever one thing is due:

1. the job is Stopping: cancel its active trials; once none is active, Stopped;
2. the study may go on (trials left, runtime left, not ``patience`` trials in a row
   without improvement, grid not exhausted): submit trials until ``parallel`` are
   active, each through the job service (so the executor runs them P at a time);
3. the study is over and no trial is active: submit the *scoring* job, the best
   trial's settings trained again with ``score_test`` (number -1) - the only job of the
   study that sees the test split; once it completed, the tuning job is Completed.
   (A study over a script has no scoring job: the best trial's model is the study's.)

With ``hyperband``, each running trial is first judged on its per-round validation loss
(the ``curve.validation.*`` points its fit logs while it runs) by Optuna's
HyperbandPruner: a pruned trial is marked in its spec (``tuning.pruned``) and cancelled,
so its process ends; the rung values it reached are kept in ``tuning.system_attrs``.

Every decision is derived from the store, so nothing is lost or repeated when the
control plane restarts between two ticks: a trial exists as a job or not at all, and a
trial's number is the count of trials before it. Results (``trials``, ``best``) are
written into the tuning job's ``outputs`` on every tick, so ``jobs show`` follows along.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.errors import NotFound
from shipyard.jobs import _states as st
from shipyard.jobs._kinds import DriveContext
from shipyard.store import JobRecord, utcnow
from shipyard.tuning._pruning import prune_running
from shipyard.tuning._space import (
    ALGORITHM,
    SearchSpace,
    space_params,
    study_algorithms,
    trial_settings,
)
from shipyard.tuning._study import (
    COMPLETE,
    FAIL,
    PRUNED,
    RUNNING,
    StoredTrial,
    Suggestion,
    direction,
    suggest,
)

log = logging.getLogger("shipyard.tuning")

#: The trial number of the scoring job (the best settings, scored on test).
SCORING = -1
#: Statuses of a child job still running or about to (the AutoML driver shares them).
ACTIVE = (st.PENDING, st.STARTING, st.RUNNING, st.STOPPING)
#: The file that marks a trial's complete ``output/prepared/`` (shipyard.training._prepared).
PREPARED_META = "prepared.json"


def children(ctx: DriveContext, job: JobRecord | None = None) -> list[JobRecord]:
    """The training jobs of a tuning job (its trials and its scoring job), oldest first."""
    job = job or ctx.job
    kind = "script" if job.spec.get("script") else "training"
    found = ctx.jobs.repo.list(kind=kind, experiment=job.experiment, limit=100_000,
                               oldest_first=True)
    return [j for j in found if (j.spec.get("tuning") or {}).get("job") == job.id]


def _key(spec: Mapping[str, Any]) -> str:
    """The metric a trial is judged by: ``validation.<objective>`` for a built-in
    algorithm, the metric as a script logs it."""
    return str(spec.get("objective_metric") or f"validation.{spec['objective']}")


def _goal(spec: Mapping[str, Any]) -> str:
    """minimize or maximize (pinned at submit; inferred for studies from before)."""
    return str(spec.get("direction") or direction(str(spec["objective"])))


def _trial_algorithm(j: JobRecord) -> str:
    """A trial's algorithm (``script`` for a script job)."""
    return str(j.spec.get("algorithm") or j.kind)


def _algorithm(spec: Mapping[str, Any]) -> str:
    """A one-algorithm study's algorithm."""
    return str((spec.get("algorithms") or [spec["algorithm"]])[0])


def _params(j: JobRecord, space: SearchSpace, study_algorithm: str) -> dict[str, Any] | None:
    """A training job's parameters as the study names them; None: not of its algorithms."""
    hp = j.spec.get("hyperparameters") or {}
    if study_algorithms(space) is None:
        if _trial_algorithm(j) != study_algorithm:
            return None
        return {n: hp.get(n) for n in space.names}
    return space_params(space, _trial_algorithm(j), hp)


def _seeds(ctx: DriveContext, space: SearchSpace) -> list[StoredTrial]:
    """The completed trials of the studies this one starts from (``warm_start``), in this
    study's names: told to the sampler before its own trials."""
    spec, out = ctx.job.spec, list[StoredTrial]()
    for job_id in spec.get("warm_start") or []:
        try:
            earlier = ctx.jobs.repo.get(job_id)
        except NotFound:  # deleted since: nothing to learn from
            continue
        kids = [j for j in children(ctx, earlier) if _number(j) >= 0
                and j.status == st.COMPLETED]
        metrics = ctx.jobs.repo.last_metrics([j.id for j in kids])
        for j in kids:
            value = metrics[j.id].get(_key(spec))
            params = _params(j, space, _algorithm(spec))
            if value is not None and params is not None:
                out.append(StoredTrial(number=len(out), params=params, state=COMPLETE,
                                       value=value))
    return out


def _number(j: JobRecord) -> int:
    return int((j.spec.get("tuning") or {}).get("number", SCORING))


def _state(status: str) -> str:
    return COMPLETE if status == st.COMPLETED else FAIL if status in st.TERMINAL else RUNNING


def _seconds(j: JobRecord) -> float | None:
    """A finished trial's run time (None while it runs: the results change only when a
    trial does, so they are written only then)."""
    if j.started_at is None or j.ended_at is None:
        return None
    return round((j.ended_at - j.started_at).total_seconds(), 3)


def _split(metrics: Mapping[str, float], split: str) -> dict[str, float]:
    prefix = f"{split}."
    return {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}


def drive(ctx: DriveContext) -> None:
    """One step of the tuning job ``ctx.job`` (see the module's docstring)."""
    job, spec = ctx.job, ctx.job.spec
    space = SearchSpace.from_list(spec["space"])
    metric = str(spec["objective"])
    kids = children(ctx)
    trials = sorted((j for j in kids if _number(j) >= 0), key=_number)
    scoring = next((j for j in kids if _number(j) == SCORING), None)
    metrics = ctx.jobs.repo.last_metrics([j.id for j in kids])
    stored = [stored_trial(j, metrics[j.id], _key(spec), space) for j in trials]
    if spec["strategy"] == "hyperband" and job.status == st.RUNNING:
        stored = _prune(ctx, trials, stored, metrics)
    active = [j for j in kids if j.status in ACTIVE]

    if job.status == st.STOPPING:
        for j in active:
            ctx.jobs.cancel(j.id, job.created_by)
        if not active:
            st.transition(ctx.jobs.repo, job.id, st.STOPPED, st.STOPPING, ended_at=utcnow(),
                          outputs=_results(job, trials, stored, scoring, metrics, "stopped"))
        return

    # A trial the server's shutdown cut short is kept (as failed) but not counted: the
    # study starts another in its place once the control plane is back.
    counted = len(stored) - sum(1 for j in trials if j.reason == st.SERVER_SHUTDOWN)
    why_over = _over(job, stored, counted, space)
    if why_over is None:
        running = sum(1 for t in stored if t.state == RUNNING)
        want = min(int(spec["parallel"]) - running, int(spec["max_trials"]) - counted)
        for _ in range(max(0, want)):
            trial, asked = _submit_trial(ctx, space, metric, stored, trials)
            trials.append(trial)
            stored.append(StoredTrial(number=asked.number, params=asked.params, state=RUNNING,
                                      system_attrs=asked.system_attrs))
            if spec["strategy"] == "grid" and len(stored) >= space.grid_size():
                break
    elif why_over == "max_runtime":
        for j in trials:
            if j.status in ACTIVE:
                ctx.jobs.cancel(j.id, job.created_by)
    if any(t.state == RUNNING for t in stored) or why_over is None:
        _record(ctx, _results(job, trials, stored, scoring, metrics, "running"))
        return
    _finish(ctx, trials, stored, scoring, metrics, why_over)


def stored_trial(j: JobRecord, metrics: Mapping[str, float], key: str,
            space: SearchSpace) -> StoredTrial:
    tuning = j.spec.get("tuning") or {}
    state = _state(j.status)
    value = metrics.get(key)
    if state == COMPLETE and value is None:
        state = FAIL  # completed without the objective (e.g. an empty validation split)
    pruned = tuning.get("pruned")
    return StoredTrial(number=_number(j), params=_params(j, space, _trial_algorithm(j)) or {},
                       state=PRUNED if pruned else state, value=None if pruned else value,
                       system_attrs=tuning.get("system_attrs") or {},
                       intermediate={int(pruned["round"]): float(pruned["loss"])}
                       if pruned else {})


def _prune(ctx: DriveContext, trials: Sequence[JobRecord], stored: list[StoredTrial],
           metrics: Mapping[str, Mapping[str, float]]) -> list[StoredTrial]:
    """Judge each running trial with Hyperband (see :func:`prune_running`)."""
    return prune_running(ctx, trials, stored, metrics, int(ctx.job.spec["max_rounds"]),
                         who=f"tuning job {ctx.job.id}")


def _best(stored: Sequence[StoredTrial], goal: str) -> StoredTrial | None:
    done = [t for t in stored if t.state == COMPLETE and t.value is not None]
    if not done:
        return None
    sign = -1.0 if goal == "minimize" else 1.0
    return max(done, key=lambda t: (sign * float(t.value or 0), -t.number))


def _over(job: JobRecord, stored: Sequence[StoredTrial], counted: int,
          space: SearchSpace) -> str | None:
    """Why no further trial starts (a stopping reason), or None while the study goes on."""
    spec = job.spec
    if counted >= int(spec["max_trials"]):
        return "max_trials"
    if spec["strategy"] == "grid" and len(stored) >= space.grid_size():
        return "grid_exhausted"
    started = job.started_at.timestamp() if job.started_at else time.time()
    if time.time() - started > float(spec["max_runtime_seconds"]):
        return "max_runtime"
    patience = spec.get("patience")
    if patience:
        finished = [t for t in stored if t.state != RUNNING]
        best = _best(finished, _goal(spec))
        if best is not None and sum(1 for t in finished if t.number > best.number) >= patience:
            return "no_improvement"
    return None


def _submit_trial(ctx: DriveContext, space: SearchSpace, metric: str,
                  stored: Sequence[StoredTrial],
                  trials: Sequence[JobRecord]) -> tuple[JobRecord, Suggestion]:
    spec = ctx.job.spec
    seeds = _seeds(ctx, space) if spec.get("warm_start") else []
    s = suggest(str(spec["strategy"]), space, metric, int(spec.get("seed") or 0), stored,
                seeds, goal=_goal(spec))
    algorithm, hyperparameters = trial_settings(space, s.params, spec.get("fixed") or {},
                                                _algorithm(spec))
    job = _submit(ctx, algorithm, hyperparameters, s.number, s.system_attrs,
                  score_test=False, prepared=_prepared_source(ctx, algorithm, trials))
    return job, s


def _prepared_source(ctx: DriveContext, algorithm: str,
                     trials: Sequence[JobRecord]) -> dict[str, Any] | None:
    """``{"job", "files"}`` of a completed one of ``trials`` (this tick's, oldest first)
    of ``algorithm`` that kept its prepared data (shipyard.training._prepared), the
    latest; None while none has."""
    if ctx.job.spec.get("script"):
        return None
    return prepared_source(algorithm, trials)


def prepared_source(algorithm: str, trials: Sequence[JobRecord]) -> dict[str, Any] | None:
    """``{"job", "files"}`` of the latest completed training job of ``trials`` (oldest
    first) of ``algorithm`` that kept its prepared data; None while none has."""
    for trial in reversed(trials):
        files = [f for f in (trial.outputs or {}).get("files") or []
                 if str(f.get("path", "")).startswith("output/prepared/")]
        if trial.status == st.COMPLETED and trial.spec.get("algorithm") == algorithm and \
                any(f["path"] == f"output/prepared/{PREPARED_META}" for f in files):
            return {"job": trial.id, "files": [{k: f[k] for k in ("path", "sha256", "size")}
                                               for f in files]}
    return None


def _submit(ctx: DriveContext, algorithm: str, hyperparameters: Mapping[str, Any],
            number: int, system_attrs: Mapping[str, Any], *, score_test: bool,
            prepared: Mapping[str, Any] | None = None) -> JobRecord:
    job, spec = ctx.job, ctx.job.spec
    label = "scoring" if number == SCORING else f"trial {number}"
    common = {
        "inputs": {ch: f"{r['dataset']}:{r['version']}" for ch, r in spec["inputs"].items()},
        "hyperparameters": dict(hyperparameters),
        "resources": {"cpus": spec["resources"]["cpus"],
                      "memory": spec["resources"]["memory"]},
        "retries": spec.get("retries", 0), "experiment": job.experiment,
        "tags": {"tuning_job": job.id, "tuning_trial": str(number)},
        "notes": f"{label} of tuning job {job.id}",
        "tuning": {"job": job.id, "number": number, "system_attrs": dict(system_attrs)},
    }
    if spec.get("script"):  # a script job given the trial's hyperparameters
        artifacts = ctx.jobs.artifacts
        requirements = spec.get("requirements")
        body: dict[str, Any] = {
            **common, "kind": "script",
            "script": {"filename": spec["script"]["filename"],
                       "source": artifacts.read_bytes(spec["script"]["sha256"]).decode()},
            "requirements": artifacts.read_bytes(requirements["sha256"]).decode()
            if requirements else None,
            "metric_definitions": spec.get("metric_definitions") or [],
        }
    else:
        body = {
            **common, "kind": "training", "algorithm": algorithm,
            "target": spec.get("target"), "problem_type": spec.get("problem_type"),
            "split": spec.get("split"), "recipe": spec.get("recipe"),
            "score_test": score_test,
            "plots": score_test,  # only the scored best's bundle is one to look at
        }
        if number != SCORING:  # trials share one preparation of the data (the scoring
            # job prepares its own, the test split included, from the raw inputs)
            body["tuning"] = {**common["tuning"], "prepared": prepared,
                              "save_prepared": prepared is None}
    trial, _ = ctx.jobs.submit(body, job.created_by)
    log.info("tuning job %s: %s is job %s", job.id, label, trial.id)
    return trial


def _results(job: JobRecord, trials: Sequence[JobRecord], stored: Sequence[StoredTrial],
             scoring: JobRecord | None, metrics: Mapping[str, Mapping[str, float]],
             state: str, stopped_by: str | None = None) -> dict[str, Any]:
    """The tuning job's outputs: ``{"study": {objective, state, stopped_by, trials, best}}``."""
    key, goal = _key(job.spec), _goal(job.spec)
    script = bool(job.spec.get("script"))
    by_number = {t.number: t for t in stored}
    rows = []
    for j in trials:
        t = by_number[_number(j)]
        pruned = (j.spec.get("tuning") or {}).get("pruned")
        if t.state == COMPLETE:
            trial_state = "complete"
        elif pruned:
            trial_state = "pruned"
        elif j.status == st.COMPLETED:  # it ran, but measured no objective
            trial_state = "no_objective"
        else:
            trial_state = j.status.lower()
        algorithm = _trial_algorithm(j)
        searched = {k.removeprefix(f"{algorithm}."): v for k, v in t.params.items()
                    if k != ALGORITHM}
        row = {"number": t.number, "job_id": j.id, "algorithm": algorithm,
               "hyperparameters": searched,
               "objective": t.value, "state": trial_state, "duration_seconds": _seconds(j)}
        if pruned:
            row["pruned_at"] = {"round": pruned["round"], pruned["metric"]: pruned["loss"]}
        rows.append(row)
    out: dict[str, Any] = {
        "objective": {"metric": key, "direction": goal},
        "state": state, "trials": rows, "best": None,
    }
    if stopped_by:
        out["stopped_by"] = stopped_by
    best = _best(stored, goal)
    if best is not None:
        bj = next(j for j in trials if _number(j) == best.number)
        out["best"] = {
            "trial_job_id": bj.id, "number": best.number, "algorithm": _trial_algorithm(bj),
            "hyperparameters": dict(bj.spec.get("hyperparameters") or {}),
            "objective": best.value, "validation": _split(metrics.get(bj.id, {}), "validation"),
            "test": None, "model_job_id": None,
        }
        if script:  # its metrics as it logged them; its own model is the study's
            out["best"]["validation"] = {
                k: v for k, v in metrics.get(bj.id, {}).items()
                if not k.startswith("curve.") and k != "progress"}
            out["best"]["model_job_id"] = bj.id if bj.status == st.COMPLETED else None
        if scoring is not None and scoring.status == st.COMPLETED:
            out["best"]["test"] = _split(metrics.get(scoring.id, {}), "test")
            out["best"]["model_job_id"] = scoring.id
            out["best"]["scoring_validation"] = _split(metrics.get(scoring.id, {}),
                                                       "validation")
    return {"study": out}


def _record(ctx: DriveContext, outputs: dict[str, Any]) -> None:
    """Write the study's results on the tuning job when they changed (not on every tick)."""
    if outputs != ctx.job.outputs:
        ctx.jobs.repo.update_fields(ctx.job.id, outputs=outputs)


def _finish(ctx: DriveContext, trials: Sequence[JobRecord], stored: Sequence[StoredTrial],
            scoring: JobRecord | None, metrics: Mapping[str, Mapping[str, float]],
            why: str) -> None:
    """The study is over: score the best settings on test once, then end the job (a study
    over a script ends at once: its trials' models are the models)."""
    job, repo = ctx.job, ctx.jobs.repo
    best = _best(stored, _goal(job.spec))
    if best is None:
        first = next((j for j in trials if j.status == st.FAILED), None)
        hint = f" Trial {first.id} failed: {first.message}" if first is not None else ""
        st.transition(repo, job.id, st.FAILED, st.RUNNING, reason=st.SCRIPT_ERROR,
                      message=f"No trial of the study completed.{hint}", ended_at=utcnow(),
                      outputs=_results(job, trials, stored, None, metrics, "failed", why))
        return
    if job.spec.get("script"):
        st.transition(repo, job.id, st.COMPLETED, st.RUNNING, ended_at=utcnow(),
                      outputs=_results(job, trials, stored, None, metrics, "completed", why))
        return
    if scoring is None:
        bj = next(j for j in trials if _number(j) == best.number)
        _submit(ctx, str(bj.spec["algorithm"]), bj.spec.get("hyperparameters") or {}, SCORING,
                {}, score_test=True)
        _record(ctx, _results(job, trials, stored, None, metrics, "scoring", why))
        return
    if scoring.status in ACTIVE:
        _record(ctx, _results(job, trials, stored, scoring, metrics, "scoring", why))
        return
    results = _results(job, trials, stored, scoring, metrics, "completed", why)
    if scoring.status == st.COMPLETED:
        st.transition(repo, job.id, st.COMPLETED, st.RUNNING, ended_at=utcnow(),
                      outputs=results)
    else:
        st.transition(repo, job.id, st.FAILED, st.RUNNING, reason=st.SCRIPT_ERROR,
                      message=f"Scoring the best settings on test (job {scoring.id}) ended "
                              f"{scoring.status}: {scoring.message}", ended_at=utcnow(),
                      outputs={"study": {**results["study"], "state": "failed"}})
