"""Triggers: what starts pipeline executions on its own, one execution per event.

Kinds and their config are in ``_trigger_kinds``. Each start goes through
:meth:`PipelineService.start` with an idempotency key that names the event, so an
event delivered twice (or seen by two paths) starts one execution:

=================  ==========================================================
kind               idempotency key
=================  ==========================================================
schedule           the schedule run's key (``schedule:ID:PLANNED``)
git                ``trigger:ID:commit:SHA`` (the hook and the watcher alike)
model_approval     ``trigger:ID:event:EVENT_ID``
monitor_alert      ``trigger:ID:monitor-run:SEQ`` (one run raises an alert per
                   drifted column; it starts one execution)
dataset_version    ``trigger:ID:event:EVENT_ID``
=================  ==========================================================

**When they fire.** A schedule trigger owns a schedule of kind ``pipeline`` (named
``pipeline-trigger-ID``) on the server's scheduler; deleting the trigger deletes it.
The event kinds subscribe to the event log on the leader (``Duties.start``); like
auto-deploy, events that happen while no server runs are **not** replayed. Git is the
exception: the leader's :class:`~shipyard.pipelines._watcher.GitWatcher` compares each
branch head with the trigger's ``state.last_commit`` (a compare-and-set), so a commit
made while the server was down starts its execution at the next poll; a hook installed
in the repository (``shipyard pipelines hook install``) reports each commit at once
through ``POST …/triggers/ID/commits``, which checks the commit is really on the branch.

**Loops.** A dataset_version trigger on a dataset that its own pipeline writes would
start itself forever: versions written by a job tagged with the trigger's own pipeline
(every job step's job is, see ``_steps.job_spec``) are skipped and recorded as
``pipeline.trigger_skipped``. A loop through two pipelines (A writes what triggers B,
B writes what triggers A) is not detected.

A start that fails (a parameter the definition no longer has, a deleted pipeline) is
recorded as ``pipeline.trigger_failed`` with the reason; it is never silent.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest, NotFound, ServerUnavailable, ShipyardError
from shipyard.pipelines._git import check_commit, head, verify_on_branch
from shipyard.pipelines._service import PipelineService
from shipyard.pipelines._trigger_kinds import (
    EVENT_KINDS,
    check_fields,
    check_git,
    check_kind,
    check_named,
    check_parameters,
    check_schedule,
)
from shipyard.store import EventRecord, ExecutionRecord, TriggerRecord, iso

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.datasets import DatasetService
    from shipyard.jobs import JobService
    from shipyard.monitoring import MonitorService
    from shipyard.registry import RegistryService
    from shipyard.scheduling import ScheduleContext, Scheduler, ScheduleService

log = logging.getLogger("shipyard.pipelines")

#: The schedule kind a schedule trigger's schedule has.
SCHEDULE_KIND = "pipeline"
APPROVED = "Approved"


def schedule_name(trigger_id: int) -> str:
    return f"pipeline-trigger-{trigger_id}"


def trigger_to_dict(rec: TriggerRecord) -> dict[str, Any]:
    """A trigger as the API shows it."""
    return {"id": rec.id, "pipeline": rec.pipeline, "kind": rec.kind, "config": rec.config,
            "parameters": rec.parameters, "state": rec.state, "enabled": rec.enabled,
            "schedule": schedule_name(rec.id) if rec.kind == "schedule" else None,
            "created_at": iso(rec.created_at), "updated_at": iso(rec.updated_at),
            "created_by": rec.created_by}


class TriggerService:
    """Create, list and delete a pipeline's triggers, and start executions when they fire."""

    def __init__(self, pipelines: PipelineService, schedules: ScheduleService,
                 registry: RegistryService, monitors: MonitorService,
                 datasets: DatasetService, jobs: JobService,
                 protected: Sequence[Path]) -> None:
        self.pipelines = pipelines
        self.repo = pipelines.repo
        self.schedules = schedules
        self.registry = registry
        self.monitors = monitors
        self.datasets = datasets
        self.jobs = jobs
        #: Folders a git repository may neither be inside of nor contain (as catalog
        #: locations: the home, the artifact store).
        self.protected = list(protected)

    # -- resource -------------------------------------------------------------------------
    def create(self, pipeline: str, kind: object, config: object, parameters: object,
               actor: str | None) -> TriggerRecord:
        """Create a trigger of ``pipeline``; a git trigger starts from the branch's current
        head (creating it never fires for an old commit).

        Raises:
            NotFound: no such pipeline. InvalidRequest: an unknown kind, a config that does
            not suit it, a parameter the definition does not have.
        """
        self.pipelines.get(pipeline)  # 404 first
        k = check_kind(kind)
        fields = check_fields(k, config)
        params = check_parameters(self.pipelines.parsed(pipeline), k, parameters)
        state: dict[str, Any] = {}
        if k == "schedule":
            stored = check_schedule(fields)
        elif k == "git":
            stored = check_git(fields, self.protected)
            state = {"last_commit": head(Path(stored["repo"]), stored["branch"])}
        else:
            stored = check_named(k, fields)
            self._check_exists(k, next(iter(stored.values())))
            # The dispatcher may deliver events older than the trigger: they start nothing.
            state = {"after_event": self.repo.events.latest_id()}
        rec = self.repo.add_trigger(pipeline, k, stored, params, actor, state=state)
        if k == "schedule":
            try:
                self.schedules.create(schedule_name(rec.id), SCHEDULE_KIND,
                                      {"pipeline": pipeline, "trigger": rec.id},
                                      every=stored.get("every"), cron=stored.get("cron"),
                                      actor=actor)
            except ShipyardError:
                self.repo.delete_trigger(rec.id, actor)  # nothing half-made stays behind
                raise
        return rec

    def _check_exists(self, kind: str, name: str) -> None:
        try:
            if kind == "model_approval":
                self.registry.group(name)
            elif kind == "monitor_alert":
                self.monitors.get(name)
            else:
                self.datasets.get(name)
        except NotFound:
            what = {"model_approval": ("model group", "`shipyard models list`"),
                    "monitor_alert": ("monitor", "`shipyard monitors list`"),
                    "dataset_version": ("dataset", "`shipyard datasets list`")}[kind]
            raise InvalidRequest(f"No {what[0]} named {name!r}; a {kind} trigger watches an "
                                 f"existing one ({what[1]} shows them).") from None

    def list(self, pipeline: str) -> builtins.list[TriggerRecord]:
        self.pipelines.get(pipeline)
        return self.repo.triggers(pipeline)

    def get(self, pipeline: str, trigger_id: int) -> TriggerRecord:
        """The trigger ``trigger_id`` of ``pipeline`` (404 when it is another's)."""
        self.pipelines.get(pipeline)
        rec = self.repo.trigger(trigger_id)
        if rec.pipeline != pipeline:
            raise NotFound(f"Pipeline {pipeline!r} has no trigger {trigger_id}; `shipyard "
                           f"pipelines triggers list {pipeline}` lists its triggers.")
        return rec

    def delete(self, pipeline: str, trigger_id: int, actor: str | None) -> TriggerRecord:
        """Delete a trigger (and a schedule trigger's schedule); its executions stay."""
        rec = self.get(pipeline, trigger_id)
        if rec.kind == "schedule":
            with contextlib.suppress(NotFound):  # deleted by hand already
                self.schedules.delete(schedule_name(rec.id), actor)
        self.repo.delete_trigger(rec.id, actor)
        return rec

    def forget(self, pipeline: str, actor: str | None) -> int:
        """Delete the schedules of a deleted pipeline's schedule triggers (the triggers went
        with it); return how many. A schedule left behind would delete itself at its next
        run (:meth:`fire_schedule`)."""
        gone = 0
        for rec in self.schedules.list(SCHEDULE_KIND):
            if rec.target.get("pipeline") == pipeline:
                try:
                    self.schedules.delete(rec.name, actor)
                    gone += 1
                except NotFound:
                    continue
        return gone

    # -- starting -------------------------------------------------------------------------
    def _start(self, trig: TriggerRecord, natural: Mapping[str, Any], facts: Mapping[str, Any],
               key: str) -> tuple[ExecutionRecord, bool]:
        """Start ``trig``'s pipeline for one event; the same ``key`` starts nothing new.

        Raises:
            ShipyardError: the start was refused (recorded as ``pipeline.trigger_failed``,
            unless the server is unavailable and it will be tried again).
        """
        trigger = {"kind": trig.kind, "trigger_id": trig.id, **facts}
        try:
            return self.pipelines.start(trig.pipeline, {**trig.parameters, **natural},
                                        trig.created_by, idempotency_key=key, trigger=trigger)
        except ServerUnavailable:
            raise
        except ShipyardError as exc:
            self._record(trig, "pipeline.trigger_failed", reason=exc.message, **facts)
            raise

    def _record(self, trig: TriggerRecord, event: str, **payload: Any) -> None:
        try:
            with self.repo.db.write() as conn:
                self.repo.events.record(conn, event, "pipeline", trig.pipeline, None,
                                        trigger=trig.id, kind=trig.kind, **payload)
        except Exception:  # noqa: BLE001 - the record is a courtesy; the log says it too
            log.exception("recording %s of trigger %s failed", event, trig.id)

    def _declared(self, trig: TriggerRecord, name: str, value: str) -> dict[str, Any]:
        """``{name: value}`` if the pipeline's latest definition declares ``name``."""
        try:
            defn = self.pipelines.parsed(trig.pipeline)
        except ShipyardError:
            return {}
        return {name: value} if defn.parameter(name) is not None else {}

    # -- git ------------------------------------------------------------------------------
    def start_commit(self, trig: TriggerRecord, commit: str, via: str,
                     fired_by: str | None = None) -> tuple[ExecutionRecord, bool]:
        """Start the execution of one commit of a git trigger (the key is the commit)."""
        repo, branch = trig.config["repo"], trig.config["branch"]
        natural = {"commit": commit, "branch": branch, "repository": repo}
        facts: dict[str, Any] = {**natural, "via": via}
        if fired_by:
            facts["fired_by"] = fired_by
        return self._start(trig, natural, facts, f"trigger:{trig.id}:commit:{commit}")

    def fire_commit(self, pipeline: str, trigger_id: int, commit: object,
                    branch: str | None, actor: str | None) -> tuple[ExecutionRecord, bool]:
        """What a repository's hook calls: start the execution of ``commit``, after checking
        it is a commit of the trigger's repository on its branch.

        Raises:
            NotFound: no such pipeline or trigger. InvalidRequest: not a git trigger, another
            branch, or a commit that is not on the branch (a forged id).
        """
        trig = self.get(pipeline, trigger_id)
        if trig.kind != "git":
            raise InvalidRequest(f"Trigger {trigger_id} of pipeline {pipeline!r} is a "
                                 f"{trig.kind} trigger; only git triggers take commits.")
        watched = trig.config["branch"]
        if branch is not None and branch != watched:
            raise InvalidRequest(f"Trigger {trigger_id} watches branch {watched!r}, not "
                                 f"{branch!r}; commits to other branches start nothing.")
        sha = check_commit(commit)
        verify_on_branch(Path(trig.config["repo"]), watched, sha)
        return self.start_commit(trig, sha, "hook", fired_by=actor)

    def poll_git(self, trig: TriggerRecord) -> ExecutionRecord | None:
        """The watcher's look at one git trigger: a branch head other than the last one
        seen starts its execution, and becomes the last one seen (compare-and-set).
        Returns the execution it started, if new.

        Raises:
            ShipyardError: the repository cannot be read (tried again next poll).
        """
        tip = head(Path(trig.config["repo"]), trig.config["branch"])
        if tip is None or tip == trig.state.get("last_commit"):
            return None
        try:
            ex, created = self.start_commit(trig, tip, "watcher")
        except ServerUnavailable:
            raise  # the store is away: this head is tried again next poll
        except ShipyardError:
            ex, created = None, False  # refused (recorded): not tried again for this head
        self.repo.set_trigger_state(trig.id, {**trig.state, "last_commit": tip},
                                    expect=trig.state)
        return ex if created else None

    # -- schedules --------------------------------------------------------------------------
    def fire_schedule(self, ctx: ScheduleContext) -> str | None:
        """The scheduler's handler of kind ``pipeline``: start one execution per run."""
        tid = ctx.target.get("trigger")
        try:
            trig = self.repo.trigger(int(str(tid)))
        except (NotFound, ValueError):
            with contextlib.suppress(ShipyardError):  # it went with its pipeline: so does this
                self.schedules.delete(ctx.name, None)
            raise InvalidRequest(f"Pipeline trigger {tid} no longer exists; its schedule "
                                 f"{ctx.name!r} was deleted.") from None
        facts = {"schedule": ctx.name, "planned_at": iso(ctx.planned_at)}
        ex, _ = self._start(trig, {}, facts, ctx.run_key)
        return ex.id

    def check_schedule_target(self, target: dict[str, Any]) -> dict[str, Any]:
        """A ``pipeline`` schedule's target names its schedule trigger (made by :meth:`create`)."""
        tid = target.get("trigger")
        try:
            trig = self.repo.trigger(int(tid)) if isinstance(tid, int | str) else None
        except (NotFound, ValueError):
            trig = None
        if (trig is None or trig.kind != "schedule" or set(target) != {"pipeline", "trigger"}
                or target.get("pipeline") != trig.pipeline):
            raise InvalidRequest("Pipeline schedules are made by creating a trigger: `shipyard "
                                 "pipelines triggers create NAME --on schedule --every 1h`.")
        return {"pipeline": trig.pipeline, "trigger": trig.id}

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: EventRecord) -> None:
        """The dispatcher's subscriber: start the executions this event triggers."""
        kind = EVENT_KINDS.get(event.kind)
        if kind is None:
            return
        for trig in self.repo.triggers(kind=kind):
            if not trig.enabled or event.id <= int(trig.state.get("after_event") or 0):
                continue
            try:
                match = self._match(trig, event)
                if match is not None:
                    self._start(trig, *match)
            except ShipyardError as exc:  # recorded by _start; one trigger must not stop all
                log.warning("trigger %s of pipeline %s on event %d: %s", trig.id,
                            trig.pipeline, event.id, exc.message)

    def _match(self, trig: TriggerRecord, event: EventRecord
               ) -> tuple[dict[str, Any], dict[str, Any], str] | None:
        """(natural parameters, facts, key) when ``event`` fires ``trig``, else None."""
        p = event.payload
        base = {"event_id": event.id}
        if trig.kind == "model_approval":
            group, version = p.get("group"), p.get("version")
            if p.get("status") != APPROVED or group != trig.config["group"]:
                return None
            ref = f"{group}:{version}"
            return (self._declared(trig, "model_version", ref),
                    {**base, "group": group, "version": version, "model_version": ref},
                    f"trigger:{trig.id}:event:{event.id}")
        if trig.kind == "monitor_alert":
            if event.resource_type != "monitor" or event.resource_id != trig.config["monitor"]:
                return None
            run = p.get("execution")
            alert = {k: p.get(k) for k in ("kind", "check", "column", "message") if k in p}
            key = (f"trigger:{trig.id}:monitor-run:{run}" if isinstance(run, int)
                   else f"trigger:{trig.id}:event:{event.id}")
            return {}, {**base, "monitor": event.resource_id, "run": run, "alert": alert}, key
        if trig.kind == "dataset_version":
            name, version = event.resource_id, p.get("version")
            if name != trig.config["dataset"] or not isinstance(version, int):
                return None
            facts = {**base, "dataset": name, "version": version}
            job = self._writer(name, version)
            if job is not None and job[1] == trig.pipeline:
                self._record(trig, "pipeline.trigger_skipped", **facts, job_id=job[0],
                             reason=f"{name}:{version} was written by job {job[0]} of pipeline "
                                    f"{trig.pipeline!r} itself; starting it again would loop")
                return None
            return (self._declared(trig, "dataset", f"{name}:{version}"), facts,
                    f"trigger:{trig.id}:event:{event.id}")
        return None

    def _writer(self, name: str, version: int) -> tuple[str, str | None] | None:
        """(job id, its pipeline tag) of the job that wrote ``name:version``, if a job did."""
        try:
            source = self.datasets.version(name, version).source or {}
            if source.get("type") != "job" or not source.get("job_id"):
                return None
            job = self.jobs.get(str(source["job_id"]))
        except ShipyardError:
            return None
        return job.id, (job.tags or {}).get("pipeline")


def register_pipeline_kind(scheduler: Scheduler, triggers: TriggerService) -> None:
    """Schedules of kind ``pipeline`` start an execution of a schedule trigger's pipeline."""
    scheduler.register(SCHEDULE_KIND, triggers.fire_schedule, triggers.check_schedule_target)
