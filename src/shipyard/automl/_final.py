"""The entry of an ``ensemble`` job: candidates' models → one model, scored on test once.

Reads ``input/config/ensemble.json`` and each candidate's bundle and kept validation
predictions under ``input/candidates/NN/`` (``jobs/kinds/ensemble.py`` staged them),
then:

1. chooses: ``caruana`` runs greedy selection over the validation predictions
   (:func:`shipyard.automl.select`); ``best`` keeps the best single candidate. The
   predictions of cross-validated candidates (``cv_folds``) are out of fold over every
   train and validation row;
2. with ``refit``, trains each chosen member again on the train and validation rows
   together (the same settings; the boosting rounds early stopping kept), heaviest
   first, while its expected time fits before the ``deadline`` (a member that does not
   fit keeps its candidate's model);
3. writes ``model/``: the chosen candidate's own bundle when one is chosen, else an
   ensemble bundle of the chosen ones with their weights
   (:func:`shipyard.bundle.write_ensemble`); its MODEL.json keeps the candidates'
   split, so a monitor baselines on the same rows training did;
4. scores it on the test split, through the bundle as an endpoint would load it (the
   ``test`` input, or the rows the candidates' split held out, rebuilt from the train
   input), and logs ``validation.*`` (on the selection's rows) and ``test.*`` metrics;
5. explains the model over the raw input columns on the test rows, in the time left
   before the deadline (:func:`explain_final`): SHAP global importance (mean |SHAP|,
   :func:`shipyard.automl._shap.shap_importance`; TreeSHAP for one boosting model,
   KernelSHAP for the rest and for ensembles, its rows chosen from the time left), then
   permutation importance (:func:`permutation_importance`, loss-based) in what remains.
   SHAP is the headline; when it cannot fit, permutation importance is, and the log and
   the result say so (``importance_method``);
6. leaves ``output/ensemble.json`` (weights, losses, metrics, importance),
   ``output/shap.json``, ``output/importance.json`` (permutation) and the plots (test
   evaluation, importance) in ``output/plots/``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: What the job leaves besides its model.
RESULT_FILE = "ensemble.json"
#: Where the ``ensemble`` kind stages each candidate: ``input/candidates/NN/{model,
#: predictions}/``.
CANDIDATES_DIR = "input/candidates"


def _read_config(job_dir: Path) -> dict[str, Any]:
    from shipyard.errors import InvalidRequest

    try:
        data = json.loads((job_dir / "input" / "config" / "ensemble.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"ensemble.json cannot be read: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("ensemble.json must hold a JSON object.")
    return data


def _split_metrics(problem_type: str, y: np.ndarray, out: np.ndarray,
                   classes: Sequence[str] | None) -> dict[str, Any]:
    from shipyard.evaluation import classification_metrics, regression_metrics

    if problem_type == "regression":
        return regression_metrics(y, out)
    return classification_metrics(y, out, list(classes or []))


def choose(predictions: Sequence[np.ndarray], y: np.ndarray, metric: str, problem_type: str,
           selection: str) -> tuple[np.ndarray, float, int, float]:
    """(weights, kept loss, best single candidate, its loss) for ``selection``."""
    from shipyard.automl._ensemble import loss_function, select

    if selection == "caruana":
        sel = select(predictions, y, metric, problem_type)
        return sel.weights, sel.loss, sel.best_single, sel.best_single_loss
    n_classes = predictions[0].shape[1] if np.ndim(predictions[0]) == 2 else 0
    loss = loss_function(metric, problem_type, y, n_classes)
    losses = [loss(np.asarray(p, dtype="float64")) for p in predictions]
    best = int(np.argmin(losses))
    weights = np.zeros(len(predictions))
    weights[best] = 1.0
    return weights, float(losses[best]), best, float(losses[best])


#: The hyperparameter counting boosting rounds, by algorithm (a refit trains the rounds
#: early stopping kept, with no validation split to watch).
ROUNDS = {"xgboost": "n_estimators", "lightgbm": "n_estimators", "catboost": "iterations"}
#: Seconds the final job keeps after its refits (:func:`after_refit_seconds`): loading
#: the final model, scoring the test rows, the explanations and storing. A fixed part, and
#: a part that grows with the table up to churn's 7,000 rows (scoring and a pass of
#: permutation importance on more rows). At churn's size the 6 s the job kept before; a
#: flat 6 s (2 s scoring, 4 s explanations) left a small table's members never refit, since
#: the AutoML driver's reserve, which shrinks with the table, kept no time for it
#: (Sacramento, 932 rows, 30 s: "a refit (~1.3 s) would pass the time budget (-0.6 s
#: left)" for every member).
AFTER_REFIT_FIXED_SECONDS = 3.5
AFTER_REFIT_SCALED_SECONDS = 2.5
AFTER_REFIT_SCALE_ROWS = 7000


def after_refit_seconds(rows: int) -> float:
    """Seconds the final job of an AutoML job over a table of ``rows`` rows keeps after
    its refits. The AutoML driver's reserve counts it, and its refits end that long
    before the budget's end (the ensemble spec's ``refit_until``): one figure for both."""
    return AFTER_REFIT_FIXED_SECONDS + AFTER_REFIT_SCALED_SECONDS * min(
        1.0, max(rows, 0) / AFTER_REFIT_SCALE_ROWS)


def refit_settings(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A member's hyperparameters for a refit on every training row: the same settings,
    with the boosting rounds early stopping chose and early stopping off."""
    hp = dict(manifest.get("hyperparameters") or {})
    training = manifest.get("training") or {}
    best = training.get("best_iteration")
    # Cross-validated: the mean of the folds' rounds, not the saved first fold's alone.
    cv_rounds = (training.get("cv") or {}).get("rounds")
    rounds = ROUNDS.get(str(manifest.get("algorithm")))
    if hp.get("early_stopping_rounds") is not None:
        if rounds is not None and isinstance(cv_rounds, int):
            hp[rounds] = max(1, cv_rounds)
        elif rounds is not None and isinstance(best, int):
            hp[rounds] = max(1, best + 1)
        hp["early_stopping_rounds"] = None
    return hp


