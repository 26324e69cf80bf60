"""SHAP global importance of an AutoML job's final model, within the time it has left.

The final (``ensemble``) job explains its model as loaded, one member or an ensemble,
with :class:`shipyard.explanations.Explainer` over the raw input columns: TreeSHAP for
an xgboost, lightgbm or catboost bundle (exact, cheap); for a regression ensemble each
boosting and linear member exactly and KernelSHAP only for the members left (the
``additive`` method); KernelSHAP for the rest and for classification ensembles (its
background a k-means summary of the train rows). The global importance of a column is
its mean \\|SHAP\\| over the explained test rows.

KernelSHAP's cost is paid per explained row, so its settings and rows are chosen from
the time left (:func:`kernel_settings`): a first small batch is measured, and each next
batch is as large as its cost, bounded from the batches measured so far, fits before
the end (:func:`next_batch`). When even the
first batch would not fit, or fewer than :data:`SHAP_MIN_ROWS` rows would, the result
says why (``skipped``) and the job keeps permutation importance as its headline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
#: What the additive method's exact share is expected to cost, in calls of the model on
#: the test rows: the background's summary (the first member's recipe on the train rows)
#: and each exact member's recipe and contributions on the sample.
ADDITIVE_CALLS = 2
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
    coalitions per row). The richer pair is dropped for the cheaper one when its first
    batch measures too slow (:func:`shap_importance`)."""
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


def _grow(explain: Callable[[pd.DataFrame], Explanation], rows: pd.DataFrame, first: int,
          until: float | None, least: int = 0,
          ) -> tuple[Explanation | None, list[tuple[int, float]]]:
    """Explain ``rows`` in batches: ``first`` rows, then each next batch as large as fits
    before ``until`` (a ``time.time()``; None: every other row at once). With ``least``:
    stop after the first batch, returning no explanation, when its cost says fewer than
    ``least`` rows in all would be explained in time."""
    parts: list[Explanation] = []
    batches: list[tuple[int, float]] = []
    done = 0
    n = min(first, len(rows))
    while n > 0:
        started = time.perf_counter()
        parts.append(explain(rows.iloc[done:done + n]))
        batches.append((n, time.perf_counter() - started))
        done += n
        n = len(rows) - done if until is None else \
            next_batch(batches, until - time.time(), len(rows) - done)
        if len(batches) == 1 and until is not None and done + n < least:
            return None, batches
    return (_join(parts) if parts else None), batches


def _join(parts: Sequence[Explanation]) -> Explanation:
    """One explanation of the rows of ``parts`` (explained by one explainer)."""
    from shipyard.explanations import Explanation

    x = parts[0]
    return Explanation(columns=x.columns, values=np.concatenate([p.values for p in parts]),
                       base_values=x.base_values, outputs=x.outputs,
                       output_space=x.output_space, method=x.method,
                       data=pd.concat([p.data for p in parts], ignore_index=True))


def _added(exact: Explanation, rest: Explanation) -> Explanation:
    """An additive explanation's two parts as one, over the rows ``rest`` holds (the first
    of ``exact``'s)."""
    from shipyard.explanations import Explanation

    n = len(rest)
    return Explanation(columns=rest.columns, values=exact.values[:n] + rest.values,
                       base_values=np.asarray(exact.base_values) + np.asarray(
                           rest.base_values), outputs=rest.outputs,
                       output_space=rest.output_space, method=rest.method, data=rest.data)


class _Clock:
    """The time left before ``until``, and a skipped result saying why."""

    def __init__(self, until: float | None) -> None:
        self.until, self.started = until, time.perf_counter()

    def left(self) -> float:
        return float("inf") if self.until is None else self.until - time.time()

    def skip(self, reason: str, **extra: Any) -> ShapImportance:
        return ShapImportance({"method": "shap", "skipped": reason, "seconds": round(
            time.perf_counter() - self.started, 3), **extra}, None)


