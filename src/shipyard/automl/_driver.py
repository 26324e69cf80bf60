"""The AutoML driver: one step of an AutoML job, run by the supervisor on every tick.

An AutoML job runs no process. Each tick :func:`drive` reads its children from the store
(candidates: ``training`` jobs whose spec carries ``tuning.job`` = the AutoML job; the
final model: an ``ensemble`` job whose spec carries ``automl.job``) and does the one
thing that is due:

1. the job is Stopping: cancel its active children; once none is active, Stopped;
2. the search goes on (candidates left, time left before the reserve): judge each running
   boosting candidate of the search on its live validation loss (successive halving on
   rounds, :func:`_prune`; the pruned are marked and cancelled), then submit
   candidates until ``parallel`` are active. The first come from the pinned portfolio,
   in order, skipping any whose expected run time (its algorithm's median so far) would
   pass the search's end; then the tuning sampler (TPE over the union of the
   algorithms' spaces, told every finished candidate) proposes the next;
3. the search's time is up: cancel the candidates still training;
4. nothing is active: submit the ``ensemble`` job over the best candidates (``caruana``
   selection in ensembling mode, ``best`` in hpo mode) - the only job that sees the
   test split; once it completed, the AutoML job is Completed, its model is that job's
   and its test metrics are copied onto it (``jobs show``: ``metrics.test.*``).

The budget is kept from the job's submit time: the search ends ``reserve`` seconds
before it, the time the final job is expected to take (see :func:`reserve`).

Every decision is derived from the store, so nothing is lost or repeated when the
control plane restarts between two ticks. The leaderboard (``outputs.automl``) is
written whenever it changes.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.automl._final import MEASURE_SECONDS, after_refit_seconds
from shipyard.automl._portfolio import BOOSTING, describe, search_recipe
from shipyard.errors import InvalidRequest
from shipyard.jobs import _states as st
from shipyard.jobs._kinds import DriveContext
from shipyard.store import JobRecord, MetricPoint, utcnow
from shipyard.training._progress import PROGRESS_METRIC
from shipyard.tuning._driver import ACTIVE, prepared_source, stored_trial
from shipyard.tuning._pruning import prune_running
from shipyard.tuning._space import SearchSpace, space_params, trial_settings
from shipyard.tuning._study import COMPLETE, PRUNED, RUNNING, StoredTrial, suggest

log = logging.getLogger("shipyard.automl")

#: Candidates an ensemble selects over, at most (the best by validation metric).
ENSEMBLE_CANDIDATES = 32
#: Seconds the final (ensemble) job is expected to take before its refits: the tick that
#: submits it, its start, staging, reading and selection. After them it keeps
#: :func:`~shipyard.automl._final.after_refit_seconds` for scoring, explaining and storing
#: (3.5 s, up to 6 s at churn's 7,000 rows). Measured submit → end with 30 s budgets and
#: no refit: 3.0 s on Sacramento (932 rows), 3.4 s on credit_data (4,454), 5.8 s on churn
#: (7,043); a flat 6.5 s left the small tables' jobs ending at 85–87% of their budget.
FINAL_FIXED_SECONDS = 2.5
#: Members an ensemble is expected to keep, for the refit's share of the reserve.
EXPECTED_MEMBERS = 3
#: How many more rows a refit trains on than a candidate did (train and validation
#: together, against train: 0.9 / 0.7 with the default split), with some slack.
REFIT_ROWS = 1.4
#: The reserve's largest share of the budget.
MAX_RESERVE = 0.25
#: Seconds before the budget's end the final job aims to end (its outputs are stored
#: after it exits).
STORE_SECONDS = 0.5
#: Seconds a candidate stopped by the budget gets between SIGTERM and SIGKILL.
CANCEL_GRACE = 0.5
#: Seconds between two flushes of a judged candidate's live curves (a training job's
#: default is 1 s): its fit may last a second or two, and it can only be pruned on the
#: points the control plane has seen (harvested every 0.5 s).
JUDGED_CURVE_SECONDS = 0.2
#: Sampler proposals tried per free slot before waiting for the next tick (a proposal
#: whose expected run time passes the search's end is not started).
PROPOSALS = 3


def children(ctx: DriveContext, job: JobRecord | None = None
             ) -> tuple[list[JobRecord], JobRecord | None]:
    """The candidates of an AutoML job (oldest first) and its final ensemble job."""
    job = job or ctx.job
    found = ctx.jobs.repo.list(kind="training", experiment=job.experiment, limit=100_000,
                               oldest_first=True)
    candidates = [j for j in found if (j.spec.get("tuning") or {}).get("job") == job.id]
    finals = [j for j in ctx.jobs.repo.list(kind="ensemble", experiment=job.experiment,
                                            limit=1000, oldest_first=True)
              if (j.spec.get("automl") or {}).get("job") == job.id]
    return candidates, (finals[-1] if finals else None)


def _number(j: JobRecord) -> int:
    return int((j.spec.get("tuning") or {}).get("number", -1))


def _portfolio_index(j: JobRecord) -> int | None:
    value = ((j.spec.get("tuning") or {}).get("system_attrs") or {}).get("portfolio")
    return int(value) if isinstance(value, int) else None


def _goal(spec: Mapping[str, Any]) -> str:
    return str(spec.get("direction") or "maximize")


def _started(job: JobRecord) -> float:
    """The budget counts from submit: the request's arrival (``submitted_at``, before
    the checks that read the profile), else the record's creation."""
    submitted = job.spec.get("submitted_at")
    return float(submitted) if isinstance(submitted, int | float) else \
        job.created_at.timestamp()