def _refit_until(config: Mapping[str, Any]) -> float | None:
    """When the refits must end: the spec's ``refit_until`` (an AutoML job sets it from
    :func:`after_refit_seconds`), else :func:`after_refit_seconds` of a churn-sized table
    before the deadline; None without a deadline."""
    until, deadline = config.get("refit_until"), config.get("deadline")
    if isinstance(until, int | float):
        return float(until)
    if isinstance(deadline, int | float):
        return float(deadline) - after_refit_seconds(AFTER_REFIT_SCALE_ROWS)
    return None


def refit_members(members: Sequence[tuple[int, Path, Mapping[str, Any]]],
                  train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame,
                  target: str, problem_type: str, work: Path,
                  deadline: float | None) -> dict[int, Path]:
    """Train each member again on the train and validation rows together (heaviest first),
    as long as its expected time (its fit's, scaled by the rows) ends before
    ``deadline`` (the time the refits must end by); returns member index → the refit
    bundle's folder.

    The expected time is the member's whole training (``training.seconds``: the recipe's
    fit, the model's and the scoring), not its model's fit alone: a linear model's fit
    takes 0.1 s where the splines of its recipe, over 154 columns, take 5."""
    from shipyard.bundle import get_framework, read_manifest
    from shipyard.training import get_algorithm
    from shipyard.training._entry import TrainingContext, run_training

    full = pd.concat([train, validation], ignore_index=True)
    done: dict[int, Path] = {}
    manifests = [read_manifest(folder) for _, folder, _ in members]
    # A first import (skops: 2.5 s of CPU) is not in the members' recorded seconds.
    for algorithm in {str(m["algorithm"]) for m in manifests}:
        get_framework(get_algorithm(algorithm).info.framework).import_serializer()
    for (index, _, settings), manifest in zip(members, manifests, strict=True):
        record = manifest.get("training") or {}
        took = float(record.get("seconds") or record.get("fit_seconds") or 0.0)
        folds = int((record.get("cv") or {}).get("folds") or 0)
        # A cross-validated candidate's seconds are its K fits on (K-1)/K of the rows.
        # A candidate trained on a sample (split.train_rows) scales from its sample's rows.
        trained = int(((manifest.get("split") or {}).get("row_counts") or {}).get("train")
                      or len(train))
        expected = 0.5 + (took / (folds - 1) if folds > 1
                          else took * len(full) / max(trained, 1))
        left = None if deadline is None else deadline - time.time()
        if left is not None and expected > left:
            print(f"[ensemble] member {settings.get('job')} ({manifest.get('algorithm')}) kept "
                  "as trained: a "
                  f"refit (~{expected:.1f} s) would pass the time budget ({left:.1f} s left)",
                  flush=True)
            continue
        started = time.perf_counter()
        dest = work / f"{index:02d}"
        run_training(TrainingContext(
            train=full, validation=full.iloc[:0], test=test, algorithm=str(
                manifest["algorithm"]), target=target, problem_type=problem_type,
            hyperparameters=refit_settings(manifest), recipe=settings.get("recipe"),
            semantic_types=settings.get("semantic_types"), model_dir=dest,
            # As many threads as the candidate's measured time had: on a loaded 2-core
            # machine LightGBM on 2 threads fitted ames in 32-35 s where 1 took 0.8-2.2
            # s (OpenMP threads waiting on each other), and a refit expected at ~8 s took
            # 50.7 s of a 60 s budget.
            n_jobs=int(record.get("n_jobs") or 0) or None,
            score_test=False, plots=False, log=lambda line: None))
        done[index] = dest
        print(f"[ensemble] member {settings.get('job')} ({manifest.get('algorithm')}) refit "
              f"on {len(full)} "
              f"rows in {time.perf_counter() - started:.1f} s", flush=True)
    return done


