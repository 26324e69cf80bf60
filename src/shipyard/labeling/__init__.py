"""Labeling: jobs that put dataset rows in front of annotators, and their consolidation.

The service side (jobs, the annotators' queue, status, export; docs/labeling.md)::

    svc = LabelingService(db, events, datasets)
    svc.create(LabelingSpec("reviews", "reviews:1", "text_classification", ["pos", "neg"],
                            column="text", annotators_per_item=3), actor="ds")
    view = svc.next("reviews", annotator)          # a lease on one item, with its text
    svc.answer("reviews", view.assignment.item, annotator, {"label": "pos"})
    svc.export("reviews", "reviews-labels")       # a dataset version with label, confidence
"""

from __future__ import annotations

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
    "TASKS", "AnnotatorStats", "ItemReader", "ItemView", "LabelingService", "LabelingSpec",
    "LabelingStatus", "Progress", "Task",
]
