"""The pipeline engine: a thread of the leader control plane that advances executions.

Each tick reads the Executing and Stopping executions and, for each one, walks its
steps: a running step is polled; a pending step whose dependencies all succeeded is
started (or found in the cache); a pending step behind a failed or skipped one, or on
the branch a condition did not take, is Skipped with the reason; when every step has
ended, the execution ends (Failed, naming the failed steps, if any failed). All the
state is in the store and every change is a guarded update, so a control plane killed
at any point goes on where it stood after a restart, and a step is never run twice:
a step caught between "Starting" and "Running" is started again with the same
idempotency key, which hands back the job it already submitted.

The thread wakes on the service's ``wakeup`` event (a start, a retry, a stop, a job
that ended), and otherwise polls, quickly while executions are active.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError
from shipyard.pipelines._cache import cache_key, outputs_intact
from shipyard.pipelines._definition import Definition, Step, parse_ref
from shipyard.pipelines._steps import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    Outcome,
    StepContext,
    job_spec,
    runner_for,
)
from shipyard.store import ExecutionRecord, StepRecord, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.pipelines._service import PipelineService

log = logging.getLogger("shipyard.pipelines")

# Execution statuses.
EXECUTING, STOPPING, SUCCEEDED_X, FAILED_X, STOPPED_X = (
    "Executing", "Stopping", "Succeeded", "Failed", "Stopped")
EXECUTION_STATUSES = (EXECUTING, STOPPING, SUCCEEDED_X, FAILED_X, STOPPED_X)
# Step statuses.
PENDING, STARTING, SKIPPED, STOPPED = "Pending", "Starting", "Skipped", "Stopped"
STEP_STATUSES = (PENDING, STARTING, RUNNING, SUCCEEDED, FAILED, SKIPPED, STOPPED)
STEP_DONE = frozenset({SUCCEEDED, FAILED, SKIPPED, STOPPED})
STEP_ACTIVE = [STARTING, RUNNING]

#: Poll interval while executions are active, and when none is (seconds).
BUSY_POLL_SECONDS = 0.1
IDLE_POLL_SECONDS = 2.0


class UnresolvedReference(ValueError):
    """A reference whose value is not there (a step wrote no such output)."""


def resolver(execution: ExecutionRecord,
             records: Mapping[str, StepRecord]) -> Any:
    """A function that replaces every ``{"ref": ...}`` in a value by what it names."""
    def value_of(text: str) -> Any:
        ref = parse_ref(text)
        if ref.root == "parameters":
            return execution.parameters.get(ref.name)
        if ref.root == "execution":
            return execution.id
        outputs = records[ref.name].outputs
        what = ref.path[0]
        if what == "metrics":
            return _metric(outputs.get("metrics") or {}, ref.path[1:])
        if what == "outputs":
            made = outputs.get("outputs") or {}
            if ref.path[1] not in made:
                raise UnresolvedReference(
                    f"step {ref.name!r} wrote no output {ref.path[1]!r} (it wrote "
                    f"{', '.join(made) or 'none'})")
            return made[ref.path[1]]
        if what == "result":
            return outputs.get("result")
        if outputs.get(what) is None:
            raise UnresolvedReference(f"step {ref.name!r} has no {what}")
        return outputs[what]

    def resolve(value: Any) -> Any:
        if isinstance(value, Mapping):
            if set(value) == {"ref"}:
                return value_of(value["ref"])
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return resolve


def _metric(node: Any, parts: tuple[str, ...]) -> Any:
    """``metrics.test.roc_auc`` walks the nested splits; a name with dots of its own
    (``bias.post.DI``, kept flat) is found whole at the level where it starts."""
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            return None
        whole = ".".join(parts[i:])
        if whole in node:
            return node[whole]
        node = node.get(part)
    return node


class PipelineEngine:
    """Advances every active execution (see the module docstring)."""

    def __init__(self, service: PipelineService) -> None:
        self.service = service
        self.repo = service.repo
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread -----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="shipyard-pipelines",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.service.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def on_event(self, _event: Any) -> None:
        """A job ended or a version was approved: look again now."""
        self.service.wakeup.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.service.wakeup.clear()
            try:
                active = self.tick()
            except Exception:  # noqa: BLE001 - a database hiccup: try again next tick
                log.exception("pipeline engine tick failed")
                active = 1
            self.service.wakeup.wait(BUSY_POLL_SECONDS if active else IDLE_POLL_SECONDS)

    # -- one tick -------------------------------------------------------------------------
    def tick(self) -> int:
        """Advance every active execution once; return how many are active."""
        executions = self.repo.executions(statuses=[EXECUTING, STOPPING], limit=100_000)
        for ex in executions:
            try:
                self.advance(ex)
            except Exception:  # noqa: BLE001 - one broken execution must not stop the others
                log.exception("advancing pipeline execution %s failed", ex.id)
        return len(executions)

    def advance(self, ex: ExecutionRecord) -> None:
        try:
            defn = self.service.parsed(ex.pipeline, ex.version)
        except ShipyardError as exc:  # e.g. a plug-in kind it uses is no longer installed
            self.repo.set_execution_status(
                ex.id, FAILED_X, [EXECUTING, STOPPING], ended=True,
                reason=f"its definition (version {ex.version}) no longer loads: {exc.message}")
            return
        if ex.status == STOPPING:
            self._stopping(ex, defn)
            return
        for _ in range(len(defn.steps) + 1):  # instant steps (conditions, skips) chain
            records = {r.name: r for r in self.repo.steps(ex.id)}
            if not self._pass(ex, defn, records):
                break
        records = {r.name: r for r in self.repo.steps(ex.id)}
        if all(r.status in STEP_DONE for r in records.values()):
            self._finish(ex, defn, records)

    def _pass(self, ex: ExecutionRecord, defn: Definition,
              records: dict[str, StepRecord]) -> bool:
        """One walk over the steps; True if a step changed status."""
        changed = False
        now = utcnow()
        for step in defn.steps:
            rec = records[step.name]
            if rec.status in STEP_DONE:
                continue
            if rec.status in STEP_ACTIVE:
                outcome = self._run_step(ex, step, rec, records, now,
                                         start=rec.status == STARTING)
                changed |= self._apply(ex, step, rec, outcome, now)
                continue
            verdict, why = self._ready(defn, step, records)
            if verdict == "skip":
                changed |= self.repo.update_step(ex.id, step.name, [PENDING], status=SKIPPED,
                                                 reason=why, ended_at=now)
            elif verdict == "go" and (rec.next_attempt_at is None or rec.next_attempt_at <= now):
                changed |= self._start(ex, step, rec, records, now)
        return changed

    @staticmethod
    def _ready(defn: Definition, step: Step,
               records: Mapping[str, StepRecord]) -> tuple[str, str | None]:
        waiting = False
        for need in defn.needs[step.name]:
            r = records[need]
            if r.status in (FAILED, STOPPED):
                return "skip", f"not run: step {need!r} {r.status.lower()}"
            if r.status == SKIPPED:
                return "skip", f"not run: step {need!r} was skipped"
            if r.status != SUCCEEDED:
                waiting = True
        if waiting:
            return "wait", None
        branch = defn.branch_of.get(step.name)
        if branch is not None:
            cond, which = branch
            taken = records[cond].outputs.get("branch")
            if taken != which:
                return "skip", f"not run: condition {cond!r} took its {taken} branch"
        return "go", None

    def _start(self, ex: ExecutionRecord, step: Step, rec: StepRecord,
               records: Mapping[str, StepRecord], now: datetime) -> bool:
        attempt = rec.attempt + 1
        if not self.repo.update_step(ex.id, step.name, [PENDING], expect_attempt=rec.attempt,
                                     status=STARTING, attempt=attempt, next_attempt_at=None,
                                     job_id=None, started_at=rec.started_at or now):
            return False  # stopped meanwhile
        rec = dataclasses.replace(rec, status=STARTING, attempt=attempt,
                                  started_at=rec.started_at or now, job_id=None)
        outcome = self._run_step(ex, step, rec, records, now, start=True)
        self._apply(ex, step, rec, outcome, now)
        return True

    def _run_step(self, ex: ExecutionRecord, step: Step, rec: StepRecord,
                  records: Mapping[str, StepRecord], now: datetime, start: bool) -> Outcome:
        ctx = StepContext(execution=ex, step=step, record=rec,
                          services=self.service.engine_services,
                          resolve=resolver(ex, records), now=now)
        try:
            if start and step.cache and step.is_job:
                hit = self._cached(ctx)
                if hit is not None:
                    return hit
            runner = runner_for(step.type)
            return runner.start(ctx) if start else runner.poll(ctx)
        except UnresolvedReference as exc:
            return Outcome(FAILED, reason=str(exc))
        except ShipyardError as exc:
            return Outcome(FAILED, reason=exc.message)

    def _cached(self, ctx: StepContext) -> Outcome | None:
        key = cache_key(ctx.execution.pipeline, ctx.step.name, ctx.step.type, job_spec(ctx),
                        ctx.services)
        if key is None:
            return None
        hit = self.repo.cached(key, ctx.now)
        self.repo.update_step(ctx.execution.id, ctx.step.name, STEP_ACTIVE, cache_key=key)
        if hit is None or not outputs_intact(hit.outputs, hit.job_id, ctx.services):
            return None
        return Outcome(SUCCEEDED, {**hit.outputs, "cached_from": hit.execution_id},
                       job_id=hit.job_id, reason="cache hit")

    def _apply(self, ex: ExecutionRecord, step: Step, rec: StepRecord, outcome: Outcome,
               now: datetime) -> bool:
        """Record an outcome; True if the step's status changed."""
        outputs = dict(outcome.outputs)
        if outcome.status == RUNNING:
            if rec.status == RUNNING and outcome.job_id == rec.job_id \
                    and outputs == rec.outputs:
                return False
            return self.repo.update_step(ex.id, step.name, STEP_ACTIVE,
                                         expect_attempt=rec.attempt, status=RUNNING,
                                         job_id=outcome.job_id, outputs=outputs) \
                and rec.status != RUNNING
        if outcome.status == SUCCEEDED:
            hit = outcome.reason == "cache hit"
            done = self.repo.update_step(ex.id, step.name, STEP_ACTIVE,
                                         expect_attempt=rec.attempt, status=SUCCEEDED,
                                         job_id=outcome.job_id, outputs=outputs,
                                         cache_hit=hit, reason=None, ended_at=now)
            if done and step.cache and step.is_job and not hit:
                key = next((r.cache_key for r in self.repo.steps(ex.id)
                            if r.name == step.name), None)
                if key:
                    self.repo.add_cached(key, ex.pipeline, step.name, ex.id, outcome.job_id,
                                         outputs, now + timedelta(
                                             seconds=step.cache_expiry_seconds))
            return done
        if outcome.retryable and rec.attempt < step.retry.max_attempts:
            delay = step.retry.delay(rec.attempt)
            return self.repo.update_step(
                ex.id, step.name, STEP_ACTIVE, expect_attempt=rec.attempt, status=PENDING,
                next_attempt_at=now + timedelta(seconds=delay), outputs=outputs,
                reason=f"attempt {rec.attempt} of {step.retry.max_attempts} failed: "
                       f"{outcome.reason}; retrying in {delay:g} s")
        return self.repo.update_step(ex.id, step.name, STEP_ACTIVE, expect_attempt=rec.attempt,
                                     status=FAILED, job_id=outcome.job_id, outputs=outputs,
                                     reason=outcome.reason, ended_at=now)

    def _finish(self, ex: ExecutionRecord, defn: Definition,
                records: Mapping[str, StepRecord]) -> None:
        failed = [r for r in records.values() if r.status == FAILED]
        if not failed:
            self.repo.set_execution_status(ex.id, SUCCEEDED_X, [EXECUTING], ended=True)
            return
        reason = "; ".join(f"step {r.name!r} failed: {r.reason}" for r in failed)
        self.repo.set_execution_status(ex.id, FAILED_X, [EXECUTING], reason=reason, ended=True)

    # -- stopping -------------------------------------------------------------------------
    def _stopping(self, ex: ExecutionRecord, defn: Definition) -> None:
        now = utcnow()
        busy = False
        for rec in self.repo.steps(ex.id):
            if rec.status in (PENDING, STARTING) and rec.job_id is None:
                self.repo.update_step(ex.id, rec.name, [PENDING, STARTING], status=STOPPED,
                                      reason="the execution was stopped", ended_at=now)
            elif rec.status in STEP_ACTIVE:
                if rec.job_id is None:  # a control-plane step: nothing runs out of process
                    self.repo.update_step(ex.id, rec.name, STEP_ACTIVE, status=STOPPED,
                                          reason="the execution was stopped", ended_at=now)
                    continue
                job = self.service.jobs.cancel(rec.job_id, ex.created_by)
                if job.status in ("Completed", "Failed", "Stopped"):
                    self.repo.update_step(ex.id, rec.name, STEP_ACTIVE, status=STOPPED,
                                          reason=f"the execution was stopped (job {job.id} "
                                                 f"{job.status.lower()})", ended_at=now)
                else:
                    busy = True
        if not busy:
            self.repo.set_execution_status(ex.id, STOPPED_X, [STOPPING], ended=True,
                                           reason=ex.reason)