#: Rows of the warm-up and of the two timed calls that measure the chosen ensemble's
#: scoring cost (:func:`measure_scoring`).
PROBE_SMALL_ROWS = 100
PROBE_LARGE_ROWS = 2000
#: Seconds :func:`measure_scoring` is expected to take before the refits (loading the
#: members, a warm-up and two calls: 0.3-1.3 s measured, ames' 7 members the most); the
#: AutoML driver's reserve counts it, or it comes out of the refits' time (a trial at
#: 30-40 s budgets found "the refits end -0.0 s from now" on fgl and NMES1988).
MEASURE_SECONDS = 1.0
#: Seconds the plots of the test evaluation and of the importance take, at most as we
#: measured them (matplotlib warm in the runtime), besides :data:`STORE_MARGIN`.
PLOTS_SECONDS = 1.0


@dataclass(frozen=True)
class ScoringCost:
    """What the chosen members cost to load and to score, measured on this machine now
    (:func:`measure_scoring`): a call of ``n`` rows takes ``per_call + per_row * n``."""

    load_seconds: float
    per_call: float
    per_row: float
    #: What the measuring itself took (the loads, the warm-up and the timed calls).
    seconds: float

    def call(self, rows: int) -> float:
        return self.per_call + self.per_row * max(rows, 0)

    def permutation_pass(self, rows: int, columns: int) -> float:
        """A pass of permutation importance on ``rows`` rows: one shuffled copy of them per
        column, :data:`IMPORTANCE_BATCH_ROWS` rows a call."""
        total = rows * max(columns, 1)
        return -(-total // IMPORTANCE_BATCH_ROWS) * self.per_call + self.per_row * total

    def after_refit(self, test_rows: int, columns: int) -> float:
        """Seconds the job needs after its refits: loading the final model, scoring the
        test rows, a first pass of permutation importance at its floor
        (:data:`IMPORTANCE_MIN_ROWS` rows), the plots and storing. SHAP takes only what
        is left beyond it (:func:`explain_final`)."""
        return (self.load_seconds + self.call(test_rows)
                + self.permutation_pass(min(test_rows, IMPORTANCE_MIN_ROWS), columns)
                + PLOTS_SECONDS + STORE_MARGIN)


def measure_scoring(folders: Sequence[tuple[float, Path]], rows: pd.DataFrame
                    ) -> tuple[Any, ScoringCost]:
    """Load the members at ``folders`` ((weight, bundle folder)) as one model, as the
    final model will be (an :class:`~shipyard.bundle.EnsemblePipeline` of several), and
    time its calls on raw ``rows`` (tiled to size): a warm-up call, then
    :data:`PROBE_SMALL_ROWS` and :data:`PROBE_LARGE_ROWS` rows, whose difference is the
    cost of a row and the rest the cost of a call. Returns (the loaded model, the cost).

    The refits keep the members' recipes, algorithms and rounds, so the refit model
    costs what this one does to load and score: on a loaded machine the time after the
    refits grew to 21-26 s of a 60 s ames budget (permutation importance 8-15 s where a
    fixed reserve kept 4.6), and the budget was passed by 12-23 s."""
    from shipyard.bundle import load_bundle, read_manifest
    from shipyard.bundle._pipeline import EnsemblePipeline

    began = time.perf_counter()
    loaded = [(weight, load_bundle(folder)) for weight, folder in folders]
    if len(loaded) == 1:
        model = loaded[0][1]
    else:
        first = read_manifest(folders[0][1])
        model = EnsemblePipeline({"task": first["task"], "classes": first.get("classes")},
                                 loaded)
    load_seconds = time.perf_counter() - began

    def tiled(n: int) -> pd.DataFrame:
        reps = -(-n // max(len(rows), 1))
        return pd.concat([rows] * reps, ignore_index=True).iloc[:n]

    small, large = tiled(PROBE_SMALL_ROWS), tiled(PROBE_LARGE_ROWS)
    model.outputs(small)  # the first call: lazy imports and caches, paid once
    timed = []
    for batch in (small, large):
        started = time.perf_counter()
        model.outputs(batch)
        timed.append(time.perf_counter() - started)
    per_row = max(0.0, (timed[1] - timed[0]) / (len(large) - len(small)))
    per_call = max(0.0, timed[0] - per_row * len(small))
    return model, ScoringCost(load_seconds, per_call, per_row, time.perf_counter() - began)


#: Rows permutation importance is measured on, at most, and its repeats at most.
IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 3
#: Rows the first pass of permutation importance runs on at least, whatever the time left.
IMPORTANCE_MIN_ROWS = 200
#: Rows one call of the model scores at most while measuring importance.
IMPORTANCE_BATCH_ROWS = 50_000
#: The share of the time left for explanations SHAP may take; permutation importance
#: gets the rest (and whatever SHAP leaves unused).
SHAP_SHARE = 0.6
#: SHAP's time at most (a job with no deadline, or a budget that does not bind): a
#: global ranking needs no more (KernelSHAP's 500 rows take ~10 s on churn's ensembles).
SHAP_MAX_SECONDS = 30.0
#: Test rows below which SHAP explains train rows besides, up to this many in all.
SHAP_FEW_ROWS = 200
#: Seconds kept before the deadline after importance: the result files and storing.
STORE_MARGIN = 0.7


def importance_loss(metric: str, problem_type: str, n_classes: int) -> Any:
    """``targets -> (outputs -> loss)`` for permutation importance: the metric's own loss.

    Not the selection's: a hard-label metric's breaks ties with a pinch of log loss, which
    gave columns that flip no prediction an importance of 1e-10 instead of 0."""
    from shipyard.automl._ensemble import loss_function

    return lambda targets: loss_function(metric, problem_type, targets, n_classes,
                                         tie_break=False)


def permutation_importance(outputs: Any, X: pd.DataFrame, y: np.ndarray, loss_for: Any, *,
                           deadline: float | None = None, seed: int = 0,
                           repeats: int = IMPORTANCE_REPEATS,
                           scored: np.ndarray | None = None,
                           cost: ScoringCost | None = None,
                           columns: Sequence[str] | None = None) -> dict[str, Any]:
    """How much worse the model gets when one raw input column is shuffled, per column.

    ``outputs``: rows → the model's outputs (class probabilities or values, as the metric
    reads them); ``loss_for``: targets → (outputs → loss, lower is better), given the
    targets ``y`` of the rows measured on (a sample of ``X``'s). Each pass shuffles every
    column once; the shuffled copies go through ``outputs`` together, up to
    :data:`IMPORTANCE_BATCH_ROWS` rows a call, so a model's fixed cost per call (an
    ensemble's members each transforming their input) is paid a few times a pass, not
    once a column. Up to ``repeats`` passes, as many as the time left before
    ``deadline`` allows. The first pass always runs: when it would not fit on
    :data:`IMPORTANCE_ROWS` rows, it runs on as few as fit, down to
    :data:`IMPORTANCE_MIN_ROWS` (a model is never left unexplained because a busy machine
    ate the budget; that floor costs a fraction of a second on the tables we measured).
    ``scored``: the model's outputs on every row of ``X``, when the caller has them (the
    final job scored the test rows): they are not scored again. ``cost``: what the model's
    calls cost, measured (:func:`measure_scoring`): a pass is guessed from it, not from
    one call scaled by the rows (which counts a call's fixed part once a column).

    Returns ``{"repeats", "rows", "baseline_loss", "columns": [{"column", "importance",
    "std"}]}``, most important first.
    """
    rng = np.random.default_rng(seed)
    # Only the columns the model reads (``columns``): one no feature comes from (a row
    # number the recipe drops) would be listed with an importance of 0 for nothing.
    columns = list(X.columns) if columns is None else [c for c in X.columns if c in
                                                          set(columns)]
    picked = np.sort(rng.choice(len(X), IMPORTANCE_ROWS, replace=False)) \
        if len(X) > IMPORTANCE_ROWS else np.arange(len(X))
    sample = X.iloc[picked].reset_index(drop=True)
    targets = np.asarray(y)[picked]
    started = time.perf_counter()
    scored = np.asarray(outputs(sample)) if scored is None else np.asarray(scored)[picked]
    # A pass scores len(columns) copies of the sample: at least that many times the rows.
    guess = (cost.permutation_pass(len(sample), len(columns)) if cost is not None else
             (time.perf_counter() - started) * max(1.0, 0.25 * len(columns)))
    left = None if deadline is None else deadline - STORE_MARGIN - time.time()
    if left is not None and left < guess and len(sample) > IMPORTANCE_MIN_ROWS:
        keep = max(IMPORTANCE_MIN_ROWS, int(len(sample) * max(left, 0.0) / guess))
        guess *= keep / len(sample)
        sample, scored, targets = sample.iloc[:keep], scored[:keep], targets[:keep]
    loss = loss_for(targets)
    base = float(loss(scored))
    per_batch = max(1, IMPORTANCE_BATCH_ROWS // max(len(sample), 1))
    deltas: dict[str, list[float]] = {str(c): [] for c in columns}
    done = 0
    while done < repeats:
        left = None if deadline is None else deadline - STORE_MARGIN - time.time()
        if done and left is not None and left < guess:
            break
        started = time.perf_counter()
        for i in range(0, len(columns), per_batch):
            batch = columns[i:i + per_batch]
            copies = []
            for column in batch:
                shuffled = sample.copy()
                shuffled[column] = rng.permutation(shuffled[column].to_numpy())
                copies.append(shuffled)
            out = np.asarray(outputs(pd.concat(copies, ignore_index=True)))
            for k, column in enumerate(batch):
                block = out[k * len(sample):(k + 1) * len(sample)]
                deltas[str(column)].append(float(loss(block)) - base)
        guess = time.perf_counter() - started
        done += 1
    found: list[dict[str, Any]] = [
        {"column": c, "importance": float(np.mean(d)), "std": float(np.std(d))}
        for c, d in deltas.items()]
    found.sort(key=lambda r: -r["importance"])
    return {"repeats": done, "rows": len(sample), "baseline_loss": base, "columns": found}


def _read_columns(pipeline: Any) -> list[str] | None:
    """The raw input columns some feature of ``pipeline`` comes from (SHAP explains these
    alone), or None when its recipes cannot say."""
    from shipyard.explanations import raw_columns

    try:
        return raw_columns(pipeline) or None
    except (AttributeError, TypeError, KeyError):  # a model with no recipe lineage
        return None


def explain_final(pipeline: Any, background: pd.DataFrame, X: pd.DataFrame, y: np.ndarray,
                  loss_for: Any, *, deadline: float | None, call_seconds: float = 0.0,
                  scored: np.ndarray | None = None, cost: ScoringCost | None = None,
                  ) -> dict[str, Any]:
    """The final model's importance of each raw input column on the test rows ``X``.

    SHAP first, in :data:`SHAP_SHARE` of the time left before ``deadline`` (its
    background: ``background``, the raw train rows; ``call_seconds``: what scoring ``X``
    took; with fewer than :data:`SHAP_FEW_ROWS` test rows, train rows after them, and
    the record's ``from`` says how many of each), then permutation importance on the
    test rows alone (``y``, ``loss_for``: see :func:`permutation_importance`: it needs
    held-out labels) in what remains.

    Returns:
        ``{"method", "columns", "shap", "permutation", "explanation"}``: ``columns`` is
        the headline, SHAP's when it ran (``method`` "shap"), else permutation
        importance's (``method`` "permutation"); ``shap`` says why it did not run
        (``skipped``); ``explanation`` is the SHAP
        :class:`~shipyard.explanations.Explanation` (None when skipped).
    """
    from shipyard.automl._shap import shap_importance

    # With the model's cost measured, SHAP's share is of what is left beyond permutation
    # importance's first pass at its floor (the time the refits kept for it), so SHAP
    # never takes the time that keeps the model explained at all.
    floor = 0.0 if cost is None else cost.permutation_pass(
        min(len(X), IMPORTANCE_MIN_ROWS), len(X.columns))
    until = time.time() + (SHAP_MAX_SECONDS if deadline is None else min(
        SHAP_MAX_SECONDS,
        SHAP_SHARE * max(deadline - STORE_MARGIN - floor - time.time(), 0.0)))
    # SHAP values need no labels: with few test rows (a small table's 10%), train rows
    # top them up, after them, so a global ranking does not rest on a handful of rows.
    extra = max(0, min(SHAP_FEW_ROWS - len(X), len(background)))
    rows = X if not extra else pd.concat(
        [X, background.sample(extra, random_state=0)[list(X.columns)]], ignore_index=True)
    shap = shap_importance(pipeline, background, rows, until=until, call_seconds=call_seconds)
    if extra and "skipped" not in shap.record:
        # The explained rows are the first of ``rows`` (no sample is drawn from so few).
        shap.record["from"] = {"test": min(shap.record["rows"], len(X)),
                               "train": max(0, shap.record["rows"] - len(X))}
    key = "value" if pipeline.task == "regression" else "proba"
    permutation = permutation_importance(lambda rows: pipeline.outputs(rows)[key], X, y,
                                         loss_for, deadline=deadline, scored=scored,
                                         cost=cost, columns=_read_columns(pipeline))
    permutation["method"] = "permutation"
    headline = permutation if "skipped" in shap.record else shap.record
    return {"method": headline["method"], "columns": headline["columns"],
            "shap": shap.record, "permutation": permutation,
            "explanation": shap.explanation}


def _importance_plot(importance: Mapping[str, Any], metric: str) -> bytes | None:
    """A bar chart of the 20 most important columns, titled by the method (None when
    none was measured)."""
    rows = [r for r in importance.get("columns") or []][:20]
    if not rows:
        return None
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 0.3 * len(rows) + 1.2))
    ax = fig.add_subplot()
    names = [r["column"] for r in rows][::-1]
    shap = importance.get("method") == "shap"
    ax.barh(names, [r["importance"] for r in rows][::-1],
            xerr=None if shap else [r["std"] for r in rows][::-1], color="#3b7dd8")
    if shap:
        space = str(importance.get("output_space"))
        outputs = ", ".join(str(o) for o in importance.get("outputs") or [])
        ax.set_xlabel(f"mean |SHAP value| ({space} of {outputs})")
        ax.set_title(f"SHAP importance of the input columns ({importance.get('rows')} test "
                     f"rows, {importance.get('explainer')})")
    else:
        ax.set_xlabel(f"loss increase when shuffled ({metric})")
        ax.set_title("Permutation importance of the input columns (test rows)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def main(job_dir: Path) -> None:
    """Build, write and score the ensemble (see the module's docstring)."""
    from shipyard import runtime
    from shipyard.bundle import load_bundle, read_manifest, write_ensemble
    from shipyard.errors import InvalidRequest
    from shipyard.evaluation import render_plots, scalar_metrics
    from shipyard.runtime import _contract as c
    from shipyard.training._entry import (
        PREDICTIONS_FILE,
        PREDICTIONS_TARGET_FILE,
        encode_target,
        read_channel,
        rebuild_split,
    )
    from shipyard.training._sanity import sanity_warnings

    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    config = _read_config(job_dir)
    problem_type, metric = str(config["problem_type"]), str(config["metric"])
    target = str(config["target"])
    selection = str(config.get("selection") or "caruana")
    candidates = config.get("candidates") or []
    names = [m["job"] for m in candidates]
    folders = [job_dir / CANDIDATES_DIR / f"{i:02d}" for i in range(len(names))]
    deadline = config.get("deadline")
    with runtime.phase("read"):
        preds, targets = [], []
        for name, folder in zip(names, folders, strict=True):
            try:
                preds.append(np.load(folder / "predictions" / PREDICTIONS_FILE,
                                     allow_pickle=False))
                targets.append(np.load(folder / "predictions" / PREDICTIONS_TARGET_FILE,
                                       allow_pickle=False))
            except (OSError, ValueError) as exc:
                raise InvalidRequest(f"The validation predictions of candidate {name} cannot "
                                     f"be read ({exc}).") from None
        for name, t in zip(names[1:], targets[1:], strict=True):
            if t.shape != targets[0].shape or not np.array_equal(t, targets[0]):
                raise InvalidRequest(f"Candidate {name} was validated on other rows than "
                                     f"candidate {names[0]}; an ensemble is selected over "
                                     "candidates of one split.")
        data = job_dir / c.INPUT_DATA_DIR
        channels = {ch: read_channel(data / ch) for ch in ("train", "validation", "test")
                    if (data / ch).is_dir() and any((data / ch).iterdir())}
        # Every training row: candidates searched on a sample (split.train_rows) are
        # refit on the whole; the validation and test rows are the same either way.
        train, validation, test = rebuild_split(
            channels["train"], channels.get("validation"), channels.get("test"), target,
            problem_type, config.get("split"), sample=False)
    with runtime.phase("select"):
        weights, kept, best, best_loss = choose(preds, targets[0], metric, problem_type,
                                                selection)
    chosen = [int(i) for i in np.argsort(-weights, kind="stable") if weights[i] > 0]
    print(f"[ensemble] {selection} selection on validation.{metric} over {len(names)} "
          f"candidates: {len(chosen)} chosen; "
          + ", ".join(f"{names[i]} {weights[i]:.3f}" for i in chosen), flush=True)
    first = read_manifest(folders[chosen[0]] / "model")
    record = first.get("split") or {}
    # Cross-validated candidates' predictions are out of fold over the train and
    # validation rows together; the others' are on the validation rows.
    cv = record.get("cv") or {}
    expected_rows = cv.get("rows") if cv else (record.get("row_counts") or {}).get(
        "validation")
    rebuilt = len(train) + len(validation) if cv else len(validation)
    if expected_rows is not None and expected_rows != rebuilt:
        raise InvalidRequest(f"The split rebuilt from the inputs has {rebuilt} "
                             f"{'train and validation' if cv else 'validation'} rows; the "
                             f"candidates had {expected_rows}. Were they trained on other "
                             "data?")

    members = {i: folders[i] / "model" for i in chosen}
    until = _refit_until(config)
    cost: ScoringCost | None = None
    if config.get("refit") and until is not None and isinstance(deadline, int | float) \
            and until > time.time():
        # What scoring and explaining the final model will take, measured here and now
        # (the refits end that long before the deadline, or earlier as the spec says);
        # not when no refit could start anyway.
        with runtime.phase("measure"):
            rows = (test if len(test) else validation if len(validation) else train)
            _, cost = measure_scoring([(float(weights[i]), folders[i] / "model")
                                       for i in chosen], rows.drop(columns=[target]))
        after = cost.after_refit(len(test), len(train.columns) - 1)
        until = min(until, float(deadline) - after)
        print(f"[ensemble] scoring and explaining the model will take ~{after:.1f} s "
              f"(measured in {cost.seconds:.1f} s: loading {cost.load_seconds:.1f} s, "
              f"{1000 * cost.per_call:.0f} ms a call, {1e6 * cost.per_row:.0f} us a row); "
              f"the refits end {until - time.time():.1f} s from now", flush=True)
    if config.get("refit"):
        with runtime.phase("refit"):
            members.update(refit_members(
                [(i, folders[i] / "model", candidates[i]) for i in chosen], train, validation,
                test, target, problem_type, job_dir / "work" / "refit",
                # The rest is kept for scoring and explaining the final model.
                until))
    refit = sorted(i for i in chosen if members[i] != folders[i] / "model")

    model_dir = Path(os.environ.get(c.ENV_MODEL_DIR) or job_dir / c.MODEL_DIR)
    with runtime.phase("write"):
        if len(chosen) == 1:  # one model: its own bundle, served on the fast path
            model_dir.mkdir(parents=True, exist_ok=True)
            shutil.copytree(members[chosen[0]], model_dir, dirs_exist_ok=True)
        else:
            if model_dir.exists() and not any(model_dir.iterdir()):
                model_dir.rmdir()
            write_ensemble(model_dir, [(members[i], float(weights[i])) for i in chosen],
                           manifest={"split": record, "ensemble": {
                               "metric": metric, "selection": selection, "loss": kept,
                               "best_single": names[best], "best_single_loss": best_loss,
                               "refit": [names[i] for i in refit],
                               "candidates": [{"job": n, "weight": float(weights[i])}
                                              for i, n in enumerate(names)]}})

    with runtime.phase("evaluate"):
        # As an endpoint will load it (also when no member was refit: the written bundle
        # is what is scored, not the model measured before the refits).
        pipeline = load_bundle(model_dir)
        classes = pipeline.classes
        metrics: dict[str, dict[str, Any]] = {}
        mix = np.tensordot(weights, np.stack([np.asarray(p, "float64") for p in preds]),
                           axes=1)
        metrics["validation"] = _split_metrics(problem_type, targets[0], mix, classes)
        call_seconds = 0.0
        if len(test):
            started = time.perf_counter()
            out = pipeline.outputs(test.drop(columns=[target]))
            call_seconds = time.perf_counter() - started
            y = encode_target(test[target], problem_type, classes)
            metrics["test"] = _split_metrics(
                problem_type, y, out["value" if problem_type == "regression" else "proba"],
                classes)
        for split, values in metrics.items():
            scalars = scalar_metrics(values)
            for key, value in scalars.items():
                runtime.log_metric(f"{split}.{key}", value)
            print(f"[ensemble] {split}: " + ", ".join(f"{k} {v:.4g}" for k, v in
                                                       scalars.items()), flush=True)
    out_dir = job_dir / c.OUTPUT_DIR
    importance: dict[str, Any] | None = None
    shap: dict[str, Any] | None = None
    explained: dict[str, Any] | None = None
    if "test" in metrics:
        (out_dir / "plots").mkdir(parents=True, exist_ok=True)
        for name, png in render_plots(problem_type, {"test": metrics["test"]}, None).items():
            (out_dir / "plots" / name).write_bytes(png)
        with runtime.phase("explain"):
            n_classes = len(classes or [])
            explained = explain_final(
                pipeline, train.drop(columns=[target]),
                test.drop(columns=[target]).reset_index(drop=True), y,
                importance_loss(metric, problem_type, n_classes),
                deadline=float(deadline) if isinstance(deadline, int | float) else None,
                call_seconds=call_seconds, cost=cost,
                scored=out["value" if problem_type == "regression" else "proba"])
        shap, importance = explained["shap"], explained["permutation"]
        importance["metric"] = metric
        (out_dir / "importance.json").write_text(json.dumps(importance, indent=2),
                                                 encoding="utf-8")
        (out_dir / "shap.json").write_text(json.dumps(shap, indent=2), encoding="utf-8")
        chart = _importance_plot(shap if explained["method"] == "shap" else importance,
                                 metric)
        if chart is not None:
            (out_dir / "plots" / "importance.png").write_bytes(chart)
        if "skipped" in shap:
            print(f"[ensemble] SHAP skipped: {shap['skipped']}; the importance is "
                  "permutation importance", flush=True)
        else:
            rows = f"{shap['rows']} test rows" if "from" not in shap else (
                f"{shap['rows']} rows ({shap['from']['test']} test, "
                f"{shap['from']['train']} train)")
            print(f"[ensemble] {shap['explainer']} SHAP on {rows} "
                  + (f"(background {shap['background_rows']}, {shap['coalitions']} "
                     "coalitions) " if shap.get("coalitions") else "")
                  + f"in {shap['seconds']:.1f} s, {shap['output_space']} space: "
                  + ", ".join(f"{r['column']} {r['importance']:.4g}"
                              for r in shap["columns"][:5]), flush=True)
        top = ", ".join(f"{r['column']} {r['importance']:.4g}"
                        for r in importance["columns"][:5])
        print(f"[ensemble] permutation importance on {importance['rows']} test rows, "
              f"{importance['repeats']} repeats: {top or importance.get('skipped')}",
              flush=True)
    warned = sanity_warnings(
        problem_type, metrics["test"],
        encode_target(pd.concat([train, validation])[target], problem_type, classes), y,
        classes, [r["column"] for r in (explained or {}).get("columns", [])[:3]], target,
    ) if "test" in metrics else []
    for warning in warned:
        print(f"[ensemble] WARNING: {warning}", flush=True)
    result = {
        "selection": selection, "metric": metric, "loss": kept, "warnings": warned,
        "best_single": names[best], "best_single_loss": best_loss,
        "weights": {n: float(weights[i]) for i, n in enumerate(names)},
        "members": [names[i] for i in chosen], "refit": [names[i] for i in refit],
        "validation": scalar_metrics(metrics["validation"]),
        "test": scalar_metrics(metrics["test"]) if "test" in metrics else None,
        "test_rows": len(test),
        # The headline (SHAP's mean |SHAP| when it ran, else permutation importance),
        # and permutation importance on its own (loss-based: a different measure).
        "importance": (explained or {}).get("columns", [])[:20],
        "importance_method": (explained or {}).get("method"),
        "permutation_importance": (importance or {}).get("columns", [])[:20],
        "shap": {k: v for k, v in (shap or {}).items() if k != "columns"} or None,
    }
    (out_dir / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True),
                                       encoding="utf-8")
