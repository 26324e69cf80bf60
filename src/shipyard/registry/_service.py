"""The model registry: groups of versions, each gated by approval.

A version is registered from a Completed job that saved a model. It carries the
job's metrics, its lineage (dataset versions → job → bundle), a model card and
the verdict of its experiment's success criteria. Registering a version that
fails them needs an explicit override, recorded on the version and its card.
Only approvers and admins change a version's status (the route checks the role);
every change is an event in the audit log.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from shipyard.artifacts import ArtifactStore
from shipyard.bundle import MANIFEST, BundleError, check_bundle
from shipyard.errors import (
    Conflict,
    CriteriaNotMet,
    InvalidBundle,
    InvalidRequest,
    ShipyardError,
)
from shipyard.experiments import evaluate_criteria, nest_metrics
from shipyard.humanize import number
from shipyard.jobs import job_model_files, model_job
from shipyard.names import check_name
from shipyard.registry._reports import (
    KEEP_REPORTS,
    REPORT_FILE,
    REPORT_KINDS,
    report_entry,
    reports_markdown,
)
from shipyard.store import (
    Database,
    DatasetRepository,
    EventLog,
    ExperimentRepository,
    JobRecord,
    JobRepository,
    ModelGroupRecord,
    ModelVersionRecord,
    RegistryRepository,
    iso,
)

PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
#: Which statuses a version may move to, from which.
ALLOWED_FROM = {APPROVED: [PENDING, REJECTED], REJECTED: [PENDING, APPROVED]}
log = logging.getLogger("shipyard.registry")
CARD_FIELDS = ("intended_use", "limitations", "ethical_considerations", "caveats")


class RegistryService:
    def __init__(self, db: Database, events: EventLog, artifacts: ArtifactStore) -> None:
        self.repo = RegistryRepository(db, events)
        self.jobs = JobRepository(db, events)
        self.datasets = DatasetRepository(db, events)
        self.experiments = ExperimentRepository(db, events)
        self.artifacts = artifacts

    # -- register -------------------------------------------------------------------------
    def register(
        self,
        group: str,
        job_id: str,
        actor: str | None,
        *,
        card: dict[str, Any] | None = None,
        override_reason: str | None = None,
        description: str | None = None,
        candidate: int | None = None,
    ) -> ModelVersionRecord:
        check_name(group, "model group name")
        job = self._model_job(self.jobs.get(job_id), candidate)
        job_id = job.id
        # The bundle is the job's model/ folder; its files are named relative to it.
        files = job_model_files(job, use="registered")
        self._check_bundle(job_id, files)
        manifest = self._manifest(files)
        flat = self.jobs.last_metrics([job_id])[job_id]
        criteria_list = []
        if job.experiment:
            exp = self.experiments.find(job.experiment)
            criteria_list = exp.success_criteria if exp else []
        verdict = evaluate_criteria(criteria_list, flat)
        override = None
        if verdict["passed"] is not True and criteria_list:
            failing = [
                r["text"]
                + (f" (got {r['value']:.4g})" if r["value"] is not None else " (not measured)")
                for r in verdict["results"]
                if r["passed"] is not True
            ]
            if not override_reason:
                raise CriteriaNotMet(
                    f"Job {job_id} does not meet the success criteria of experiment "
                    f"{job.experiment!r}: {'; '.join(failing)}. Register it anyway with an "
                    "override reason (--override-criteria REASON)."
                )
            override = {"reason": override_reason, "by": actor, "failing": failing}
        verdict["override"] = override
        lineage = self._lineage(job, files)
        metrics = nest_metrics(flat)
        full_card = self._default_card(job, manifest, metrics, lineage, verdict, description)
        full_card.update({k: v for k, v in (card or {}).items() if k in CARD_FIELDS})
        bundle = {"files": files, "manifest": manifest}
        return self.repo.add_version(
            group,
            status=PENDING,
            job_id=job_id,
            bundle=bundle,
            metrics=metrics,
            lineage=lineage,
            card=full_card,
            criteria=verdict,
            actor=actor,
        )

    def model_job(self, job_id: str, candidate: int | None = None) -> JobRecord:
        """The job whose model registering ``job_id`` would take (itself, a tuning job's
        best, an AutoML job's final model or its candidate ``candidate``).

        Raises:
            NotFound: no such job. Conflict: a tuning or AutoML job that has no model yet.
        """
        return self._model_job(self.jobs.get(job_id), candidate)

    def _model_job(self, job: JobRecord, candidate: int | None = None) -> JobRecord:
        """The job whose model a registration takes: a tuning job's is its best settings'
        (the scoring job: the best trial's settings, scored on test); an AutoML job's is its
        final model (the best candidate or the ensemble, scored on test), or the candidate
        numbered ``candidate``."""
        if candidate is not None and job.kind != "automl":
            raise InvalidRequest(f"--candidate picks one of an AutoML job's candidates; job "
                                 f"{job.id} is a {job.kind} job.")
        if candidate is None:
            return model_job(self.jobs, job, use="registered",
                             pick="or pick a completed candidate with --candidate N")
        return self._automl_candidate(job, candidate)

    def _automl_candidate(self, job: JobRecord, candidate: int) -> JobRecord:
        board = (job.outputs or {}).get("automl") or {}
        row = next((r for r in board.get("candidates") or [] if r.get("number") == candidate),
                   None)
        if row is None:
            raise InvalidRequest(f"AutoML job {job.id} has no candidate {candidate}; `shipyard "
                                 f"automl leaderboard {job.id}` lists them.")
        picked = self.jobs.get(str(row["job_id"]))
        if picked.status != "Completed":
            raise Conflict(f"Candidate {candidate} of AutoML job {job.id} (job {picked.id}) is "
                           f"{picked.status}; only a completed candidate can be registered.")
        return picked

    def _check_bundle(self, job_id: str, files: list[dict[str, Any]]) -> None:
        """Refuse a model a deploy would refuse: the same checks as load, nothing deserialised.

        The files are copied out of the store (each checked against its SHA-256) into a
        scratch folder, where :func:`shipyard.bundle.check_bundle` looks at them.

        Raises:
            InvalidBundle: (422) naming the file and the rule it breaks.
        """
        if not any(f["path"] == MANIFEST for f in files):
            raise InvalidBundle(
                f"Job {job_id} saved no {MANIFEST} in its model/ folder, so its model could "
                "never be deployed; a registered model is a Shipyard bundle (MODEL.json with "
                "the SHA-256 of every file, a recipe and one model file in a safe native "
                "format), as training jobs write.")
        with tempfile.TemporaryDirectory(prefix="register-", dir=self.artifacts.tmp_dir) as tmp:
            root = Path(tmp)
            try:
                for f in files:
                    rel = PurePosixPath(f["path"])
                    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                        raise BundleError(f"Bundle file name {f['path']!r} is not a plain "
                                          "relative path inside the bundle.")
                    self.artifacts.copy_to(f["sha256"], root / rel)
                check_bundle(root)
            except BundleError as exc:
                message = exc.message.replace(f" in {root}", "").replace(str(root), "model/")
                raise InvalidBundle(
                    f"Job {job_id}'s model is refused, as a deploy would refuse it: "
                    f"{message}") from None

    def _manifest(self, files: list[dict[str, Any]]) -> dict[str, Any] | None:
        entry = next((f for f in files if f["path"] == "MODEL.json"), None)
        if entry is None:
            return None
        try:
            manifest = json.loads(self.artifacts.read_bytes(entry["sha256"]))
        except ValueError as exc:
            raise InvalidRequest("The job's MODEL.json is not valid JSON.") from exc
        # Keep what the registry shows; the full manifest stays in the bundle.
        keep = (
            "task",
            "problem_type",
            "algorithm",
            "framework",
            "target",
            "classes",
            "input_signature",
            "output_schema",
            "hyperparameters",
            "split",
            "bundle_size",
        )
        return {k: manifest.get(k) for k in keep if k in manifest}

    def _lineage(self, job: Any, files: list[dict[str, Any]]) -> dict[str, Any]:
        datasets = []
        for channel, ref in (job.spec.get("inputs") or {}).items():
            if not isinstance(ref, dict):
                continue
            entry = {
                "channel": channel,
                "dataset": ref.get("dataset"),
                "version": ref.get("version"),
            }
            try:
                v = self.datasets.version(ref["dataset"], ref.get("version"))
                entry.update(content_hash=v.content_hash, rows=v.num_rows)
            except ShipyardError:
                entry["note"] = "dataset version no longer exists"
            datasets.append(entry)
        model_json = next((f["sha256"] for f in files if f["path"] == "MODEL.json"), None)
        return {
            "datasets": datasets,
            "job_id": job.id,
            "job_kind": job.kind,
            "bundle": {"model_json_sha256": model_json, "files": len(files)},
        }

    @staticmethod
    def _default_card(
        job: Any,
        manifest: dict[str, Any] | None,
        metrics: dict[str, Any],
        lineage: dict[str, Any],
        verdict: dict[str, Any],
        description: str | None,
    ) -> dict[str, Any]:
        algo = (manifest or {}).get("algorithm") or job.spec.get("algorithm") or job.kind
        target = (manifest or {}).get("target") or job.spec.get("target")
        return {
            "description": description
            or f"{algo} model trained by job {job.id}"
            + (f" to predict {target!r}" if target else ""),
            "intended_use": "",
            "limitations": "",
            "ethical_considerations": "",
            "caveats": "",
            "metrics": metrics,
            "training_data": lineage["datasets"],
            "success_criteria": verdict,
            # Written by a built-in training job: bytes, and a sentence when it is large.
            "bundle_size": (manifest or {}).get("bundle_size"),
        }

    # -- status ---------------------------------------------------------------------------
    def set_status(
        self, group: str, version: int, status: str, comment: str | None, actor: str | None
    ) -> ModelVersionRecord:
        if status not in ALLOWED_FROM:
            raise InvalidRequest(f"Unknown decision {status!r}; approve or reject.")
        if not comment or not comment.strip():
            raise InvalidRequest("Approving or rejecting needs a comment (--comment TEXT).")
        return self.repo.set_status(
            group, version, status, ALLOWED_FROM[status], comment=comment.strip(), actor=actor
        )

    # -- reads and edits ------------------------------------------------------------------
    def get(
        self, group: str, version: int | None = None, status: str | None = None
    ) -> ModelVersionRecord:
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
        return self.repo.get(group, version, status)

    def versions(self, group: str) -> list[ModelVersionRecord]:
        return self.repo.versions(group)

    def groups(self) -> list[ModelGroupRecord]:
        return self.repo.groups()

    def group(self, name: str) -> ModelGroupRecord:
        return self.repo.group(name)

    def update_card(
        self, group: str, version: int, changes: dict[str, Any], actor: str | None
    ) -> ModelVersionRecord:
        unknown = sorted(set(changes) - set(CARD_FIELDS))
        if unknown:
            raise InvalidRequest(
                f"Model card fields {', '.join(unknown)} cannot be edited; editable fields: "
                f"{', '.join(CARD_FIELDS)}."
            )
        current = self.repo.get(group, version)
        card = {**current.card, **{k: str(v) for k, v in changes.items()}}
        return self.repo.update_card(group, version, card, actor)

    def delete_group(self, group: str, actor: str | None,
                     audit: dict[str, Any] | None = None) -> int:
        """Delete a model group and all its versions; return how many versions went.

        Nothing is deleted from the artifact store: a version's files are its job's
        outputs. Whether anything still uses the group (an endpoint serving it) is the
        caller's question (:meth:`shipyard.references.References.check_delete`).
        """
        check_name(group, "model group name")
        return self.repo.delete_group(group, actor, **(audit or {}))

    def on_job_event(self, event: Any) -> None:
        """Dispatcher callback: a bias or explain job of a model version completed, so its
        report's summary goes on that version's card (see :mod:`shipyard.registry._reports`)."""
        if event.payload.get("status") != "Completed":
            return
        try:
            job = self.jobs.get(event.resource_id)
        except ShipyardError:
            return
        model = job.spec.get("model")
        if job.kind not in REPORT_KINDS or not isinstance(model, dict):
            return
        stored = {f["path"]: f for f in (job.outputs or {}).get("files") or []}
        entry = stored.get(REPORT_FILE)
        if entry is None:
            return
        try:
            card_entry = report_entry(job, self.artifacts.read_bytes(entry["sha256"]))
            self.repo.add_card_report(str(model["group"]), int(model["version"]), card_entry,
                                      KEEP_REPORTS)
        except (ShipyardError, ValueError, KeyError, TypeError, OSError):
            log.exception("could not put the report of job %s on the model card", job.id)

    def update_group_settings(
        self, group: str, changes: dict[str, Any], actor: str | None,
        description: str | None = None,
    ) -> ModelGroupRecord:
        """Merge ``changes`` into the group's settings; set its description when given."""
        current = self.repo.group(group)
        return self.repo.update_group_settings(group, {**current.settings, **changes}, actor,
                                               description)


def version_to_dict(rec: ModelVersionRecord) -> dict[str, Any]:
    return {
        "group": rec.group,
        "version": rec.version,
        "status": rec.status,
        "job_id": rec.job_id,
        "metrics": rec.metrics,
        "lineage": rec.lineage,
        "card": rec.card,
        "criteria": rec.criteria,
        "bundle": rec.bundle,
        "status_comment": rec.status_comment,
        "status_changed_by": rec.status_changed_by,
        "status_changed_at": iso(rec.status_changed_at),
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "created_by": rec.created_by,
    }


def group_to_dict(rec: ModelGroupRecord, versions: list[ModelVersionRecord]) -> dict[str, Any]:
    latest = versions[-1] if versions else None
    approved = [v for v in versions if v.status == APPROVED]
    return {
        "name": rec.name,
        "description": rec.description,
        "settings": rec.settings,
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "created_by": rec.created_by,
        "versions": len(versions),
        "latest_version": latest.version if latest else None,
        "latest_status": latest.status if latest else None,
        "latest_approved_version": approved[-1].version if approved else None,
    }


#: Metrics a card leaves out: a split's size, and the share of a fit done that training logs
#: as it goes (``shipyard.training._progress.PROGRESS_METRIC``), which is 1 on every model.
_NOT_ON_CARD = frozenset({"n_samples", "progress"})


def card_markdown(rec: ModelVersionRecord) -> str:
    """The model card as Markdown (for the CLI and notebooks)."""
    c = rec.card
    lines = [
        f"# Model card: {rec.group} v{rec.version}",
        "",
        f"Status: **{rec.status}**"
        + (f" ({rec.status_comment} — {rec.status_changed_by})" if rec.status_comment else ""),
        "",
        c.get("description", ""),
        "",
    ]
    for title, key in (
        ("Intended use", "intended_use"),
        ("Limitations", "limitations"),
        ("Ethical considerations", "ethical_considerations"),
        ("Caveats", "caveats"),
    ):
        lines += [f"## {title}", c.get(key) or "_not written yet_", ""]
    lines += ["## Metrics", "", "| split | metric | value |", "|---|---|---|"]
    for split, values in sorted((c.get("metrics") or {}).items()):
        if split not in ("train", "validation", "test", ""):
            continue  # per-iteration curves and the like are in the evaluation plots
        for name, value in sorted(values.items()):
            if isinstance(value, int | float) and name not in _NOT_ON_CARD:
                lines.append(f"| {split or '-'} | {name} | {number(value)} |")
    size = c.get("bundle_size") or {}
    if size.get("warning"):
        lines += ["", "## Bundle size", "", f"**{size['warning']}**"]
    lines += ["", "## Training data", ""]
    for d in c.get("training_data") or []:
        lines.append(
            f"- `{d.get('channel')}`: dataset {d.get('dataset')} v{d.get('version')}"
            + (
                f", {d['rows']:,} rows, content {d['content_hash'][:12]}…"
                if d.get("rows") is not None
                else ""
            )
        )
    crit = c.get("success_criteria") or {}
    if crit.get("results"):
        lines += ["", "## Success criteria", ""]
        for r in crit["results"]:
            mark = {True: "PASS", False: "FAIL", None: "not measured"}[r["passed"]]
            lines.append(
                f"- {r['text']}: {mark}"
                + (f" ({r['value']:.4g})" if r["value"] is not None else "")
            )
        if crit.get("override"):
            o = crit["override"]
            lines.append(f"- **Registered despite failing, override by {o['by']}: {o['reason']}**")
    lines += reports_markdown(c)
    lines += [
        "",
        f"Lineage: job {rec.job_id}; MODEL.json sha256 "
        f"{(rec.lineage.get('bundle') or {}).get('model_json_sha256') or '-'}",
    ]
    return "\n".join(lines) + "\n"
