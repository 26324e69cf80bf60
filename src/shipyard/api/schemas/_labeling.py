"""Response models of labeling jobs: the managers' view and the annotators' view.

An annotator's models (:class:`LabelingQueue`, :class:`LabelingItem`,
:class:`LabelingAnswer`, :class:`LabelingProgress`) name no dataset, no other
annotator and no consolidated label: what an annotator may see is what they hold.
"""

from __future__ import annotations

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp


class GoldRef(Out):
    dataset: str
    version: int
    items: int = Field(description="How many items have a known answer.")


class LabelingJob(Out):
    name: str
    task: str = Field(description="text_classification, text_multilabel, text_spans, "
                      "image_classification, image_boxes or tabular_classification.")
    labels: list[str]
    dataset: str = Field(description="The pinned dataset version, NAME:VERSION.")
    column: str | None = Field(description="The text column of a text task.")
    instructions: str | None
    annotators_per_item: int
    gold: GoldRef | None
    auto_label: bool
    auto_label_after: int | None = Field(
        default=None, description="K: human-labeled items before the first auto-label model.")
    target_accuracy: float | None = Field(
        default=None, description="The accuracy machine labels must reach on held-out "
        "human labels.")
    auto_label_features: str | None = Field(
        default=None, description="A text job's auto-label features (null: the default, "
        "words+chars+sentiment).")
    workforce: list[str] = Field(description="Token names that may label; [] = every "
                                 "annotator.")
    lease_seconds: int = Field(description="How long an annotator holds an item before it "
                               "goes back to the queue.")
    status: str = Field(description="Running or Stopped.")
    items: int
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None


class ItemCounts(Out):
    total: int
    answered: int = Field(description="Items with at least one answer.")
    complete: int = Field(description="Items with annotators_per_item answers.")
    answers: int
    leased: int = Field(description="Live leases: items being labelled now.")


class AnnotatorStats(Out):
    name: str
    answered: int
    gold_answered: int
    gold_accuracy: float | None = Field(description="Share of gold items answered right.")
    median_seconds: float | None = Field(description="Median time from lease to answer.")


class AutoLabelRun(Out):
    run: int
    job: str | None = Field(description="The autolabel job that trained the model.")
    status: str = Field(description="Submitting, Running, Completed or Failed.")
    human_labels: int = Field(description="Human-labeled items the model learned from.")
    machine_labeled: int | None = Field(description="Items it labeled.")
    threshold: float | None = Field(description="Confidence at or above which it labels.")
    estimated_accuracy: float | None = Field(
        description="Out-of-fold accuracy of the human labels at or above the threshold.")
    error: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class AuditFigures(Out):
    sampled: int = Field(description="Machine-labeled items sent to people to check.")
    answered: int = Field(description="Of those, the ones people have labeled.")
    correct: int = Field(description="Of those, the ones whose machine label was right.")
    accuracy: float | None = Field(description="correct / answered: the measured accuracy.")


class AutoLabelStatus(Out):
    after: int = Field(description="K: human-labeled items before the first model.")
    target_accuracy: float
    next_at: int | None = Field(description="Human-labeled items at which the next model is "
                                "trained (null: one is being trained).")
    machine_labeled: int = Field(description="Items whose label is the machine's.")
    machine_share: float = Field(description="machine_labeled / items.")
    estimated_accuracy: float | None = Field(
        description="The last model's held-out (out-of-fold) estimate.")
    threshold: float | None
    audit: AuditFigures
    runs: list[AutoLabelRun]


class LabelingStatus(Out):
    name: str
    task: str
    status: str
    items: ItemCounts
    labels: dict[str, int] = Field(description="Answers per label.")
    agreement: float | None = Field(description="Fleiss' kappa over items with 2+ answers.")
    label_agreement: dict[str, float | None] = Field(
        description="Each label's kappa against the rest.")
    agreement_note: str
    annotators: list[AnnotatorStats]
    auto_label: AutoLabelStatus | None = Field(
        default=None, description="Auto-labeling's figures (null: the job does not "
        "auto-label).")


class LabelingQueue(Out):
    """A job as an annotator sees it in its list of queues."""

    name: str
    task: str
    labels: list[str]
    instructions: str | None
    status: str
    items: int


class ImageContent(Out):
    sha256: str
    width: int = Field(description="Pixels; boxes must stay inside.")
    height: int
    path: str = Field(description="The file's path in the uploaded folder.")
    url: str = Field(description="Where this token fetches the image's bytes "
                     "(GET, permission label).")


class ItemContent(Out):
    text: str | None = Field(None, description="A text task's text.")
    row: OpenDoc | None = Field(None, description="A row task's whole row, column → value.")
    image: ImageContent | None = Field(None, description="An image task's image.")


class LabelingItem(Out):
    job: str
    task: str
    labels: list[str]
    instructions: str | None
    item: str = Field(description="The item's id: its row number in the dataset version.")
    content: ItemContent
    status: str = Field(description="leased or answered (this token's own assignment).")
    leased_at: Timestamp
    expires_at: Timestamp = Field(description="Answer before this, or the item goes back to "
                                  "the queue.")
    answer: OpenDoc | None = Field(description="This token's own answer, once given; on a "
                                   "leased item, the answer an undo took back (a pre-fill).")


class NextItem(Out):
    item: LabelingItem | None = Field(description="The leased item; null when nothing is left "
                                      "for this token.")
    message: str


class LabelingAnswer(Out):
    job: str
    item: str
    status: str = Field(description="answered or skipped.")
    answer: OpenDoc | None
    answered_at: Timestamp | None
    seconds: float | None
    replay: bool = Field(description="True when the same answer had been stored before.")


class LabelingProgress(Out):
    job: str
    answered: int
    median_seconds: float | None
    holding: str | None = Field(description="The item this token holds now, if any.")