def _duration(j: JobRecord) -> float | None:
    if j.started_at is None or j.ended_at is None:
        return None
    return (j.ended_at - j.started_at).total_seconds()


def _pruned(j: JobRecord) -> bool:
    return bool((j.spec.get("tuning") or {}).get("pruned"))


def expected_seconds(algorithm: str, done: Sequence[JobRecord]) -> float | None:
    """How long a candidate of ``algorithm`` is expected to run: the median of its
    algorithm's finished candidates, else twice the median of all (None: none finished).
    Pruned candidates do not count: they ran a fraction of their rounds."""
    done = [j for j in done if not _pruned(j)]
    mine = [d for j in done if j.spec.get("algorithm") == algorithm
            and (d := _duration(j)) is not None]
    if mine:
        return statistics.median(mine)
    every = [d for j in done if (d := _duration(j)) is not None]
    return 2 * statistics.median(every) if every else None


def reserve(spec: Mapping[str, Any], ranked: Sequence[JobRecord] = ()) -> float:
    """Seconds kept at the end of the budget for the final job: starting it, selecting,
    refitting the members on every training row, then what its refits leave it
    (:func:`~shipyard.automl._final.after_refit_seconds`, the same figure its refits
    keep): scoring the test rows, explaining the model (SHAP and permutation importance)
    and storing. The members are not known before the selection, so the refit is
    estimated as the best candidates' run times (the best one in hpo mode, else the best
    :data:`EXPECTED_MEMBERS`) scaled to the refit's rows and spread over the CPUs the
    search used. At most :data:`MAX_RESERVE` of the budget."""
    rows = int(spec.get("rows") or 0)
    budget = float(spec["time_budget"])
    top = 1 if spec.get("resolved_mode") == "hpo" else EXPECTED_MEMBERS
    refit = sum(d for j in ranked[:top] if (d := _duration(j)) is not None)
    folds = int(spec.get("cv_folds") or 0)
    # A cross-validated candidate fitted K models on (K-1)/K of the rows a refit trains on.
    # Candidates searched on a sample of the training rows are refit on all of them.
    sample = int(spec.get("sample_rows") or 0)
    grow = max(REFIT_ROWS, int(spec.get("development_rows") or rows) / sample) if sample \
        else REFIT_ROWS
    refit *= (1 / (folds - 1) if folds else grow) / max(1, int(spec.get("parallel") or 1))
    final = FINAL_FIXED_SECONDS + MEASURE_SECONDS + after_refit_seconds(rows)
    return min(final + rows / 200_000 + refit, MAX_RESERVE * budget)


