"""Consolidating regions: bounding boxes on images and labelled spans of text.

Boxes: within one item, boxes of the same label are clustered across annotators
around a medoid (greedy, see :func:`consolidate_boxes`); a cluster backed by more
than half of the item's annotators becomes one box, whose corners are the
coordinate-wise *median* of its members' corners.

Spans: each text is cut into tokens (``\\w+|[^\\w\\s]``, with their character
offsets), and a token is cut again where more than half of the item's annotators
put a span boundary inside it (they agreed on part of a word: "$5" of "$50");
every such unit takes the label that more than half of the item's annotators put
on it, else none ("O"); runs of neighbouring units with the same label become
one span, unless more annotators marked them as two spans than as one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.labeling._answers import check_columns

TOKEN = re.compile(r"\w+|[^\w\s]")
BOX_COLUMNS = ("item", "annotator", "label", "x", "y", "width", "height")
SPAN_COLUMNS = ("item", "annotator", "start", "end", "label")


def iou(a: tuple[float, float, float, float] | np.ndarray,
        b: tuple[float, float, float, float] | np.ndarray) -> float:
    """Intersection over union of two boxes given as ``(x, y, width, height)``."""
    return float(_iou_matrix(_corners(np.asarray([a], float)),
                             _corners(np.asarray([b], float)))[0, 0])


def _corners(xywh: np.ndarray) -> np.ndarray:
    """``(x, y, w, h)`` rows → ``(x1, y1, x2, y2)`` rows."""
    return np.column_stack([xywh[:, 0], xywh[:, 1], xywh[:, 0] + xywh[:, 2],
                            xywh[:, 1] + xywh[:, 3]])


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of corner boxes ``a`` (n × 4) and ``b`` (m × 4)."""
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2])
                - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3])
                - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _clusters(corners: np.ndarray, annotators: np.ndarray,
              threshold: float) -> list[np.ndarray]:
    """Greedy medoid clustering of one item's boxes of one label.

    The seed is the remaining box with the largest summed IoU to the best-matching
    remaining box of every *other* annotator (the most agreed-on box); each other
    annotator joins it with their best remaining box whose IoU with the seed is at
    least ``threshold``. Repeat on what is left. An annotator gives at most one box
    per cluster, so two boxes by one person never count as two votes.
    """
    overlap = _iou_matrix(corners, corners)
    overlap[annotators[:, None] == annotators[None, :]] = 0.0
    overlap[overlap < threshold] = 0.0
    remaining = np.ones(len(corners), dtype=bool)
    out: list[np.ndarray] = []
    people = np.unique(annotators)
    while remaining.any():
        live = overlap * remaining[None, :] * remaining[:, None]
        best = np.stack([np.where(annotators == p, live, 0.0).max(axis=1) for p in people])
        score = np.where(remaining, best.sum(axis=0), -1.0)
        seed = int(score.argmax())
        members = [seed]
        for p, row in zip(people, best[:, seed], strict=True):
            if p != annotators[seed] and row > 0:
                candidates = np.flatnonzero((annotators == p) & remaining)
                members.append(int(candidates[live[seed, candidates].argmax()]))
        chosen = np.asarray(members)
        remaining[chosen] = False
        out.append(chosen)
    return out


