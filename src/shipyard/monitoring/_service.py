"""Monitors on the server: baselines, scheduled runs as jobs, reports, alerts and feedback.

A monitor watches one endpoint against a baseline dataset version:

- **create** computes the baseline statistics and suggested constraints of the
  baseline rows (the model's input columns; never the target) and stores both
  JSON documents in the artifact store. The constraints can be edited and put
  back (checked). A schedule (``every`` or ``cron``) of kind ``monitor`` fires runs.
- **run** snapshots the captured window since the previous run into a version of
  the dataset ``<monitor>.window`` and submits a ``monitoring`` job that reads the
  baseline, the window and the endpoint's ground truth (the dataset
  ``<endpoint>.ground-truth``), with the model version the endpoint serves.
- **harvest**: when that job ends, its ``output/report.json`` and ``output/report.html``
  are already in the artifact store (the executor put them there before the job
  counted as Completed); the run's summary is recorded, each alert becomes a
  ``monitor.alert`` event, the alerts are posted to the webhook (SSRF-checked,
  redirects included) and, if the monitor holds a retraining job spec, that job
  is submitted: monitoring feeds retraining.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import tempfile
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shipyard.artifacts import ArtifactStore
from shipyard.errors import InvalidRequest, NotFound, ShipyardError
from shipyard.monitoring._baseline import compute_baseline
from shipyard.monitoring._common import as_served
from shipyard.monitoring._constraints import validate_constraints
from shipyard.monitoring._drift import DriftOptions
from shipyard.monitoring._explain_drift import (
    check_attribution_settings,
    check_bias_settings,
    check_monitor_columns,
)
from shipyard.monitoring._ground_truth import LABEL, read_labels, unmatched_note
from shipyard.monitoring._model_quality import MetricThreshold
from shipyard.monitoring._runs import (
    SCHEDULE_KIND,
    ground_truth_dataset,
    held_out_metrics,
    model_inputs,
    new_labels,
    no_data,
    parse_ref,
    register_monitor_kind,
    run_summary,
)
from shipyard.monitoring._webhooks import check_webhook_url, post_webhook
from shipyard.names import check_name
from shipyard.settings import Settings
from shipyard.store import (
    Database,
    EventLog,
    EventRecord,
    MonitorRecord,
    MonitorRepository,
    MonitorRunRecord,
    iso,
    utcnow,
)

log = logging.getLogger("shipyard.monitoring")

#: Baseline rows read on the server to compute the stored statistics, at most.
BASELINE_ROWS = 200_000
TERMINAL = ("Completed", "Failed", "Stopped")
CONFIG_KEYS = ("drift", "thresholds", "quality_window", "quality_lookback", "label_key",
               "label_column", "min_labelled_rows", "bias", "attribution")
#: Instances write captured rows every second or so: a scheduled run's window ends this long
#: before now, so a row still in an instance's buffer is read by the next run, never
#: skipped. A manual run instead asks the instances to write their buffers first and reads
#: up to the moment it was asked.
CAPTURE_SETTLE_SECONDS = 5.0
#: How far back a run looks for predictions to score against ground truth, by default.
QUALITY_LOOKBACK = "7d"


def schedule_name(monitor: str) -> str:
    return f"monitor.{monitor}"


def window_dataset(monitor: str) -> str:
    return f"{monitor}.window"


def predictions_dataset(monitor: str) -> str:
    return f"{monitor}.predictions"


class MonitorService:
    """Create, run and read monitors (see the module docstring)."""

    def __init__(self, db: Database, events: EventLog, artifacts: ArtifactStore,
                 datasets: Any, jobs: Any, endpoints: Any, registry: Any, schedules: Any,
                 settings: Settings) -> None:
        self.repo = MonitorRepository(db, events)
        self.events = events
        self.artifacts = artifacts
        self.datasets = datasets
        self.jobs = jobs
        self.endpoints = endpoints
        self.registry = registry
        self.schedules = schedules
        self.settings = settings
        self._runs = threading.Lock()

    # -- create, read, edit -----------------------------------------------------------------
    def create(self, name: str, endpoint: str, baseline: str, *, every: str | None = None,
               cron: str | None = None, config: Mapping[str, Any] | None = None,
               webhook: str | None = None, retrain: Mapping[str, Any] | None = None,
               actor: str | None = None) -> MonitorRecord:
        """Record a monitor of ``endpoint`` against the dataset version ``baseline``."""
        check_name(name, "monitor name")
        ep = self.endpoints.get(endpoint)  # NotFound → 404
        model = self._model_of(ep)
        dataset, version = parse_ref(baseline)
        rec = self.datasets.version(dataset, version)  # NotFound → 404
        settings = self._config(config or {})
        if every or cron:
            from shipyard.scheduling import Schedule

            Schedule.parse(every=every, cron=cron)  # a bad timing is refused before any work
        if webhook:
            check_webhook_url(webhook, allow_private=self.settings.webhook_allow_private)
        if retrain:
            from shipyard.jobs import parse_spec

            parse_spec(dict(retrain))  # refuse a spec that could never run, now
        manifest = model["manifest"]
        signature = model_inputs(manifest.get("input_signature") or [])
        target = manifest.get("target")
        check_monitor_columns(settings, signature, manifest)
        table = self.datasets.read_table(dataset, rec.version)
        # Only what the model reads: a column it never reads raises no alert.
        keep = [n for n in signature if n in table.column_names and n != target]
        if not keep:
            raise InvalidRequest(
                f"Dataset {dataset}:{rec.version} has none of the model's input columns "
                f"({', '.join(signature[:8])}); the baseline must be data like the training "
                "data.")
        missing = [n for n in signature if n not in table.column_names and n != target]
        if missing:
            # Each execution scores the baseline rows with the model (prediction drift),
            # which would fail on them as if the traffic lacked the column.
            shown = ", ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
            raise InvalidRequest(
                f"Dataset {dataset}:{rec.version} lacks {len(missing)} of the columns the "
                f"model reads ({shown}); each execution scores the baseline with the model, "
                "so give a baseline that holds every one, such as the training data.",
                field="baseline")
        frame = table.select(keep).to_pandas()
        if len(frame) > BASELINE_ROWS:
            frame = frame.sample(BASELINE_ROWS, random_state=0)
        # As the instances capture them: two-state columns as 1.0/0.0, numbers as floats.
        frame = as_served(frame, manifest.get("input_signature") or [])
        computed = compute_baseline(frame)
        stats_blob = self.artifacts.put_bytes(json.dumps(computed.statistics).encode())
        cons_blob = self.artifacts.put_bytes(json.dumps(computed.constraints).encode())
        doc = {"dataset": dataset, "version": rec.version, "columns": keep, "target": target,
               "statistics": stats_blob.sha256, "constraints": cons_blob.sha256,
               "rows": len(frame)}
        stored = {**settings, "webhook": webhook or None,
                  "retrain": dict(retrain) if retrain else None,
                  "schedule": {"every": every, "cron": cron} if (every or cron) else None}
        monitor = self.repo.create(name, endpoint, doc, stored, actor)
        if every or cron:
            try:
                self.schedules.create(schedule_name(name), SCHEDULE_KIND, {"monitor": name},
                                      every=every, cron=cron, actor=actor)
            except ShipyardError:
                self.repo.delete(name, actor)  # nothing half-made stays behind
                raise
        return monitor

    def _config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise InvalidRequest(f"Monitor settings have no {unknown[0]!r}; they are "
                                 f"{', '.join(CONFIG_KEYS)}.")
        out = {k: v for k, v in config.items() if v is not None}
        if "quality_lookback" in out:
            import pandas as pd

            try:
                if pd.Timedelta(str(out["quality_lookback"])).total_seconds() <= 0:
                    raise ValueError
            except ValueError:
                raise InvalidRequest(f"quality_lookback must be a duration like 7d or 12h; "
                                     f"got {out['quality_lookback']!r}.") from None
        if "drift" in out:
            if not isinstance(out["drift"], Mapping):
                raise InvalidRequest("drift must be an object of drift options.")
            try:
                DriftOptions.from_dict(out["drift"])
            except TypeError as exc:
                raise InvalidRequest(f"A drift option is malformed: {exc}.") from None
        if "bias" in out:
            out["bias"] = check_bias_settings(out["bias"])
        if "attribution" in out:
            out["attribution"] = check_attribution_settings(out["attribution"])
        for t in out.get("thresholds") or []:
            try:
                MetricThreshold(**t)
            except TypeError as exc:
                raise InvalidRequest(f"A quality threshold is malformed: {exc}.") from None
        return out

    def _model_of(self, ep: Any) -> dict[str, Any]:
        """The model version the endpoint's first production variant serves."""
        variants = [v for v in ep.spec.get("variants", []) if not v.get("shadow")]
        if not variants:
            raise InvalidRequest(f"Endpoint {ep.name!r} serves no model to monitor.")
        v = variants[0]
        rec = self.registry.get(v["model_group"], int(v["model_version"]))
        return {"ref": f"{rec.group}:{rec.version}", "manifest": (rec.bundle or {}).get(
            "manifest") or {}, "metrics": rec.metrics or {}}

    def get(self, name: str) -> MonitorRecord:
        return self.repo.get(name)

    def list(self, endpoint: str | None = None) -> list[MonitorRecord]:
        return self.repo.list(endpoint)

    def statistics(self, name: str) -> dict[str, Any]:
        return json.loads(self.artifacts.read_bytes(self.repo.get(name).baseline["statistics"]))

    def constraints(self, name: str) -> dict[str, Any]:
        return json.loads(self.artifacts.read_bytes(self.repo.get(name).baseline["constraints"]))

    def set_constraints(self, name: str, doc: Any, actor: str | None) -> dict[str, Any]:
        """Replace the monitor's constraints with an edited document (checked first)."""
        checked = validate_constraints(doc)
        rec = self.repo.get(name)
        blob = self.artifacts.put_bytes(json.dumps(checked).encode())
        self.repo.update(name, actor, baseline={**rec.baseline, "constraints": blob.sha256})
        return checked

    def delete(self, name: str, actor: str | None) -> None:
        self.repo.get(name)
        with contextlib.suppress(NotFound):
            self.schedules.delete(schedule_name(name), actor)
        self.repo.delete(name, actor)

    # -- runs ---------------------------------------------------------------------------------
    def run(self, name: str, trigger: str = "manual", actor: str | None = None,
            end: datetime | None = None) -> MonitorRunRecord:
        """Snapshot the captured window since the last run and submit its monitoring job.

        A manual run reads everything answered until the moment it was asked (the
        endpoint's instances write their capture buffers first); a scheduled one reads up
        to :data:`CAPTURE_SETTLE_SECONDS` ago. With no new traffic but labels uploaded
        since the last run, the job scores them alone; with neither, the run is NoData
        and its summary says why.
        """
        from shipyard.serving import read_capture

        with self._runs:  # two runs of one monitor must not read overlapping windows
            mon = self.repo.get(name)
            start = self.repo.last_window_end(name)
            if end is None and trigger == "manual":
                end = utcnow()
                self._flush(mon.endpoint)
            end = end or utcnow() - timedelta(seconds=CAPTURE_SETTLE_SECONDS)
            if start is not None and end < start:  # a scheduled run just after a manual one
                end = start
            run = self.repo.add_run(name, trigger, start, end)
            try:
                frame = read_capture(self.settings.home / "endpoints" / mon.endpoint /
                                     "capture", start, end)
                if frame.empty:
                    job, truth = (self._submit(mon, run, None, actor)
                                  if new_labels(self.repo, self.datasets, mon) is not None
                                  else (None, None))
                    if job is None:
                        why = no_data(self.repo, self.endpoints, mon, run)
                        return self.repo.update_run(name, run.seq, status="NoData",
                                                    finished_at=utcnow(), summary=why)
                    return self.repo.update_run(name, run.seq, status="Running", job_id=job.id,
                                                summary={"rows": 0, "labels_only": True,
                                                         "ground_truth_version": truth})
                window_version = self._ingest_frame(window_dataset(name), frame, "replace",
                                                    actor)
                job, truth = self._submit(mon, run, f"{window_dataset(name)}:{window_version}",
                                          actor)
            except ShipyardError as exc:
                return self.repo.update_run(name, run.seq, status="Failed", error=exc.message,
                                            finished_at=utcnow())
            return self.repo.update_run(name, run.seq, status="Running", job_id=job.id,
                                        summary={"rows": len(frame),
                                                 "ground_truth_version": truth})

    def _flush(self, endpoint: str) -> None:
        """Have the endpoint's instances write their captured rows now (a manual run)."""
        supervisor = getattr(self.endpoints, "supervisor", None)
        if supervisor is not None:
            supervisor.flush_capture(endpoint)

    def check_dataset(self, name: str, dataset: str, actor: str | None = None
                      ) -> MonitorRunRecord:
        """Check a dataset version (not the capture) against the baseline: a run of its own.

        The model scores the rows, so prediction drift is reported too; the window chain
        of the capture runs is not touched.
        """
        ds, version = parse_ref(dataset)
        rec = self.datasets.version(ds, version)  # NotFound → 404
        mon = self.repo.get(name)
        run = self.repo.add_run(name, "dataset", None, utcnow())
        try:
            job, _ = self._submit(mon, run, f"{ds}:{rec.version}", actor, labels=False)
        except ShipyardError as exc:
            return self.repo.update_run(name, run.seq, status="Failed", error=exc.message,
                                        finished_at=utcnow())
        return self.repo.update_run(name, run.seq, status="Running", job_id=job.id,
                                    summary={"rows": rec.num_rows, "dataset": f"{ds}:"
                                             f"{rec.version}"})

    def _submit(self, mon: MonitorRecord, run: MonitorRunRecord, current: str | None,
                actor: str | None, labels: bool = True) -> tuple[Any, int | None]:
        """Submit the run's monitoring job; the job and the ground-truth version it scores.

        ``current`` None: no new traffic, only labels to score (the job then reads the
        predictions of the lookback as its window and reports model quality alone); None
        is returned for the job when there are no predictions to score either.
        """
        ep = self.endpoints.get(mon.endpoint)
        model = self._model_of(ep)
        manifest = model["manifest"]
        inputs = {"baseline": f"{mon.baseline['dataset']}:{mon.baseline['version']}"}
        if current is not None:
            inputs["current"] = current
        try:
            truth = self.datasets.version(ground_truth_dataset(mon.endpoint)) if labels \
                else None
        except NotFound:
            truth = None
        if truth is not None:
            # Labels come later than predictions: score what was captured over the lookback.
            version = self._predictions(mon, run)
            if version is not None:
                inputs["ground_truth"] = f"{ground_truth_dataset(mon.endpoint)}:{truth.version}"
                inputs["predictions"] = f"{predictions_dataset(mon.name)}:{version}"
        if current is None:
            if "predictions" not in inputs:
                return None, None
            inputs["current"] = inputs["predictions"]  # the job reads no drift window
        problem = manifest.get("problem_type")
        settings = {
            "monitor": mon.name, "endpoint": mon.endpoint,
            "baseline_dataset": inputs["baseline"],
            "window_start": iso(run.window_start), "window_end": iso(run.window_end),
            "exclude": [manifest["target"]] if manifest.get("target") else [],
            "constraints": self.constraints(mon.name),
            "problem_type": problem if problem in ("binary", "multiclass", "regression")
            else None,
            "classes": manifest.get("classes") or [],
            "baseline_metrics": held_out_metrics(model["metrics"]),
            "labels_only": current is None,
            **{k: mon.config[k] for k in CONFIG_KEYS if k in mon.config},
        }
        job, _ = self.jobs.submit({
            "kind": "monitoring", "name": f"{mon.name}.execution-{run.seq}",
            "model": model["ref"], "inputs": inputs, "monitor": settings,
            "tags": {"monitor": mon.name, "endpoint": mon.endpoint}}, actor)
        return job, int(truth.version) if "ground_truth" in inputs and truth else None

    def _predictions(self, mon: MonitorRecord, run: MonitorRunRecord) -> int | None:
        """Snapshot the predictions captured over the quality lookback (None: there are none)."""
        import pandas as pd

        from shipyard.serving import read_capture

        lookback = str(mon.config.get("quality_lookback") or QUALITY_LOOKBACK)
        frame = read_capture(self.settings.home / "endpoints" / mon.endpoint / "capture",
                             run.window_end - pd.Timedelta(lookback).to_pytimedelta(),
                             run.window_end)
        if frame.empty:
            return None
        key = mon.config.get("label_key") or "inference_id"
        # Bias drift groups the labelled predictions by the facet (and group) inputs.
        bias = mon.config.get("bias") or {}
        facets = {bias.get("facet"), bias.get("group")} - {None}
        keep = [c for c in frame.columns if c in ("inference_id", "timestamp", "variant", key)
                or c == "prediction" or str(c).startswith("probability.") or c in facets]
        return self._ingest_frame(predictions_dataset(mon.name), frame[keep], "replace", None)

    def _ingest_frame(self, dataset: str, frame: Any, mode: str, actor: str | None) -> int:
        with tempfile.TemporaryDirectory(dir=self.settings.tmp_dir) as tmp:
            part = Path(tmp) / "part.parquet"
            frame.to_parquet(part, index=False)
            rec = self.datasets.ingest(dataset, [("part.parquet", part)], mode=mode,
                                       format="parquet", actor=actor,
                                       source={"kind": "monitor"})
        return int(rec.version)

    def runs(self, name: str, limit: int = 100) -> builtins.list[MonitorRunRecord]:
        return self.repo.runs(name, limit)

    def report(self, name: str, seq: int | None = None) -> dict[str, Any]:
        run = self._finished_run(name, seq)
        if not run.report_key:
            raise NotFound(f"Execution {run.seq} of monitor {name!r} has no report ({run.status}"
                           f"{': ' + run.error if run.error else ''}).")
        return json.loads(self.artifacts.read_bytes(run.report_key))

    def html(self, name: str, seq: int | None = None) -> str:
        run = self._finished_run(name, seq)
        if not run.html_key:
            raise NotFound(f"Execution {run.seq} of monitor {name!r} has no report ({run.status}).")
        return self.artifacts.read_bytes(run.html_key).decode("utf-8")

    def _finished_run(self, name: str, seq: int | None) -> MonitorRunRecord:
        if seq is not None:
            return self.repo.get_run(name, seq)
        done = [r for r in self.repo.runs(name) if r.report_key]
        if not done:
            raise NotFound(f"Monitor {name!r} has no report yet; `shipyard monitors run "
                           f"{name}` starts an execution.")
        return done[-1]

    def alerts(self, name: str, limit: int = 200) -> builtins.list[EventRecord]:
        self.repo.get(name)
        events = self.events.list(resource_type="monitor", resource_id=name, limit=10_000)
        return [e for e in events if e.kind == "monitor.alert"][-limit:]

    # -- ground truth ----------------------------------------------------------------------
    def add_ground_truth(self, name: str, files: builtins.list[tuple[str, Path]], actor: str | None,
                         format: str | None = None, label_column: str | None = None
                         ) -> dict[str, Any]:
        """Append uploaded labels to the endpoint's ground truth (key and label columns).

        The label column is ``label_column``, else the monitor's, else ``label`` or the
        served model's target (:mod:`shipyard.monitoring._ground_truth`).

        Raises:
            InvalidRequest: a file without the key or label column (nothing is stored).
        """
        mon = self.repo.get(name)
        configured = mon.config.get("label_column")
        manifest: dict[str, Any] = {}
        with contextlib.suppress(ShipyardError):
            manifest = self._model_of(self.endpoints.get(mon.endpoint))["manifest"]
        key = mon.config.get("label_key") or "inference_id"
        frame = read_labels(files, key, configured or LABEL, asked=label_column or None,
                            configured=configured, target=manifest.get("target"),
                            format=format, tmp_dir=self.settings.tmp_dir,
                            numeric=manifest.get("problem_type") == "regression",
                            classes=manifest.get("classes")
                            if manifest.get("problem_type") in ("binary", "multiclass") else None)
        version = self._ingest_frame(ground_truth_dataset(mon.endpoint), frame, "auto", actor)
        lookback = str(mon.config.get("quality_lookback") or QUALITY_LOOKBACK)
        matched, note = unmatched_note(frame[key].tolist(), self._captured(mon, key, lookback),
                                       key=key, endpoint=mon.endpoint, lookback=lookback)
        return {"dataset": ground_truth_dataset(mon.endpoint), "version": version,
                "rows": len(frame), "matched": matched, "note": note}

    def _captured(self, mon: MonitorRecord, key: str, lookback: str) -> builtins.list[Any]:
        """The ``key`` of every prediction the endpoint captured over the lookback."""
        import pandas as pd

        from shipyard.serving import read_capture

        self._flush(mon.endpoint)  # answers still in the instances' buffers count too
        frame = read_capture(self.settings.home / "endpoints" / mon.endpoint / "capture",
                             utcnow() - pd.Timedelta(lookback).to_pytimedelta(), None,
                             columns=[key])
        return frame[key].tolist() if key in frame.columns else []

    # -- harvest ------------------------------------------------------------------------------
    def on_job_event(self, event: EventRecord) -> None:
        """Dispatcher callback: a monitoring job ended, so record its report and act on it."""
        if event.payload.get("status") not in TERMINAL:
            return
        run = self.repo.run_of_job(event.resource_id)
        if run is None or run.status != "Running":
            return
        job = self.jobs.get(event.resource_id)
        from shipyard.monitoring._job import HTML_FILE, REPORT_FILE

        # The job's output files reached the artifact store before it counted as Completed.
        stored = {f["path"]: f for f in (job.outputs or {}).get("files") or []}
        report_entry = stored.get(f"output/{REPORT_FILE}")
        html_entry = stored.get(f"output/{HTML_FILE}")
        if job.status != "Completed" or report_entry is None or html_entry is None:
            self.repo.update_run(run.monitor, run.seq, status="Failed", finished_at=utcnow(),
                                 error=job.message or job.reason or job.status)
            return
        report = json.loads(self.artifacts.read_bytes(report_entry["sha256"]))
        summary = run_summary(report, run.summary)
        run = self.repo.update_run(run.monitor, run.seq, status="Completed", summary=summary,
                                   report_key=report_entry["sha256"],
                                   html_key=html_entry["sha256"],
                                   finished_at=utcnow(), alerts=report.get("alerts") or [])
        if report.get("alerts"):
            self._act_on_alerts(run, report["alerts"])

    def _act_on_alerts(self, run: MonitorRunRecord, alerts: builtins.list[dict[str, Any]]) -> None:
        """Post the alerts (recorded with the run's completion) and start retraining."""
        mon = self.repo.get(run.monitor)
        if mon.config.get("webhook"):
            threading.Thread(target=self._deliver, args=(mon, run, alerts), daemon=True,
                             name=f"webhook-{mon.name}").start()
        retrain = mon.config.get("retrain")
        if retrain:
            try:
                job, _ = self.jobs.submit(dict(retrain), mon.created_by,
                                          idempotency_key=f"monitor:{mon.name}:{run.seq}")
                self.repo.record(mon.name, "monitor.retraining_started", None,
                                 execution=run.seq, job_id=job.id)
            except ShipyardError as exc:
                self.repo.record(mon.name, "monitor.retraining_failed", None,
                                 execution=run.seq, reason=exc.message)

    def _deliver(self, mon: MonitorRecord, run: MonitorRunRecord,
                 alerts: builtins.list[dict[str, Any]]) -> None:
        payload = {"monitor": mon.name, "endpoint": mon.endpoint, "execution": run.seq,
                   "window_start": iso(run.window_start), "window_end": iso(run.window_end),
                   "alerts": alerts, "summary": run.summary}
        try:
            result = post_webhook(mon.config["webhook"], payload,
                                  allow_private=self.settings.webhook_allow_private)
            kind = "monitor.webhook_delivered" if result.ok else "monitor.webhook_failed"
            self.repo.record(mon.name, kind, None, execution=run.seq, status=result.status_code,
                             error=result.error)
        except ShipyardError as exc:  # refused (e.g. a redirect to a private address)
            self.repo.record(mon.name, "monitor.webhook_failed", None, execution=run.seq,
                             error=exc.message)


__all__ = ["SCHEDULE_KIND", "MonitorService", "ground_truth_dataset", "register_monitor_kind"]