def drive(ctx: DriveContext) -> None:
    """One step of the AutoML job ``ctx.job`` (see the module's docstring)."""
    job, spec = ctx.job, ctx.job.spec
    space = SearchSpace.from_list(spec["space"])
    candidates, final = children(ctx)
    candidates.sort(key=_number)
    metrics = ctx.jobs.repo.last_metrics([j.id for j in candidates]
                                         + ([final.id] if final else []))
    stored = [stored_trial(j, metrics[j.id], str(spec["objective_metric"]), space)
              for j in candidates]
    if spec.get("prune") and job.status == st.RUNNING and final is None:
        stored = _prune(ctx, candidates, stored, metrics)
    active = [j for j in [*candidates, *([final] if final else [])] if j.status in ACTIVE]

    if job.status == st.STOPPING:
        for j in active:
            ctx.jobs.cancel(j.id, job.created_by)
        if not active:
            st.transition(ctx.jobs.repo, job.id, st.STOPPED, st.STOPPING, ended_at=utcnow(),
                          outputs=_results(ctx, candidates, stored, final, metrics,
                                           "stopped"))
        return

    now = time.time()
    ranked = [j for j, _ in _ranked(candidates, stored, _goal(spec))]
    search_end = _started(job) + float(spec["time_budget"]) - reserve(spec, ranked)
    counted = len(candidates) - sum(1 for j in candidates if j.reason == st.SERVER_SHUTDOWN)
    recorded = ((job.outputs or {}).get("automl") or {}).get("stopped_by")
    why_over = (str(recorded or "time_budget") if final is not None else
                "max_candidates" if counted >= int(spec["max_candidates"]) else
                "time_budget" if now >= search_end else None)
    if why_over == "max_candidates" and now >= search_end:
        why_over = "time_budget"  # the last candidates would pass the budget: stop them
    if why_over is None:
        running = sum(1 for j in candidates if j.status in ACTIVE)
        want = min(int(spec["parallel"]) - running, int(spec["max_candidates"]) - counted)
        done = [j for j in candidates if j.status == st.COMPLETED]
        for _ in range(max(0, want)):
            submitted = _next_candidate(ctx, space, candidates, stored, done, now, search_end)
            if submitted is None:
                break
            j, trial = submitted
            candidates.append(j)
            stored.append(trial)
    elif why_over == "time_budget" and final is None:
        log.info("automl job %s: the search's time is up %.1f s after submit (reserve %.1f s)",
                 job.id, now - _started(job), reserve(spec, ranked))
        # Stopped, and not waited for: the final job starts as their processes end (it
        # waits for their CPUs), and selects over the candidates that completed.
        for j in candidates:
            if j.status in (st.PENDING, st.STARTING, st.RUNNING):
                ctx.jobs.cancel(j.id, f"the time budget of AutoML job {job.id}")
    if why_over is None or (why_over == "max_candidates"
                            and any(j.status in ACTIVE for j in candidates)):
        _record(ctx, _results(ctx, candidates, stored, final, metrics, "searching"))
        return
    _finish(ctx, candidates, stored, final, metrics, why_over)


def judged(j: JobRecord) -> bool:
    """Whether a candidate is judged on its rounds: a boosting one from the search. The
    portfolio's are few, cheap and there for the ensemble's diversity: never pruned."""
    return _portfolio_index(j) is None and j.spec.get("algorithm") in BOOSTING


def loss_of(j: JobRecord, curve: str) -> tuple[str, str | None]:
    """What a candidate's per-round loss is comparable with: the same loss (the curve's
    name: LightGBM's ``binary_logloss`` is not compared with XGBoost's ``logloss``) on the
    same scale of the target (a log-target candidate's rmse is of ``log(1 + y)``)."""
    return curve, (j.spec.get("recipe") or {}).get("target_transform")


def _prune(ctx: DriveContext, candidates: Sequence[JobRecord], stored: list[StoredTrial],
           metrics: Mapping[str, Mapping[str, float]]) -> list[StoredTrial]:
    """Successive halving on rounds: Hyperband (shipyard.tuning's pruner) judges each
    running candidate of the search at the rungs its live validation loss reached, against
    the candidates with a comparable loss (:func:`loss_of`); a pruned one is marked
    (``tuning.pruned``) and cancelled, and never becomes an ensemble member.

    A candidate whose fit is over (its ``progress`` reached 1: it is scoring and writing
    its model) is judged but not pruned: stopping it would save nothing and lose a
    candidate."""
    def fitting(j: JobRecord) -> bool:
        return metrics.get(j.id, {}).get(PROGRESS_METRIC, 0.0) < 1.0

    return prune_running(ctx, candidates, stored, metrics, int(ctx.job.spec["max_rounds"]),
                         who=f"AutoML job {ctx.job.id}", noun="candidate", judged=judged,
                         loss=loss_of, stoppable=fitting)