def consolidate_boxes(boxes: pd.DataFrame, *, iou_threshold: float = 0.5,
                      annotators_per_item: Mapping[str, int] | None = None) -> pd.DataFrame:
    """One box per object that most of an item's annotators drew.

    Boxes of one label are clustered by IoU (at least ``iou_threshold`` with the
    cluster's seed, at most one box per annotator); a cluster is kept when more than
    half of the item's annotators are in it. Its box is the coordinate-wise median of
    the members' corners: with three to five boxes, one annotator who drags an edge
    far away moves a mean by a third to a fifth of the error, the median not at all,
    and medians of ordered corners are still an ordered box.

    Args:
        boxes: columns ``item, annotator, label, x, y, width, height`` (pixels).
        iou_threshold: the least IoU with the cluster's seed to join a cluster.
        annotators_per_item: how many annotators saw each item; by default those
            who drew at least one box on it (pass it when someone may have drawn none).

    Returns:
        Columns ``item, label, x, y, width, height, confidence, support``: support is
        the number of annotators in the cluster, confidence the mean IoU of the
        members with the consolidated box times support / the item's annotators.
    """
    check_columns(boxes, BOX_COLUMNS, "Boxes")
    frame = boxes[list(BOX_COLUMNS)].reset_index(drop=True)
    for col in ("item", "annotator", "label"):
        frame[col] = frame[col].astype(str)
    xywh = _numbers(frame, ["x", "y", "width", "height"], "Boxes")
    if (xywh[:, 2:] < 0).any():
        row = int(np.flatnonzero((xywh[:, 2:] < 0).any(axis=1))[0])
        raise InvalidRequest(f"Box widths and heights must be at least 0; row {row} has "
                             f"width {xywh[row, 2]} and height {xywh[row, 3]}.", row=row)
    corners = _corners(xywh)
    rows: list[dict[str, object]] = []
    for item, group in frame.groupby("item", sort=True):
        n = _raters(annotators_per_item, str(item), group["annotator"].nunique())
        for label, part in group.groupby("label", sort=True):
            pos = part.index.to_numpy()
            people = part["annotator"].to_numpy()
            for members in _clusters(corners[pos], people, iou_threshold):
                support = len(members)
                if support <= n / 2:
                    continue
                box = np.median(corners[pos][members], axis=0)
                fit = _iou_matrix(corners[pos][members], box[None, :])[:, 0]
                rows.append({"item": item, "label": label, "x": box[0], "y": box[1],
                             "width": box[2] - box[0], "height": box[3] - box[1],
                             "confidence": float(fit.mean()) * support / n,
                             "support": support})
    columns = ["item", "label", "x", "y", "width", "height", "confidence", "support"]
    out = pd.DataFrame(rows, columns=columns)
    out["support"] = out["support"].astype(int)
    return out.sort_values(["item", "label", "y", "x"], kind="stable").reset_index(drop=True)


