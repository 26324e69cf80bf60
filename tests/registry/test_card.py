"""The model card's Markdown: the metrics a reader compares, not the bookkeeping of a fit."""

from __future__ import annotations

from datetime import UTC, datetime

from shipyard.registry._service import card_markdown
from shipyard.store import ModelVersionRecord
from shipyard.training._progress import PROGRESS_METRIC


def test_the_card_lists_split_metrics_but_not_progress_or_sizes() -> None:
    now = datetime.now(UTC)
    card = {"metrics": {"": {PROGRESS_METRIC: 1.0}, "test": {"roc_auc": 0.8336, "n_samples": 653},
                        "train_curve": {"loss": 0.1}}}
    rec = ModelVersionRecord(
        group="churn-model", version=1, status="Approved", job_id="job-1", bundle={},
        metrics={}, lineage={}, card=card, criteria={}, status_comment=None,
        status_changed_by=None, status_changed_at=None, created_at=now, updated_at=now,
        created_by="admin")
    md = card_markdown(rec)
    assert "| test | roc_auc | 0.8336 |" in md
    assert PROGRESS_METRIC not in md and "n_samples" not in md and "loss" not in md
