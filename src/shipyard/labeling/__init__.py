"""Labeling core: consolidating several annotators' answers, agreement, active learning.

Pure functions: answer frames in, frames and frozen results out, no storage::

    from shipyard.labeling import consolidate_classes, fleiss_kappa
    consolidated = consolidate_classes(answers, ["great", "other"])  # item, label, confidence
    fleiss_kappa(answers, ["great", "other"])
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
]