def _time_calls(output: Callable[[pd.DataFrame], Any], sample: pd.DataFrame,
                ) -> tuple[float, float]:
    """What a call of ``output`` costs: on one row (its fixed part, nearly all), and on
    ``sample`` besides that fixed part."""
    timer = time.perf_counter()
    output(sample.iloc[:1])
    fixed = time.perf_counter() - timer
    output(sample)
    return fixed, time.perf_counter() - timer - fixed


def _first_batch_guess(fixed: float, call: float, rows: int, size: int, coalitions: int,
                       ) -> float:
    """What KernelSHAP's first batch is guessed to cost: its calls' fixed parts, and its
    masked rows at what a row of the sample (``rows`` of them) cost, at least a tenth of
    the call's as timings are noisy. Measured on a busy machine: 10 rows of a churn
    ensemble of 8 took 2.5-3.9 s; of an ames ensemble of 4 (80 columns) 4 s, where this
    guesses ~3 s and ~15 s."""
    per_row = max(call - fixed, 0.1 * call) / max(rows - 1, 1)
    return FIRST_BATCH_CALLS * fixed + SHAP_FIRST_ROWS["kernel"] * size * coalitions * per_row


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
        ``record``: ``method`` "shap", ``explainer`` (tree, kernel or additive),
        ``output_space``, ``outputs``, ``base_values``, ``rows``, ``background_rows`` and
        ``coalitions`` (KernelSHAP), ``members`` (additive: each member's method and
        weight), ``batches``, ``seconds``, ``columns`` (``column``, ``importance`` =
        mean \\|SHAP\\|, most important first); or ``skipped`` with the reason.
    """
    from shipyard.explanations import Explainer, resolve_method

    clock = _Clock(until)
    if clock.left() <= call_seconds:
        return clock.skip(f"no time left ({max(clock.left(), 0.0):.1f} s)")
    method = resolve_method(pipeline)
    if method == "additive":
        if clock.left() < ADDITIVE_CALLS * call_seconds:
            return clock.skip(f"no time left ({max(clock.left(), 0.0):.1f} s) for the exact "
                              "members' values")
        return _additive_importance(pipeline, background, rows, clock, seed)
    kernel = method == "kernel"
    if kernel and clock.left() < (FIRST_BATCH_CALLS + 1) * call_seconds:
        # Sizing the first batch costs about a call, the batch itself three at least.
        return clock.skip(f"no time left ({max(clock.left(), 0.0):.1f} s) for a first batch")
    # One background row is enough to time the model (a KernelSHAP explainer of its own
    # settings is built below, when a first batch fits).
    explainer = Explainer(pipeline, background.iloc[:1], method=method, seed=seed)
    most = SHAP_KERNEL_ROWS if kernel else SHAP_TREE_ROWS
    sample = rows.sample(most, random_state=seed) if len(rows) > most else rows
    sample = sample.reset_index(drop=True)
    fixed, call = _time_calls(explainer.output, sample)
    if clock.left() < (FIRST_BATCH_CALLS if kernel else 1) * call:
        return clock.skip(f"no time left ({max(clock.left(), 0.0):.1f} s) for a first batch")
    least = min(SHAP_MIN_ROWS, len(sample))
    if kernel:
        size, coalitions = kernel_settings(len(explainer.columns), clock.left())
        first = SHAP_FIRST_ROWS["kernel"]
        guess = _first_batch_guess(fixed, call, len(sample), size, coalitions)
        if guess > clock.left():
            return clock.skip(f"a first batch of {first} rows (~{guess:.1f} s) would not fit "
                              f"in the {max(clock.left(), 0.0):.1f} s left")
        explainer = Explainer(pipeline, background, method="kernel", background_size=size,
                              n_coalitions=coalitions, seed=seed)
    rich = kernel and size == KERNEL_SETTINGS[0][0]
    explanation, batches = _grow(explainer.explain, sample,
                                 SHAP_FIRST_ROWS["kernel" if kernel else "tree"], until,
                                 least if rich else 0)
    if rich and explanation is None and batches:
        # Measured too slow at the richer settings for ``least`` rows (a churn ensemble of 9
        # on a busy machine explained 29 rows in 30 s, so none were kept): start again at
        # the cheaper ones, about 6 times cheaper a row.
        size, coalitions = KERNEL_SETTINGS[1][0], kernel_coalitions(
            len(explainer.columns), KERNEL_SETTINGS[1][1])
        explainer = Explainer(pipeline, background, method="kernel", background_size=size,
                              n_coalitions=coalitions, seed=seed)
        explanation, more = _grow(explainer.explain, sample, SHAP_FIRST_ROWS["kernel"], until)
        batches += more
    return _result(explainer, explanation, batches, least, clock)


def _additive_importance(pipeline: InferencePipeline, background: pd.DataFrame,
                         rows: pd.DataFrame, clock: _Clock, seed: int) -> ShapImportance:
    """:func:`shap_importance` of a regression ensemble by the additive method: its exact
    members' share of every sampled row in one call of each, then KernelSHAP of the
    members left (if any) for as many of those rows as the time allows."""
    from shipyard.explanations import BACKGROUND_SIZE, Explainer, kernel_columns

    varied = kernel_columns(pipeline, "additive")
    # Built once, on the whole background: its linear members need its means.
    size, coalitions = kernel_settings(len(varied), clock.left()) if varied else \
        (BACKGROUND_SIZE, None)
    explainer = Explainer(pipeline, background, method="additive", background_size=size,
                          n_coalitions=coalitions, seed=seed)
    varied = explainer.kernel_columns  # a linear member may have failed its check
    if varied and explainer.n_coalitions is None:
        explainer.n_coalitions = kernel_coalitions(len(varied), 0)
    most = SHAP_KERNEL_ROWS if varied else SHAP_TREE_ROWS
    sample = rows.sample(most, random_state=seed) if len(rows) > most else rows
    sample = sample.reset_index(drop=True)
    least = min(SHAP_MIN_ROWS, len(sample))
    timer = time.perf_counter()
    exact = explainer.explain(sample, part="exact")
    if not varied:
        return _result(explainer, exact, [(len(sample), time.perf_counter() - timer)],
                       least, clock)
    fixed, call = _time_calls(explainer.kernel_output, sample)
    first = SHAP_FIRST_ROWS["kernel"]
    assert explainer.background is not None and explainer.n_coalitions is not None
    guess = _first_batch_guess(fixed, call, len(sample), len(explainer.background),
                               explainer.n_coalitions)
    if guess > clock.left():
        return clock.skip(f"a first batch of {first} rows of the KernelSHAP members (~"
                          f"{guess:.1f} s) would not fit in the "
                          f"{max(clock.left(), 0.0):.1f} s left")
    rest, batches = _grow(lambda r: explainer.explain(r, part="kernel"), sample, first,
                          clock.until)
    return _result(explainer, None if rest is None else _added(exact, rest), batches,
                   least, clock)


def _result(explainer: Explainer, explanation: Explanation | None,
            batches: list[tuple[int, float]], least: int, clock: _Clock) -> ShapImportance:
    if explanation is None or len(explanation) < least:
        done = 0 if explanation is None else len(explanation)
        return clock.skip(f"{done} rows explained before the time ran out; {least} needed",
                          rows=done, batches=len(batches))
    found = explanation.global_importance()
    record: dict[str, Any] = {
        "method": "shap", "explainer": explanation.method,
        "output_space": explanation.output_space, "outputs": list(explanation.outputs),
        "base_values": explanation.to_dict(rows=False)["base_values"],
        "rows": len(explanation),
        "background_rows": None if explainer.background is None else len(
            explainer.background),
        "coalitions": explainer.n_coalitions if explainer.kernel_columns else None,
        "batches": len(batches), "seconds": round(time.perf_counter() - clock.started, 3),
        "columns": [{"column": c, "importance": v} for c, v in found]}
    if explainer.members is not None:
        record["members"] = explainer.members.describe()
    return ShapImportance(record, explanation)