def _next_candidate(ctx: DriveContext, space: SearchSpace, candidates: Sequence[JobRecord],
                    stored: Sequence[StoredTrial], done: Sequence[JobRecord], now: float,
                    search_end: float) -> tuple[JobRecord, StoredTrial] | None:
    """Submit the next candidate that fits in the search's time (None: none does now)."""
    spec = ctx.job.spec
    plan = spec.get("portfolio") or []
    used = [i for j in candidates if (i := _portfolio_index(j)) is not None]
    start = (max(used) + 1) if used else 0
    for index in range(start, len(plan)):
        entry = plan[index]
        if _fits(entry["algorithm"], done, now, search_end):
            hyperparameters = dict(entry["hyperparameters"])
            params = space_params(space, entry["algorithm"], hyperparameters) or {}
            j = _submit(ctx, entry["algorithm"], hyperparameters, len(candidates),
                        {"portfolio": index}, candidates, recipe=entry.get("recipe"))
            return j, StoredTrial(number=_number(j), params=params, state=RUNNING)
    for _ in range(PROPOSALS):
        s = suggest("bayesian", space, str(spec["objective"]), int(spec.get("seed") or 0),
                    stored, goal=_goal(spec))
        algorithm, hyperparameters = trial_settings(space, s.params, spec.get("fixed") or {},
                                                    str(spec["algorithms"][0]))
        if not _fits(algorithm, done, now, search_end):
            continue
        j = _submit(ctx, algorithm, hyperparameters, len(candidates), s.system_attrs,
                    candidates, recipe=search_recipe(algorithm, spec.get("variants")))
        return j, StoredTrial(number=s.number, params=s.params, state=RUNNING,
                              system_attrs=s.system_attrs)
    return None


def _fits(algorithm: str, done: Sequence[JobRecord], now: float, search_end: float) -> bool:
    expected = expected_seconds(algorithm, done)
    return expected is None or now + expected <= search_end


def _submit(ctx: DriveContext, algorithm: str, hyperparameters: Mapping[str, Any],
            number: int, system_attrs: Mapping[str, Any],
            candidates: Sequence[JobRecord],
            recipe: Mapping[str, Any] | None = None) -> JobRecord:
    from shipyard.features._extend import add_drops

    job, spec = ctx.job, ctx.job.spec
    # The user's drop list and the suspected leaks leave every candidate (docs/automl.md).
    recipe = add_drops(recipe, spec.get("dropped"))
    # Cross-validated candidates fit a recipe per fold: there is no one preparation to share.
    # Others share one per algorithm and recipe (a recipe variant prepares its own).
    cv_folds = spec.get("cv_folds")
    alike = [c for c in candidates if c.spec.get("recipe") == (dict(recipe) if recipe else None)]
    prepared = None if cv_folds else prepared_source(algorithm, alike)
    body = {
        "kind": "training", "algorithm": algorithm,
        "inputs": {ch: f"{r['dataset']}:{r['version']}" for ch, r in spec["inputs"].items()},
        "target": spec["target"], "problem_type": spec["problem_type"],
        "split": spec.get("split"), "hyperparameters": dict(hyperparameters),
        "recipe": dict(recipe) if recipe else None,
        "resources": {"cpus": spec["resources"]["cpus"],
                      "memory": spec["resources"]["memory"]},
        "retries": spec.get("retries", 0), "experiment": job.experiment,
        "tags": {"automl_job": job.id, "automl_candidate": str(number)},
        "notes": f"candidate {number} of AutoML job {job.id}",
        "score_test": False, "plots": False, "keep_predictions": True, "cv_folds": cv_folds,
        # A candidate stopped by the budget has nothing worth saving: end it at once.
        "grace_period_seconds": CANCEL_GRACE,
        "tuning": {"job": job.id, "number": number, "system_attrs": dict(system_attrs),
                   "prepared": prepared, "save_prepared": prepared is None and not cv_folds},
    }
    if spec.get("prune") and "portfolio" not in system_attrs and algorithm in BOOSTING:
        body["tuning"]["curve_seconds"] = JUDGED_CURVE_SECONDS
    candidate, _ = ctx.jobs.submit(body, job.created_by)
    log.info("automl job %s: candidate %d (%s) is job %s", job.id, number, algorithm,
             candidate.id)
    return candidate


def _ranked(candidates: Sequence[JobRecord], stored: Sequence[StoredTrial],
            goal: str) -> list[tuple[JobRecord, StoredTrial]]:
    """Completed candidates with a validation metric, best first."""
    sign = -1.0 if goal == "minimize" else 1.0
    done = [(j, t) for j, t in zip(candidates, stored, strict=True)
            if t.state == COMPLETE and t.value is not None
            and any(str(f.get("path", "")).startswith("output/predictions/")
                    for f in (j.outputs or {}).get("files") or [])]
    return sorted(done, key=lambda p: (-sign * float(p[1].value or 0), p[1].number))