def tokenize(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Token start and end character offsets of ``text`` (``\\w+|[^\\w\\s]``)."""
    spans = [m.span() for m in TOKEN.finditer(text)]
    if not spans:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    bounds = np.asarray(spans, dtype=np.int64)
    return bounds[:, 0], bounds[:, 1]


def consolidate_spans(spans: pd.DataFrame, texts: Mapping[str, str],
                      annotators_per_item: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Voted labelled spans of each text.

    The text is cut into units: its tokens, each cut again at an offset inside it
    that more than half of the item's annotators used as a span boundary (so a part
    of a word they agreed on, "$5" of "$50", stays that part). A unit counts as
    marked with a label by an annotator when at least half of its characters fall
    inside one of their spans of that label, so a boundary a character early or late
    still marks the same words. A unit takes the label marked by more than half of
    the item's annotators (else none). Neighbouring units with the same label merge
    into one span unless more of the annotators who marked both put them in two
    spans than in one (two entities they agreed on stay two). So a span the majority
    agreed on comes out exactly: its offsets slice to the agreed text, never wider.

    Args:
        spans: columns ``item, annotator, start, end, label`` (character offsets,
            ``end`` exclusive).
        texts: item → its text.
        annotators_per_item: how many annotators saw each item; by default those who
            marked at least one span in it (pass it when someone may have marked none).

    Returns:
        Columns ``item, start, end, label, confidence`` (the mean over the span's
        units of the share of annotators who gave the unit that label), sorted by
        item and start.

    Raises:
        InvalidRequest: a missing column, an item without a text, or offsets outside the text.
    """
    check_columns(spans, SPAN_COLUMNS, "Spans")
    frame = spans[list(SPAN_COLUMNS)].copy()
    for col in ("item", "annotator", "label"):
        frame[col] = frame[col].astype(str)
    offsets = _numbers(frame, ["start", "end"], "Spans").astype(np.int64)
    frame["start"], frame["end"] = offsets[:, 0], offsets[:, 1]
    rows: list[dict[str, object]] = []
    for item, group in frame.groupby("item", sort=True):
        item = str(item)
        if item not in texts:
            raise InvalidRequest(f"Spans mark item {item!r}, which has no text; "
                                 "pass every marked item's text.", item=item)
        text = texts[item]
        bad = group[(group["start"] < 0) | (group["end"] > len(text))
                    | (group["start"] >= group["end"])]
        if len(bad):
            first = bad.iloc[0]
            raise InvalidRequest(
                f"Span [{first['start']}, {first['end']}) of item {item!r} is empty or "
                f"outside its text of {len(text)} characters.", item=item)
        n = _raters(annotators_per_item, item, group["annotator"].nunique())
        rows.extend(_voted_spans(item, group, *_units(group, *tokenize(text), n), n))
    out = pd.DataFrame(rows, columns=["item", "start", "end", "label", "confidence"])
    out["start"] = out["start"].astype(int)
    out["end"] = out["end"].astype(int)
    return out.sort_values(["item", "start"], kind="stable").reset_index(drop=True)


def _units(group: pd.DataFrame, t_start: np.ndarray, t_end: np.ndarray,
           n: int) -> tuple[np.ndarray, np.ndarray]:
    """The tokens, cut at each offset inside one where more than half of ``n`` annotators
    put a span boundary (an annotator counts once per offset)."""
    bounds = pd.concat([group[["annotator", "start"]].set_axis(["annotator", "at"], axis=1),
                        group[["annotator", "end"]].set_axis(["annotator", "at"], axis=1)])
    used = bounds.drop_duplicates()["at"].value_counts()
    agreed = np.sort(used[used > n / 2].index.to_numpy(dtype=np.int64))
    if len(t_start) == 0 or len(agreed) == 0:
        return t_start, t_end
    # For each agreed offset, the token strictly around it (if any).
    where = np.searchsorted(t_start, agreed, side="right") - 1
    inside = (where >= 0) & (agreed > t_start[np.maximum(where, 0)]) \
        & (agreed < t_end[np.maximum(where, 0)])
    cuts = agreed[inside]
    starts = np.sort(np.concatenate([t_start, cuts]))
    ends = np.sort(np.concatenate([t_end, cuts]))
    return starts, ends


def _voted_spans(item: str, group: pd.DataFrame, t_start: np.ndarray, t_end: np.ndarray,
                 n: int) -> list[dict[str, object]]:
    """The voted spans of one item, given its units (see :func:`_units`) and annotators."""
    if len(t_start) == 0:
        return []
    names = sorted(group["label"].unique())
    votes = np.zeros((len(names), len(t_start)))
    # Per label, how many annotators put each pair of neighbouring units in one span
    # (joined) or marked both but in two spans (split).
    joined = np.zeros((len(names), max(len(t_start) - 1, 0)))
    split = np.zeros_like(joined)
    for li, label in enumerate(names):
        for _, mine in group[group["label"] == label].groupby("annotator"):
            marked = np.zeros(len(t_start), dtype=bool)
            together = np.zeros(len(t_start) - 1, dtype=bool)
            for s, e in zip(mine["start"], mine["end"], strict=True):
                inside = np.minimum(e, t_end) - np.maximum(s, t_start)
                this = 2 * inside >= (t_end - t_start)
                marked |= this
                together |= this[:-1] & this[1:]
            votes[li] += marked  # an annotator votes once per unit and label
            joined[li] += together
            split[li] += marked[:-1] & marked[1:] & ~together
    best = votes.argmax(axis=0)
    share = votes[best, np.arange(len(t_start))] / n
    unit_label = np.where(share > 0.5, best, -1)
    out: list[dict[str, object]] = []
    i = 0
    while i < len(unit_label):
        label = unit_label[i]
        if label < 0:
            i += 1
            continue
        j = i
        while (j + 1 < len(unit_label) and unit_label[j + 1] == label
               and split[label, j] <= joined[label, j]):
            j += 1
        out.append({"item": item, "start": int(t_start[i]), "end": int(t_end[j]),
                    "label": names[label], "confidence": float(share[i:j + 1].mean())})
        i = j + 1
    return out


def _raters(given: Mapping[str, int] | None, item: str, seen: int) -> int:
    """The item's number of annotators: the given count (at least those seen) or those seen."""
    if given is None or item not in given:
        return seen
    return max(int(given[item]), seen)


def _numbers(frame: pd.DataFrame, columns: list[str], what: str) -> np.ndarray:
    """``columns`` of ``frame`` as a float array, or InvalidRequest naming the bad value."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        raise InvalidRequest(
            f"{what}' column {columns[col]!r} must be numeric; got "
            f"{frame.iloc[row][columns[col]]!r} in row {row}.", row=row, column=columns[col])
    return values.to_numpy(dtype=float)
