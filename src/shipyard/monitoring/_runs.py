"""The parts of a monitor run that read like rules: what a run's summary holds, why a run
found no data, whether labels arrived since the last scoring, and the ``monitor`` schedule
kind. :class:`~shipyard.monitoring._service.MonitorService` calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest, NotFound
from shipyard.store import MonitorRecord, MonitorRepository, MonitorRunRecord, iso

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.monitoring._service import MonitorService

#: Schedule kind of monitor runs, and the prefix of their schedule names.
SCHEDULE_KIND = "monitor"


def ground_truth_dataset(endpoint: str) -> str:
    return f"{endpoint}.ground-truth"


def new_labels(repo: MonitorRepository, datasets: Any, mon: MonitorRecord) -> int | None:
    """The ground-truth version to score when labels arrived after the last run that
    scored any (None: nothing new)."""
    try:
        truth = datasets.version(ground_truth_dataset(mon.endpoint))
    except NotFound:
        return None
    scored = [int(r.summary.get("ground_truth_version") or 0)
              for r in repo.runs(mon.name, limit=10_000)
              if r.status in ("Running", "Completed") and r.trigger != "dataset"]
    return int(truth.version) if int(truth.version) > max(scored, default=0) else None


def no_data(repo: MonitorRepository, endpoints: Any, mon: MonitorRecord,
            run: MonitorRunRecord) -> dict[str, Any]:
    """Why a run found nothing to read: the capture is off, or no new traffic since run N."""
    ep = endpoints.get(mon.endpoint)
    if float(ep.spec.get("capture_percent") or 0) <= 0:
        return {"rows": 0, "reason": "capture_off", "note": (
            f"Capture is off: endpoint {mon.endpoint} records no invocation (its "
            f"capture_percent is 0); `shipyard endpoints update {mon.endpoint} "
            "--capture-percent 100` turns it on.")}
    seen = [r for r in repo.runs(mon.name, limit=10_000)
            if r.seq < run.seq and r.trigger != "dataset" and r.status != "Failed"
            and int(r.summary.get("rows") or 0) > 0]
    if seen:
        last = seen[-1]
        return {"rows": 0, "reason": "no_traffic", "since_execution": last.seq, "note": (
            f"No new traffic since execution {last.seq} (its window ended "
            f"{iso(last.window_end)}); invoke endpoint {mon.endpoint}, then run again.")}
    return {"rows": 0, "reason": "no_traffic", "since_execution": None, "note": (
        f"No traffic yet: endpoint {mon.endpoint} captured no invocation before this execution; "
        "invoke it, then run again.")}


def parse_ref(ref: str) -> tuple[str, int | None]:
    name, _, version = str(ref).partition(":")
    if version and not version.isdigit():
        raise InvalidRequest(f"A dataset reference is NAME or NAME:VERSION; got {ref!r}.")
    return name, int(version) if version else None


def held_out_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The model's held-out metrics (test split, else validation) as the quality baseline."""
    for split in ("test", "validation"):
        if isinstance(metrics.get(split), Mapping):
            return dict(metrics[split])
    return {}


def run_summary(report: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    drift = report.get("drift") or {}
    quality = report.get("quality") or {}
    mq = report.get("model_quality") or {}
    unseen = report.get("unseen_categories") or {}
    return {
        "rows": report.get("n_current_rows", before.get("rows")),
        "alerts": [a.get("message") for a in report.get("alerts") or []],
        "drifted_columns": drift.get("drifted_columns") or [],
        "drift_share": drift.get("share_drifted"),
        "dataset_drift": drift.get("dataset_drift"),
        # Columns not tested, with the short reason (identifier, constant, too few rows…).
        "skipped": {c["column"]: c.get("skip") or c.get("reason")
                    for c in drift.get("columns") or [] if not c.get("test")},
        "violations": len(quality.get("violations") or []),
        "unseen_categories": {c: e.get("rows") for c, e in (unseen.get("columns") or {}).items()},
        "model_quality": mq.get("overall") or {},
        "labelled": mq.get("n_matched"),
        "labels_only": bool(before.get("labels_only")),
        "ground_truth_version": before.get("ground_truth_version"),
        "attribution_ndcg": (report.get("attribution_drift") or {}).get("ndcg"),
        "bias_drift": (report.get("bias_drift") or {}).get("current"),
    }


def model_inputs(signature: list[dict[str, Any]]) -> list[str]:
    """The input columns the model reads: its signature without the ones a recipe drops."""
    return [str(e["name"]) for e in signature if e.get("required", True)]


def register_monitor_kind(scheduler: Any, monitors: MonitorService) -> None:
    """Schedules of kind ``monitor`` run a monitor; the target names it."""

    def validate(target: dict[str, Any]) -> dict[str, Any]:
        if set(target) != {"monitor"}:
            raise InvalidRequest('A monitor schedule\'s target is {"monitor": NAME}.')
        monitors.get(str(target["monitor"]))
        return {"monitor": str(target["monitor"])}

    def fire(ctx: Any) -> str | None:
        run = monitors.run(ctx.target["monitor"], "schedule", ctx.actor)
        if run.status == "Failed":
            raise InvalidRequest(run.error or "the monitoring execution failed")
        return run.job_id

    scheduler.register(SCHEDULE_KIND, fire, validate)

