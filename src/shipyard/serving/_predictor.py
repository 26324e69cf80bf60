"""Checked rows → predictions: the fast path when it covers the bundle, else the pipeline."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle import InferencePipeline
from shipyard.bundle._image_decode import image_row
from shipyard.errors import InvalidRequest
from shipyard.serving._codec import ImageReader, Table
from shipyard.serving._fastpath import FastPath, Unsupported, compile_fast_path, same_outputs
from shipyard.serving._schema import Schema, SchemaError

log = logging.getLogger("shipyard.serving")


@dataclass(frozen=True)
class Prediction:
    """One answer per row: the decoded prediction and, for classification, the probabilities."""

    rows: list[dict[str, Any]]
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    #: Probability matrix (rows × classes), for capture.
    proba: np.ndarray | None = field(default=None, repr=False)
    #: Per row, the columns holding a category the model never saw (None: no row has one).
    unseen: list[tuple[str, ...]] | None = None

    def unseen_counts(self) -> dict[str, dict[str, int]]:
        """Column → unseen category → rows holding it, for this request."""
        out: dict[str, dict[str, int]] = {}
        for row, columns in zip(self.rows, self.unseen or [], strict=False):
            for c in columns:
                values = out.setdefault(c, {})
                values[str(row[c])] = values.get(str(row[c]), 0) + 1
        return out


class Predictor:
    """A loaded bundle made ready to answer requests.

    Args:
        pipeline: the bundle as :func:`shipyard.bundle.load_bundle` loaded it.
        fast: compile the per-row fast path (it is checked against the pipeline on a
            warm-up row and dropped, with a log line, if the two ever disagree).
    """

    def __init__(self, pipeline: InferencePipeline, *, fast: bool = True,
                 unseen: str = "warn") -> None:
        self.pipeline = pipeline
        #: allow | warn | refuse: what a category the model never saw does (see Schema).
        self.unseen_mode = unseen
        self.task = pipeline.task
        self.classes = list(pipeline.classes or [])
        self.schema = Schema(pipeline.input_signature, pipeline.manifest.get("target"))
        #: Reads PNG or JPEG bytes into an input row, for a model that takes images.
        self.image_reader: ImageReader | None = image_reader(pipeline)
        self.fast: FastPath | None = None
        self.fast_reason = "disabled"
        if fast:
            try:
                self.fast = compile_fast_path(pipeline)
                self.fast_reason = "compiled"
            except Unsupported as exc:
                self.fast_reason = f"not covered: {exc}"

    def warm_up(self) -> None:
        """Predict one synthetic row on every path in use, and check they agree."""
        rows = self.schema.check(Table(tuple(self.schema.kinds), [self.example_row()]))
        general = self._general_outputs(rows)
        if self.fast is not None:
            fast = self.fast.outputs(rows)
            if not same_outputs(fast, general):
                log.warning("fast path disagrees with the pipeline on a warm-up row; "
                            "serving through the pipeline")
                self.fast, self.fast_reason = None, "disagreed with the pipeline at warm-up"

    def example_row(self) -> dict[str, Any]:
        """A plausible row: the first category of label columns, 0 for numbers, else null."""
        row: dict[str, Any] = {}
        for e in self.pipeline.input_signature:
            kind = e["semantic_type"]
            if e.get("example") is not None:  # a forecast's first forecastable time
                row[e["name"]] = e["example"]
            elif kind == "numeric" or kind == "boolean":
                row[e["name"]] = 0
            elif e.get("categories"):
                row[e["name"]] = e["categories"][0]
            else:
                row[e["name"]] = None
        return row

    def predict(self, table: Table) -> Prediction:
        """Check ``table`` against the signature and predict every row.

        Raises:
            SchemaError: the rows do not fit the model's input signature, or hold a
                category the model never saw while the endpoint refuses those (422).
        """
        rows = self.schema.check(table)
        unseen = self.schema.unseen(rows)
        if unseen is not None and self.unseen_mode == "refuse":
            raise self.schema.refuse_unseen(rows, unseen)
        out = self.fast.outputs(rows) if self.fast is not None else self._general_outputs(rows)
        if self.task == "classification":
            proba = out["proba"]
            labels = self.classes
            picks = np.argmax(proba, axis=1).tolist()
            plist = proba.tolist()
            return Prediction(rows, [labels[k] for k in picks],
                              [dict(zip(labels, p, strict=True)) for p in plist], proba,
                              unseen)
        if self.task == "regression":
            return Prediction(rows, out["value"].tolist(), unseen=unseen)
        frame = self._general_frame(rows)
        result = self.pipeline.predict(frame)
        if len(result.columns) == 1:
            return Prediction(rows, result.iloc[:, 0].tolist(), unseen=unseen)
        return Prediction(rows, result.to_dict("records"), unseen=unseen)

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Checked rows as the pipeline's input frame (what explanations read)."""
        return self._general_frame(rows)

    def _general_frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        present = [n for n in self.schema.kinds if any(n in r for r in rows)]
        data: dict[str, Any] = {}
        for name in present:
            values = [r.get(name) for r in rows]
            if name in self.schema.numeric:
                data[name] = np.array([np.nan if v is None else v for v in values], "float64")
            else:
                data[name] = pd.Series(values, dtype="object")
        frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
        try:
            self.pipeline.validate_input(frame)
        except InvalidRequest as exc:  # a date the signature cannot read, say
            raise SchemaError(exc.message) from None
        return frame

    def _general_outputs(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        return dict(self.pipeline.outputs(self._general_frame(rows)))


def image_reader(pipeline: InferencePipeline) -> ImageReader | None:
    """How the pipeline's model reads an image (its framework's ``image_input``), or None."""
    framework = getattr(pipeline, "framework", None)  # None for an ensemble
    spec = framework.image_input(pipeline.model) if framework is not None else None
    if spec is None:
        return None

    def read(data: bytes, where: str) -> dict[str, Any]:
        return image_row(data, spec, where)

    return read
