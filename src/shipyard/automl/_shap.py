"""SHAP global importance of an AutoML job's final model, within the time it has left.

The final (``ensemble``) job explains its model as loaded, one member or an ensemble,
with :class:`shipyard.explanations.Explainer` over the raw input columns: TreeSHAP for
an xgboost, lightgbm or catboost bundle (exact, cheap), KernelSHAP for the rest and for
every ensemble (its background a k-means summary of the train rows). The global
importance of a column is its mean \\|SHAP\\| over the explained test rows.

KernelSHAP's cost is paid per explained row, so the rows are chosen from the time
left: a first small batch is measured, and each next batch is as large as its cost,
extrapolated from the batches measured so far, fits before the end (:func:`next_batch`).
When even the first batch would not fit, or fewer than :data:`SHAP_MIN_ROWS` rows would,
the result says why (``skipped``) and the job keeps permutation importance as its
headline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from shipyard.bundle import InferencePipeline
    from shipyard.explanations import Explainer, Explanation

#: Test rows explained at most: TreeSHAP is cheap, KernelSHAP pays per row.
SHAP_TREE_ROWS = 2000
SHAP_KERNEL_ROWS = 500
#: Rows of the first, measured batch.
SHAP_FIRST_ROWS = {"tree": 200, "kernel": 10}
#: Fewer explained rows than this give no ranking worth a headline (or all test rows,
#: when there are fewer).
SHAP_MIN_ROWS = 30
#: KernelSHAP settings, (background rows, coalitions per row), richest first; the
#: coalitions are at least 2M + 2 for M raw columns (every size-1 coalition and its
#: complement, and a few more), at most every coalition there is.
KERNEL_SETTINGS = ((20, 128), (10, 0))
#: Model calls a KernelSHAP batch makes at least (the background, the rows, the masked
#: rows): the first batch is not tried when that many calls' time does not fit.
FIRST_BATCH_CALLS = 3
#: Of the time left, the share a next batch is planned to fill (the rest is slack for
#: a misestimate: a batch cannot be stopped halfway).
FILL = 0.9


@dataclass(frozen=True)
class ShapImportance:
    """What :func:`shap_importance` measured: ``record`` (JSON-safe, for ``shap.json``)
    and the explanation itself (None when skipped)."""

    record: dict[str, Any]
    explanation: Explanation | None


def kernel_coalitions(columns: int, wanted: int) -> int:
    """KernelSHAP coalitions per row for ``columns`` raw columns: ``wanted`` (0: the
    fewest), at least 2M + 2, at most every coalition there is."""
    from shipyard.explanations._kernel import default_coalitions

    if columns < 2:
        return 2
    return int(min(default_coalitions(columns), max(wanted, 2 * columns + 2)))


def next_batch(batches: Sequence[tuple[int, float]], left: float, remaining: int) -> int:
    """Rows of the next batch whose expected cost fits in ``left`` seconds.

    ``batches``: (rows, seconds) of the batches measured so far. A batch costs a fixed
    part (model calls, building the masked rows) and a part per row: with one batch
    measured, all of it is taken as fixed and as per-row cost at once (conservative);
    with two or more, the line through the first and the last. Returns 0 when not even
    one row fits, at most ``remaining``.
    """
    if not batches or remaining <= 0 or left <= 0:
        return 0
    n1, t1 = batches[0]
    n2, t2 = batches[-1]
    if len(batches) == 1 or n2 == n1:
        fixed, per_row = t1, t1 / max(n1, 1)
    else:
        per_row = max((t2 - t1) / (n2 - n1), 0.0)
        fixed = max(t2 - n2 * per_row, 0.0)
        # A line from noisy timings may promise rows for free: never less than a tenth
        # of the mean cost of a row in the batches measured.
        per_row = max(per_row, 0.1 * sum(t for _, t in batches) / sum(n for n, _ in batches))
    if per_row <= 0:
        return remaining
    return max(0, min(remaining, int((FILL * left - fixed) / per_row)))


def _grow(explainer: Explainer, rows: pd.DataFrame, first: int, least: int,
          until: float | None) -> tuple[Explanation | None, list[tuple[int, float]]]:
    """Explain ``rows`` in batches: ``first`` rows, then each next batch as large as fits
    before ``until`` (a ``time.time()``; None: every other row at once). Stops after the
    first batch when fewer than ``least`` rows in all would fit."""
    parts: list[Explanation] = []
    batches: list[tuple[int, float]] = []
    done = 0
    n = min(first, len(rows))
    while n > 0:
        started = time.perf_counter()
        parts.append(explainer.explain(rows.iloc[done:done + n]))
        batches.append((n, time.perf_counter() - started))
        done += n
        n = len(rows) - done if until is None else \
            next_batch(batches, until - time.time(), len(rows) - done)
        if len(batches) == 1 and done + n < least:
            break
    return (_join(parts) if parts else None), batches


def _join(parts: Sequence[Explanation]) -> Explanation:
    """One explanation of the rows of ``parts`` (explained by one explainer)."""
    from shipyard.explanations import Explanation

    x = parts[0]
    return Explanation(columns=x.columns, values=np.concatenate([p.values for p in parts]),
                       base_values=x.base_values, outputs=x.outputs,
                       output_space=x.output_space, method=x.method,
                       data=pd.concat([p.data for p in parts], ignore_index=True))


def shap_importance(pipeline: InferencePipeline, background: pd.DataFrame, rows: pd.DataFrame, *,
                    until: float | None, call_seconds: float, seed: int = 0,
                    ) -> ShapImportance:
    """Mean \\|SHAP\\| per raw input column of ``pipeline`` on a seeded sample of ``rows``,
    ending before ``until`` (a ``time.time()``; None: no limit).

    Args:
        pipeline: the loaded bundle (one model or an ensemble).
        background: raw train rows (KernelSHAP's reference, summarised by k-means).
        rows: raw test rows to explain (a sample of them).
        until: when to be done.
        call_seconds: what one call of the model on the test rows took (the first batch
            is not started when :data:`FIRST_BATCH_CALLS` of them do not fit).

    Returns:
        ``record``: ``method`` "shap", ``explainer`` (tree or kernel), ``output_space``,
        ``outputs``, ``base_values``, ``rows``, ``background_rows`` and ``coalitions``
        (kernel), ``seconds``, ``columns`` (``column``, ``importance`` = mean \\|SHAP\\|,
        most important first); or ``skipped`` with the reason.
    """
    from shipyard.explanations import Explainer

    started = time.perf_counter()

    def left() -> float:
        return float("inf") if until is None else until - time.time()

    def skip(reason: str) -> ShapImportance:
        return ShapImportance({"method": "shap", "skipped": reason, "seconds": round(
            time.perf_counter() - started, 3)}, None)

    if left() < FIRST_BATCH_CALLS * call_seconds:
        return skip(f"no time left ({max(left(), 0.0):.1f} s) for a first batch")
    # Tree or kernel, by the model; one background row is enough to tell (a KernelSHAP
    # explainer of its own settings is built below).
    explainer = Explainer(pipeline, background.iloc[:1], seed=seed)
    most = SHAP_TREE_ROWS if explainer.method == "tree" else SHAP_KERNEL_ROWS
    sample = rows.sample(most, random_state=seed) if len(rows) > most else rows
    sample = sample.reset_index(drop=True)
    least = min(SHAP_MIN_ROWS, len(sample))
    first = SHAP_FIRST_ROWS[explainer.method]
    settings: tuple[int, int] | None = None
    explanation: Explanation | None = None
    batches: list[tuple[int, float]] = []
    if explainer.method == "tree":
        explanation, batches = _grow(explainer, sample, first, least, until)
    else:
        m = len(explainer.columns)
        for size, wanted in KERNEL_SETTINGS:  # richest first; cheaper when too few rows fit
            if left() < FIRST_BATCH_CALLS * call_seconds:
                break
            settings = (size, kernel_coalitions(m, wanted))
            explainer = Explainer(pipeline, background, method="kernel",
                                  background_size=size, n_coalitions=settings[1], seed=seed)
            explanation, batches = _grow(explainer, sample, first, least, until)
            if explanation is not None and len(explanation) >= least:
                break
    if explanation is None or len(explanation) < least:
        done = 0 if explanation is None else len(explanation)
        return skip(f"{done} rows explained before the time ran out; {least} needed")
    found = explanation.global_importance()
    record: dict[str, Any] = {
        "method": "shap", "explainer": explanation.method,
        "output_space": explanation.output_space, "outputs": list(explanation.outputs),
        "base_values": explanation.to_dict(rows=False)["base_values"],
        "rows": len(explanation),
        "background_rows": None if explainer.background is None else len(
            explainer.background),
        "coalitions": None if settings is None else settings[1],
        "batches": len(batches), "seconds": round(time.perf_counter() - started, 3),
        "columns": [{"column": c, "importance": v} for c, v in found]}
    return ShapImportance(record, explanation)

