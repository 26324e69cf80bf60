"""``sy.LabelingJob``: put a dataset's rows in front of annotators, then export the labels.

::

    job = sy.LabelingJob.create("reviews", "reviews", "text_classification",
                                ["great", "other"], column="review", annotators_per_item=3)
    job.status()                       # items, answers per label, agreement, annotators
    job.export("reviews-labels")       # a dataset version with label and confidence

An annotator's token works the queue with :meth:`next` and :meth:`answer`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client._client import Client, Resource, default_client
from shipyard.client._datasets import Dataset
from shipyard.client._render import status_badge, table_html
from shipyard.errors import Forbidden, NotFound

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

LIST_COLUMNS = ["name", "task", "dataset", "labels", "annotators_per_item", "items", "status",
                "created_by"]


class LabelingJob(Resource):
    """A labeling job on the server: ``sy.LabelingJob("reviews")`` loads one.

    An annotator's token may not read jobs; it loads the job as its queue shows it (name,
    task, labels, instructions, status, items).
    """

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        try:
            self._attach(client, _doc)
        except Forbidden:
            mine = {q["name"]: q for q in self.queues(client=self.client)}
            if name not in mine:
                raise NotFound(f"No labeling job named {name!r} that this token may label "
                               "in; LabelingJob.queues() lists them.") from None
            self._doc = mine[name]

    def _path(self, suffix: str = "") -> str:
        return f"/labeling-jobs/{quote(self.name, safe='')}{suffix}"

    @classmethod
    def create(cls, name: str, dataset: str, task: str, labels: Sequence[str], *,
               column: str | None = None, instructions: str | None = None,
               annotators_per_item: int = 1, gold: str | None = None,
               workforce: Sequence[str] = (), lease_seconds: int = 600,
               auto_label: bool = False, auto_label_after: int = 100,
               target_accuracy: float = 0.9, auto_label_features: str | None = None,
               client: Client | None = None) -> LabelingJob:
        """Create a job over ``dataset`` (``NAME`` or ``NAME:VERSION``, pinned now).

        Args:
            task: text_classification, text_multilabel, text_spans,
                tabular_classification, image_classification or image_boxes.
            column: the text column of a text task.
            gold: a dataset with columns ``item`` (row number) and ``label``.
            workforce: token names that may label (empty: every annotator).
            auto_label: after ``auto_label_after`` human-labeled items a model labels the
                items it is sure of (held-out accuracy ``target_accuracy``) and orders the
                rest by uncertainty; one-label tasks only.
            auto_label_features: a text job's model features (None: words+chars+sentiment;
                ``"embeddings"`` or ``"words+chars+sentiment+embeddings"`` need the text
                extra on the server).
        """
        c = client or default_client()
        body: dict[str, Any] = {
            "name": name, "dataset": dataset, "task": task, "labels": list(labels),
            "column": column, "instructions": instructions,
            "annotators_per_item": annotators_per_item, "gold": gold,
            "workforce": list(workforce), "lease_seconds": lease_seconds,
            "auto_label": auto_label}
        if auto_label:
            body.update(auto_label_after=auto_label_after, target_accuracy=target_accuracy)
        if auto_label_features is not None:
            body["auto_label_features"] = auto_label_features
        doc = c.post("/labeling-jobs", {k: v for k, v in body.items() if v is not None})
        return cls(doc["name"], client=c, _doc=doc)

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        import pandas as pd

        docs = (client or default_client()).get("/labeling-jobs")
        return pd.DataFrame([{k: d.get(k) for k in LIST_COLUMNS} for d in docs],
                            columns=LIST_COLUMNS)

    @classmethod
    def queues(cls, *, client: Client | None = None) -> builtins.list[dict[str, Any]]:
        """The jobs the calling (annotator's) token may label in."""
        return list((client or default_client()).get("/labeling-queues"))

    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    @property
    def task(self) -> str:
        return str(self._doc.get("task"))

    @property
    def labels(self) -> builtins.list[str]:
        return list(self._doc.get("labels") or [])

    def status(self) -> dict[str, Any]:
        """Items answered and complete, answers per label, agreement, each annotator."""
        return dict(self.client.get(self._path("/status")))

    def annotators(self) -> pd.DataFrame:
        """Each annotator's answers, gold accuracy and median seconds per item."""
        import pandas as pd

        rows = self.status()["annotators"]
        return pd.DataFrame(rows, columns=["name", "answered", "gold_answered", "gold_accuracy",
                                           "median_seconds"])

    def auto_label(self) -> dict[str, Any] | None:
        """Auto-labeling's figures: ``machine_labeled`` and ``machine_share``, the held-out
        ``estimated_accuracy``, the ``audit`` (the machine labels people checked and their
        measured ``accuracy``) and the model's ``runs``; None when the job does not
        auto-label."""
        auto = self.status().get("auto_label")
        return dict(auto) if auto else None

    def stop(self) -> LabelingJob:
        """Hand out no more items."""
        self._doc = self.client.post(self._path("/stop"))
        return self

    def export(self, output: str, *, method: str = "dawid_skene") -> Dataset:
        """Write the consolidated labels as a new version of dataset ``output`` (its newest)."""
        doc = self.client.post(self._path("/export"), {"output": output, "method": method})
        return Dataset(doc["dataset"], client=self.client)

    # -- an annotator's side ---------------------------------------------------------------
    def next(self) -> dict[str, Any] | None:
        """Lease the next item for the calling token (None: nothing left for it)."""
        got = self.client.get(self._path("/next"))
        return got.get("item")

    def answer(self, item: str, answer: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a held item: ``{"label": …}``, ``{"labels": […]}`` or ``{"spans": […]}``."""
        return dict(self.client.post(self._path(f"/items/{quote(item, safe='')}/answers"),
                                     dict(answer)))

    def skip(self, item: str) -> dict[str, Any]:
        return dict(self.client.post(self._path(f"/items/{quote(item, safe='')}/skip")))

    def undo(self) -> dict[str, Any]:
        """Take back the calling token's latest answer or skip; the item is held again,
        its ``answer`` the one taken back."""
        return dict(self.client.post(self._path("/undo")))

    def progress(self) -> dict[str, Any]:
        """The calling token's own progress in this job."""
        return dict(self.client.get(self._path("/progress")))

    def __repr__(self) -> str:
        return (f"<LabelingJob {self.name} {self._doc.get('task')} "
                f"{self._doc.get('items')} items {self._doc.get('status')}>")

    def _repr_html_(self) -> str:
        d = self._doc
        facts: builtins.list[builtins.list[Any]] = [
            ["task", d.get("task")], ["dataset", d.get("dataset")],
            ["labels", ", ".join(self.labels)], ["items", d.get("items")],
            ["annotators per item", d.get("annotators_per_item")],
            ["workforce", ", ".join(d.get("workforce") or []) or "every annotator"],
            ["created by", d.get("created_by")]]
        return (f"<div class='shipyard-labeling-job'><b>Labeling job {escape(self.name)}</b> "
                f"{status_badge(str(d.get('status')))}"
                f"{table_html(['', ''], [r for r in facts if r[1] not in (None, '')])}</div>")
