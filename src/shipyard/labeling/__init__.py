"""Labeling: consolidating several annotators' answers, agreement, active learning, and
the service that puts dataset rows in front of annotators.

The core is pure functions: answer frames in, frames and frozen results out, no storage::

    from shipyard.labeling import consolidate_classes, fleiss_kappa
    consolidated = consolidate_classes(answers, ["great", "other"])  # item, label, confidence
    fleiss_kappa(answers, ["great", "other"])

The service side (jobs, the annotators' queue, status, export; docs/labeling.md)::

    svc = LabelingService(db, events, datasets)
    svc.create(LabelingSpec("reviews", "reviews:1", "text_classification", ["great", "other"],
                            column="review", annotators_per_item=3), actor="ds")
    view = svc.next("reviews", annotator)          # a lease on one item, with its text
    svc.answer("reviews", view.assignment.item, annotator, {"label": "great"})
    svc.export("reviews", "reviews-labels")       # a dataset version with label, confidence
"""

from __future__ import annotations

from shipyard.labeling._active import (
    AutoLabelResult,
    LabelerConfig,
    SimulationResult,
    TextLabeler,
    auto_label,
    machine_label_threshold,
    simulate,
    uncertainty_order,
)
from shipyard.labeling._agreement import fleiss_kappa, krippendorff_alpha, per_label_agreement
from shipyard.labeling._autolabel_service import AuditFigures, AutoLabeler, AutoLabelStatus
from shipyard.labeling._consolidate import (
    CLASS_METHODS,
    DawidSkeneResult,
    consolidate_boxes,
    consolidate_classes,
    consolidate_multilabel,
    consolidate_spans,
    dawid_skene,
    iou,
    majority_vote,
)

# -- the service side: jobs, queue, status, export (labeling-service) --
from shipyard.labeling._items import ItemReader
from shipyard.labeling._service import (
    AnnotatorStats,
    ItemView,
    LabelingService,
    LabelingSpec,
    LabelingStatus,
    Progress,
)
from shipyard.labeling._tasks import TASKS, Task

__all__ = [
    "CLASS_METHODS",
    "AutoLabelResult",
    "DawidSkeneResult",
    "LabelerConfig",
    "SimulationResult",
    "TextLabeler",
    "auto_label",
    "fleiss_kappa",
    "krippendorff_alpha",
    "machine_label_threshold",
    "per_label_agreement",
    "simulate",
    "uncertainty_order",
    "consolidate_boxes",
    "consolidate_classes",
    "consolidate_multilabel",
    "consolidate_spans",
    "dawid_skene",
    "iou",
    "majority_vote",
    # the service side
    "TASKS", "AuditFigures", "AutoLabelStatus", "AutoLabeler",
    "AnnotatorStats", "ItemReader", "ItemView", "LabelingService", "LabelingSpec",
    "LabelingStatus", "Progress", "Task",
]