def _finish(ctx: DriveContext, candidates: Sequence[JobRecord], stored: Sequence[StoredTrial],
            final: JobRecord | None, metrics: Mapping[str, Mapping[str, float]],
            why: str) -> None:
    job, repo, spec = ctx.job, ctx.jobs.repo, ctx.job.spec
    if final is None:
        ranked = _ranked(candidates, stored, _goal(spec))
        if not ranked:
            failed = next((j for j in candidates if j.status == st.FAILED), None)
            hint = f" Candidate {failed.id} failed: {failed.message}" if failed else ""
            st.transition(repo, job.id, st.FAILED, st.RUNNING, reason=st.SCRIPT_ERROR,
                          message=f"No candidate completed within the time budget.{hint}",
                          ended_at=utcnow(),
                          outputs=_results(ctx, candidates, stored, None, metrics, "failed",
                                           why))
            return
        hpo = spec["resolved_mode"] == "hpo"
        chosen = ranked[:1] if hpo else ranked[:ENSEMBLE_CANDIDATES]
        cpus = int(spec["resources"]["cpus"])
        deadline = _started(job) + float(spec["time_budget"]) - STORE_SECONDS
        body = {"kind": "ensemble", "candidates": [j.id for j, _ in chosen],
                "metric": spec["objective"], "selection": "best" if hpo else "caruana",
                # The refits end as the reserve counted (the rest: scoring, explaining).
                "refit": True, "deadline": deadline,
                "refit_until": deadline - after_refit_seconds(int(spec.get("rows") or 0)),
                "experiment": job.experiment, "automl": {"job": job.id},
                # The refits use every CPU the search did (one model at a time).
                "resources": {"cpus": cpus * int(spec["parallel"]),
                              "memory": spec["resources"]["memory"]},
                "tags": {"automl_job": job.id}, "notes": f"final model of AutoML job {job.id}"}
        try:
            final, _ = ctx.jobs.submit(body, job.created_by)
        except InvalidRequest:  # more CPUs than one job may have here: the candidates' own
            final, _ = ctx.jobs.submit({**body, "resources": {**body["resources"],
                                                              "cpus": cpus}}, job.created_by)
        log.info("automl job %s: final model is job %s over %d candidates", job.id, final.id,
                 len(chosen))
        _record(ctx, _results(ctx, candidates, stored, final, metrics, "finishing", why))
        return
    if final.status in ACTIVE:
        _record(ctx, _results(ctx, candidates, stored, final, metrics, "finishing", why))
        return
    if final.status == st.COMPLETED:
        results = _results(ctx, candidates, stored, final, metrics, "completed", why,
                           details=True)
        now = time.time()
        repo.add_metrics(job.id, [MetricPoint(name, value, None, now)
                                  for name, value in metrics.get(final.id, {}).items()
                                  if name.startswith(("test.", "validation."))])
        st.transition(repo, job.id, st.COMPLETED, st.RUNNING, ended_at=utcnow(),
                      outputs=results)
        return
    st.transition(repo, job.id, st.FAILED, st.RUNNING, reason=st.SCRIPT_ERROR,
                  message=f"The final model (job {final.id}) ended {final.status}: "
                          f"{final.message}", ended_at=utcnow(),
                  outputs=_results(ctx, candidates, stored, final, metrics, "failed", why))


def _model_bytes(j: JobRecord) -> int | None:
    files = ((j.outputs or {}).get("model") or {}).get("files") or []
    return sum(int(f.get("size") or 0) for f in files) or None


def _read_json(ctx: DriveContext, j: JobRecord, path: str) -> dict[str, Any] | None:
    entry = next((f for f in (j.outputs or {}).get("files") or [] if f.get("path") == path),
                 None)
    if entry is None:
        return None
    try:
        data = json.loads(ctx.jobs.artifacts.read_bytes(str(entry["sha256"])))
    except (OSError, ValueError, KeyError):
        return None
    return data if isinstance(data, dict) else None


