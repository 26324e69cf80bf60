"""SHAP global importance of an AutoML job's final model, within the time it has left.

The final (``ensemble``) job explains its model as loaded, one member or an ensemble,
with :class:`shipyard.explanations.Explainer` over the raw input columns: TreeSHAP for
an xgboost, lightgbm or catboost bundle (exact, cheap), KernelSHAP for the rest and for
every ensemble (its background a k-means summary of the train rows). The global
importance of a column is its mean \\|SHAP\\| over the explained test rows.

KernelSHAP's cost is paid per explained row, so its settings and rows are chosen from
the time left (:func:`kernel_settings`): a first small batch is measured, and each next
batch is as large as its cost, bounded from the batches measured so far, fits before
the end (:func:`next_batch`). When even the
first batch would not fit, or fewer than :data:`SHAP_MIN_ROWS` rows would, the result
says why (``skipped``) and the job keeps permutation importance as its headline.
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
#: complement, and a few more), at most every coalition there is. The cheaper pair's
#: first batch of 10 churn rows (ensemble of 3) takes ~0.3 s on a quiet machine.
KERNEL_SETTINGS = ((20, 128), (10, 0))
#: What a first batch is expected to cost, in calls of the model on the sample: a
#: KernelSHAP batch makes three (the background, the rows, the masked rows), and builds
#: the masked rows besides.
FIRST_BATCH_CALLS = 3
#: Seconds left from which KernelSHAP takes the richer settings: a row costs about 6×
#: more there (20 × 128 masked rows against 10 × 40 on churn).
RICH_SECONDS = 20.0
#: Of the time left, the share a next batch is planned to fill (the rest is slack for
#: a misestimate: a batch cannot be stopped halfway).
FILL = 0.8


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


def kernel_settings(columns: int, left: float) -> tuple[int, int]:
    """KernelSHAP's (background rows, coalitions) for ``columns`` raw columns and ``left``
    seconds: :data:`KERNEL_SETTINGS`' richer pair from :data:`RICH_SECONDS` on, else the
    cheaper one (more rows explained matter more to a global ranking than more
    coalitions per row)."""
    size, wanted = KERNEL_SETTINGS[0] if left >= RICH_SECONDS else KERNEL_SETTINGS[1]
    return size, kernel_coalitions(columns, wanted)


def next_batch(batches: Sequence[tuple[int, float]], left: float, remaining: int) -> int:
    """Rows of the next batch whose expected cost fits in :data:`FILL` of ``left`` seconds.

    ``batches``: (rows, seconds) of the batches measured so far. A batch costs a fixed
    part (model calls, building the masked rows) and a part per row. Both are bounded
    from above by what was measured, so that a busy machine's noisy timings do not
    promise rows for free: the fixed part by the first batch's whole time (the smallest,
    nearly all fixed), the cost of a row by the last batch's time over its rows (its
    share of the fixed part included). Returns 0 when not even one row fits, at most
    ``remaining``.
    """
    if not batches or remaining <= 0 or left <= 0:
        return 0
    fixed = batches[0][1]
    n, t = batches[-1]
    per_row = t / max(n, 1)
    if per_row <= 0:
        return remaining
    return max(0, min(remaining, int((FILL * left - fixed) / per_row)))


def _grow(explainer: Explainer, rows: pd.DataFrame, first: int,
          until: float | None) -> tuple[Explanation | None, list[tuple[int, float]]]:
    """Explain ``rows`` in batches: ``first`` rows, then each next batch as large as fits
    before ``until`` (a ``time.time()``; None: every other row at once)."""
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
    return (_join(parts) if parts else None), batches


def _join(parts: Sequence[Explanation]) -> Explanation:
    """One explanation of the rows of ``parts`` (explained by one explainer)."""
    from shipyard.explanations import Explanation

    x = parts[0]
    return Explanation(columns=x.columns, values=np.concatenate([p.values for p in parts]),
                       base_values=x.base_values, outputs=x.outputs,
                       output_space=x.output_space, method=x.method,
                       data=pd.concat([p.data for p in parts], ignore_index=True))


def shap_importance(pipeline: InferencePipeline, background: pd.DataFrame, rows: pd.DataFrame,
                    *, until: float | None, call_seconds: float = 0.0, seed: int = 0,
                    ) -> ShapImportance:
    """Mean \\|SHAP\\| per raw input column of ``pipeline`` on a seeded sample of ``rows``,
    ending before ``until`` (a ``time.time()``; None: no limit).

    Args:
        pipeline: the loaded bundle (one model or an ensemble), already called once (its
            first call loads what it loads lazily).
        background: raw train rows (KernelSHAP's reference, summarised by k-means).
        rows: raw test rows to explain (a sample of them).
        until: when to be done.
        call_seconds: what a call of the model on ``rows`` took, when known: nothing is
            started (not even the sample's call that sizes the first batch) when less
            time than that is left.

    Returns:
        ``record``: ``method`` "shap", ``explainer`` (tree or kernel), ``output_space``,
        ``outputs``, ``base_values``, ``rows``, ``background_rows`` and ``coalitions``
        (kernel), ``batches``, ``seconds``, ``columns`` (``column``, ``importance`` =
        mean \\|SHAP\\|, most important first); or ``skipped`` with the reason.
    """
    from shipyard.explanations import Explainer

    started = time.perf_counter()

    def left() -> float:
        return float("inf") if until is None else until - time.time()

    def skip(reason: str) -> ShapImportance:
        return ShapImportance({"method": "shap", "skipped": reason, "seconds": round(
            time.perf_counter() - started, 3)}, None)

    if left() <= call_seconds:
        return skip(f"no time left ({max(left(), 0.0):.1f} s)")
    # Tree or kernel, by the model; one background row is enough to tell (a KernelSHAP
    # explainer of its own settings is built below).
    explainer = Explainer(pipeline, background.iloc[:1], seed=seed)
    if explainer.method == "kernel" and left() < (FIRST_BATCH_CALLS + 1) * call_seconds:
        # Sizing the first batch costs about a call, the batch itself three at least.
        return skip(f"no time left ({max(left(), 0.0):.1f} s) for a first batch")
    most = SHAP_TREE_ROWS if explainer.method == "tree" else SHAP_KERNEL_ROWS
    sample = rows.sample(most, random_state=seed) if len(rows) > most else rows
    sample = sample.reset_index(drop=True)
    least = min(SHAP_MIN_ROWS, len(sample))
    # What a call of the model costs: on one row (its fixed part, nearly all) and on the
    # sample; the first batch's cost is guessed from them.
    timer = time.perf_counter()
    explainer.output(sample.iloc[:1])
    fixed = time.perf_counter() - timer
    explainer.output(sample)
    call = time.perf_counter() - timer - fixed
    if left() < (FIRST_BATCH_CALLS if explainer.method == "kernel" else 1) * call:
        return skip(f"no time left ({max(left(), 0.0):.1f} s) for a first batch")
    if explainer.method == "kernel":
        size, coalitions = kernel_settings(len(explainer.columns), left())
        # Its calls' fixed parts, and its masked rows at what a row of the sample cost
        # (at least a tenth of the call's, as timings are noisy). Measured on a busy
        # machine: 10 rows of a churn ensemble of 8 took 2.5-3.9 s; of an ames ensemble of
        # 4 (80 columns) 4 s, where this guesses ~3 s and ~15 s.
        first = SHAP_FIRST_ROWS["kernel"]
        per_row = max(call - fixed, 0.1 * call) / max(len(sample) - 1, 1)
        guess = FIRST_BATCH_CALLS * fixed + first * size * coalitions * per_row
        if guess > left():
            return skip(f"a first batch of {first} rows (~{guess:.1f} s) would not fit in "
                        f"the {max(left(), 0.0):.1f} s left")
        explainer = Explainer(pipeline, background, method="kernel", background_size=size,
                              n_coalitions=coalitions, seed=seed)
    explanation, batches = _grow(explainer, sample, SHAP_FIRST_ROWS[explainer.method], until)
    if explanation is None or len(explanation) < least:
        done = 0 if explanation is None else len(explanation)
        skipped = skip(f"{done} rows explained before the time ran out; {least} needed")
        skipped.record.update(rows=done, batches=len(batches))
        return skipped
    found = explanation.global_importance()
    record: dict[str, Any] = {
        "method": "shap", "explainer": explanation.method,
        "output_space": explanation.output_space, "outputs": list(explanation.outputs),
        "base_values": explanation.to_dict(rows=False)["base_values"],
        "rows": len(explanation),
        "background_rows": None if explainer.background is None else len(
            explainer.background),
        "coalitions": explainer.n_coalitions,
        "batches": len(batches), "seconds": round(time.perf_counter() - started, 3),
        "columns": [{"column": c, "importance": v} for c, v in found]}
    return ShapImportance(record, explanation)

