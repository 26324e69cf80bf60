"""Pruning on rounds: running trials judged by Hyperband on their live validation loss.

The tuning job (``--strategy hyperband``) and the AutoML job (its search's boosting
candidates) both call :func:`prune_running` on every tick: each running trial that has
logged its per-round validation loss (``curve.validation.<loss>``) is judged, at every rung
it reached, on the loss it had there (:func:`shipyard.tuning._study.prune`, Optuna's
HyperbandPruner, the study rebuilt from the stored trials). A pruned trial is marked in
its spec (``tuning.pruned``) before it is cancelled, so a restart in between knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence

from shipyard.jobs import _states as st
from shipyard.jobs._kinds import DriveContext
from shipyard.store import JobRecord
from shipyard.tuning._study import (
    PRUNED,
    RUNG_ATTR,
    RUNNING,
    Pruning,
    StoredTrial,
    prune,
    rungs,
)

log = logging.getLogger("shipyard.tuning")


def curve_name(metrics: Mapping[str, float]) -> str | None:
    """The trial's per-round validation loss (``curve.validation.<loss>``), if it logs one."""
    names = sorted(k for k in metrics if k.startswith("curve.validation."))
    return names[0] if names else None


def _always(j: JobRecord) -> bool:
    return True


def prune_running(ctx: DriveContext, trials: Sequence[JobRecord], stored: list[StoredTrial],
                  metrics: Mapping[str, Mapping[str, float]], max_rounds: int, *,
                  who: str, noun: str = "trial",
                  judged: Callable[[JobRecord], bool] = _always,
                  loss: Callable[[JobRecord, str], Hashable] | None = None,
                  stoppable: Callable[[JobRecord], bool] = _always
                  ) -> list[StoredTrial]:
    """Judge each running trial of ``trials`` (``judged`` ones only) with Hyperband on its
    live per-round validation loss; mark and cancel the pruned ones. Returns the trials as
    they stand after it.

    Args:
        max_rounds: the most rounds a trial fits (Hyperband's resource).
        who: the parent job, as the cancel's reason and the log name it (``"tuning job
            ID"``); ``noun``: what it calls a trial.
        loss: what makes two trials' losses comparable, from a trial and its curve's name
            (e.g. the name itself): a trial is judged only against trials of the same
            value. None: every trial against every other.
        stoppable: whether stopping a trial would still save anything (e.g. its fit is
            not over). One that is not keeps the rung values it reached, for the others
            to compete with, and is not pruned.
    """
    out = list(stored)
    steps = rungs(max_rounds)[1]
    for i, (j, t) in enumerate(zip(trials, stored, strict=True)):
        if j.status != st.RUNNING or t.state != RUNNING or not judged(j):
            continue
        name = curve_name(metrics.get(j.id, {}))
        if name is None:
            continue
        # Only the rung steps matter: the loss the trial had when it reached each one.
        curve = {int(p.step or 0): p.value for p in
                 ctx.jobs.repo.metrics(j.id, name, steps=steps)}
        if not curve:  # no rung reached yet: nothing to judge
            continue
        rivals = out if loss is None else _comparable(trials, out, metrics, loss, loss(j, name))
        judgement = prune(ctx.job.id, rivals, t.number, curve, max_rounds)
        if judgement.pruned_at is not None and not stoppable(j):
            judgement = Pruning(system_attrs=judgement.system_attrs)
        tuning = dict(j.spec.get("tuning") or {})
        if judgement.system_attrs == (tuning.get("system_attrs") or {}) and \
                judgement.pruned_at is None:
            continue
        tuning["system_attrs"] = judgement.system_attrs
        if judgement.pruned_at is not None:
            tuning["pruned"] = {"round": judgement.pruned_at,
                                "loss": curve[judgement.pruned_at],
                                "metric": name.removeprefix("curve.")}
        # Written before the cancel: a restart in between still knows the trial is pruned.
        ctx.jobs.repo.update_fields(j.id, spec={**j.spec, "tuning": tuning})
        out[i] = StoredTrial(number=t.number, params=t.params, state=t.state,
                             system_attrs=judgement.system_attrs)
        if judgement.pruned_at is not None:
            out[i] = StoredTrial(number=t.number, params=t.params, state=PRUNED,
                                 system_attrs=judgement.system_attrs,
                                 intermediate={judgement.pruned_at: curve[judgement.pruned_at]})
            ctx.jobs.cancel(j.id, f"hyperband ({who}: pruned at round {judgement.pruned_at})")
            log.info("%s: %s %d (job %s) pruned at round %d", who, noun, t.number, j.id,
                     judgement.pruned_at)
    return out


def _comparable(trials: Sequence[JobRecord], stored: Sequence[StoredTrial],
                metrics: Mapping[str, Mapping[str, float]],
                loss: Callable[[JobRecord, str], Hashable], key: Hashable
                ) -> list[StoredTrial]:
    """``stored``, with the rung values (``completed_rung_<i>``) of the trials whose loss is
    not ``key`` left out, so the pruner does not compare them. The trials stay in the
    study: Optuna's brackets follow from the trials' numbers, which must not shift."""
    out = []
    for j, t in zip(trials, stored, strict=True):
        name = curve_name(metrics.get(j.id, {}))
        if name is None or loss(j, name) != key:
            t = StoredTrial(number=t.number, params=t.params, state=t.state, value=t.value,
                            system_attrs={k: v for k, v in t.system_attrs.items()
                                          if not k.startswith(RUNG_ATTR)},
                            intermediate=t.intermediate)
        out.append(t)
    return out