def _results(ctx: DriveContext, candidates: Sequence[JobRecord],
             stored: Sequence[StoredTrial], final: JobRecord | None,
             metrics: Mapping[str, Mapping[str, float]], state: str,
             stopped_by: str | None = None, *, details: bool = False) -> dict[str, Any]:
    """The AutoML job's outputs: ``{"automl": {...the leaderboard...}}``.

    ``details`` (once, at the end) reads what each candidate's predictions took and the
    final job's selection from the artifact store."""
    job, spec = ctx.job, ctx.job.spec
    key, goal = str(spec["objective_metric"]), _goal(spec)
    ensemble = _read_json(ctx, final, "output/ensemble.json") \
        if details and final is not None and final.status == st.COMPLETED else None
    weights = (ensemble or {}).get("weights") or {}
    rows = []
    for j, t in zip(candidates, stored, strict=True):
        row: dict[str, Any] = {
            "number": t.number, "job_id": j.id, "algorithm": j.spec.get("algorithm"),
            "pipeline": describe(j.spec.get("recipe")),
            "hyperparameters": j.spec.get("hyperparameters"),
            "source": "portfolio" if _portfolio_index(j) is not None else "search",
            "state": "complete" if t.state == COMPLETE else "pruned" if t.state == PRUNED
            else "no_objective" if j.status == st.COMPLETED else j.status.lower(),
            "validation": t.value, "fit_seconds": _duration(j),
            "model_bytes": _model_bytes(j),
        }
        if details and j.status == st.COMPLETED:
            timing = _read_json(ctx, j, "output/predictions/predictions.json") or {}
            rows_ = int(timing.get("rows") or 0)
            if rows_ > 0:
                row["predict_seconds_per_1k_rows"] = round(
                    float(timing.get("seconds") or 0) * 1000 / rows_, 6)
        pruned = (j.spec.get("tuning") or {}).get("pruned")
        if pruned:  # "pruned at round N" with the loss it had there
            row["pruned_at"] = {"round": pruned["round"], pruned["metric"]: pruned["loss"]}
        if j.id in weights:
            row["weight"] = weights[j.id]
        rows.append(row)
    ranked = _ranked(candidates, stored, goal)
    out: dict[str, Any] = {
        "state": state, "problem_type": spec["problem_type"],
        "objective": {"metric": key, "direction": goal},
        "mode": spec["resolved_mode"], "time_budget": spec["time_budget"],
        # Folds the candidates were cross-validated in (None: one validation split).
        "cv_folds": spec.get("cv_folds"),
        # Training rows each candidate kept (None: all; the final model refits on all).
        "sample_rows": spec.get("sample_rows"),
        # Successive halving on rounds (on by default), and how many candidates it stopped.
        "prune": bool(spec.get("prune")),
        "pruned": sum(1 for t in stored if t.state == PRUNED),
        "elapsed_seconds": round(time.time() - _started(job), 3),
        # Suspected leaks of the target and the columns every candidate left out.
        "analysis": spec.get("analysis"),
        "candidates": rows, "best": None, "model_job_id": None, "test": None,
    }
    if stopped_by:
        out["stopped_by"] = stopped_by
    if ranked:
        bj, bt = ranked[0]
        out["best"] = {"candidate": bt.number, "job_id": bj.id,
                       "algorithm": bj.spec.get("algorithm"), "validation": bt.value}
    if final is not None:
        out["final_job_id"] = final.id
        if final.status == st.COMPLETED:
            prefix = "test."
            out["test"] = {k.removeprefix(prefix): v for k, v in metrics.get(final.id, {}).items()
                           if k.startswith(prefix)}
            out["validation"] = metrics.get(final.id, {}).get(key)
            out["model_job_id"] = final.id
        if ensemble is not None:
            out["ensemble"] = {"members": ensemble.get("members"),
                               "selection": ensemble.get("selection"),
                               "best_single": ensemble.get("best_single"),
                               "refit": ensemble.get("refit")}
            out["importance"] = ensemble.get("importance") or []
            # shap (mean |SHAP|), or permutation when SHAP did not fit (or an older job).
            out["importance_method"] = ensemble.get("importance_method") or "permutation"
            out["permutation_importance"] = ensemble.get("permutation_importance") or []
            # The final model at chance level, or too good to be true (a leak?), on test.
            out["warnings"] = ensemble.get("warnings") or []
    return {"automl": out}


def _record(ctx: DriveContext, outputs: dict[str, Any]) -> None:
    """Write the leaderboard when it changed (not on every tick); ``elapsed_seconds``
    alone changing is not a change."""
    old = dict((ctx.job.outputs or {}).get("automl") or {})
    new = dict(outputs["automl"])
    old.pop("elapsed_seconds", None)
    compare = dict(new)
    compare.pop("elapsed_seconds", None)
    if compare != old:
        ctx.jobs.repo.update_fields(ctx.job.id, outputs=outputs)
