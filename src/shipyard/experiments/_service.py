"""Experiments: a named set of runs (training jobs) to compare, with success criteria."""

from __future__ import annotations

import builtins
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.experiments._criteria import LOWER_IS_BETTER, Criterion, evaluate_criteria
from shipyard.names import check_name
from shipyard.store import (
    Database,
    EventLog,
    ExperimentRecord,
    ExperimentRepository,
    JobRecord,
    JobRepository,
    iso,
)


class ExperimentService:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.repo = ExperimentRepository(db, events)
        self.jobs = JobRepository(db, events)

    def upsert(
        self,
        name: str,
        actor: str | None,
        *,
        description: str | None = None,
        problem_statement: str | None = None,
        success_criteria: list[Any] | None = None,
    ) -> ExperimentRecord:
        check_name(name, "experiment name")
        criteria = None
        if success_criteria is not None:
            criteria = [Criterion.parse(c).to_dict() for c in success_criteria]
        return self.repo.upsert(
            name,
            actor,
            description=description,
            problem_statement=problem_statement,
            success_criteria=criteria,
        )

    def ensure(self, name: str, actor: str | None) -> ExperimentRecord:
        return self.repo.find(name) or self.upsert(name, actor)

    def get(self, name: str) -> ExperimentRecord:
        return self.repo.get(name)

    def list(self) -> list[ExperimentRecord]:
        return self.repo.list()

    def runs(
        self, name: str, metric: str | None = None, descending: bool | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The experiment's runs: parameters, metrics and pass/fail against its criteria."""
        exp = self.repo.get(name)
        jobs = self.jobs.list(experiment=name, limit=10_000, oldest_first=True)
        last = self.jobs.last_metrics([j.id for j in jobs])
        runs = [run_summary(j, last[j.id], exp.success_criteria) for j in jobs]
        if metric:
            key = metric if "." in metric else f"test.{metric}"
            if not any(key in r["metrics"] for r in runs) and runs:
                known = sorted({m for r in runs for m in r["metrics"]})
                raise InvalidRequest(
                    f"No run of {name!r} has the metric {key!r}; "
                    f"known: {', '.join(known) or 'none'}."
                )
            lower = key.rsplit(".", 1)[-1] in LOWER_IS_BETTER
            desc = (not lower) if descending is None else descending
            missing = [r for r in runs if key not in r["metrics"]]
            ranked = sorted(
                (r for r in runs if key in r["metrics"]),
                key=lambda r: r["metrics"][key],
                reverse=desc,
            )
            runs = ranked + missing
        return runs


def run_summary(
    job: JobRecord, metrics: dict[str, float], criteria: list[dict[str, Any]]
) -> dict[str, Any]:
    spec = job.spec
    return {
        "job_id": job.id,
        "name": job.name,
        "kind": job.kind,
        "status": job.status,
        "algorithm": spec.get("algorithm"),
        "target": spec.get("target"),
        "hyperparameters": spec.get("hyperparameters") or {},
        "metrics": metrics,
        "tags": job.tags or {},
        "notes": job.notes,
        "criteria": evaluate_criteria(criteria, metrics),
        "created_at": iso(job.created_at),
        "ended_at": iso(job.ended_at),
    }


def experiment_to_dict(rec: ExperimentRecord) -> dict[str, Any]:
    return {
        "name": rec.name,
        "description": rec.description,
        "problem_statement": rec.problem_statement,
        "success_criteria": rec.success_criteria,
        "success_criteria_text": [str(Criterion.parse(c)) for c in rec.success_criteria],
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "created_by": rec.created_by,
    }
