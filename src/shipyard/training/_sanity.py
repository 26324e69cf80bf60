"""What a finished training is told about itself: chance level, too good to be true, too big,
judged on too few rows.

A job that completes with a model no better than a coin, or a bundle too large to
serve comfortably, must say so loudly: a ``WARNING`` line in the job log, a
``warnings`` entry in the evaluation (and the manifest), and, for size, the model
card. Pure functions: metrics and sizes in, sentences out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.evaluation import scalar_metrics

#: ROC AUC this close to 0.5 is chance level.
CHANCE_AUC_MARGIN = 0.02
#: A score at least this close to perfect (ROC AUC, R²) on a split of at least
#: :data:`SUSPECT_MIN_ROWS` rows is more often a leak than a solved problem.
SUSPECT_MARGIN = 0.001
SUSPECT_MIN_ROWS = 50
#: A split judged on fewer rows than this (or, for classification, fewer rows of some class
#: than :data:`SMALL_SPLIT_CLASS_ROWS`) gives metrics one row can swing: with 30 rows one
#: more row right moves accuracy by 0.033, and the standard error of an accuracy of 0.8 is
#: 0.07.
SMALL_SPLIT_ROWS = 30
SMALL_SPLIT_CLASS_ROWS = 10
#: Bundles above this size are called out (``SHIPYARD_BUNDLE_SIZE_WARNING_MB`` on a server).
BUNDLE_SIZE_WARNING = 100 * 1024**2
MB = 1024**2


def size_text(n: float) -> str:
    """Bytes for people: ``"240 MB"``, ``"1.5 MB"``, ``"29 KB"`` (binary units)."""
    if n >= 10 * MB:
        return f"{n / MB:,.0f} MB"
    if n >= MB:
        return f"{n / MB:.1f} MB"
    return f"{n / 1024:,.0f} KB"


def _judged_split(metrics: Mapping[str, Mapping[str, Any]]) -> str | None:
    for split in ("test", "validation"):
        if metrics.get(split):
            return split
    return None


def chance_warnings(problem_type: str, metrics: Mapping[str, Mapping[str, Any]],
                    baseline: Mapping[str, Mapping[str, Any]],
                    dropped: Sequence[str] = ()) -> list[str]:
    """Sentences for a model at chance level on its test split (else validation).

    Classification: ROC AUC within :data:`CHANCE_AUC_MARGIN` of 0.5, or accuracy no
    better than always predicting the most frequent class. Regression: R² ≤ 0 (no
    better than predicting the training mean). ``dropped`` names the columns the
    recipe dropped, the usual cause.
    """
    split = _judged_split(metrics)
    if split is None:
        return []
    m = scalar_metrics(metrics[split])
    base = scalar_metrics(baseline.get(split) or {})
    cause = (f" The recipe dropped {', '.join(dropped[:8])}"
             + (f" and {len(dropped) - 8} more" if len(dropped) > 8 else "")
             + "; the job log says why: keep an informative column with a recipe "
               "(recipe, --recipe on the CLI) if one was dropped." if dropped else
             " Check that the features can explain the target.")
    out = []
    if problem_type in ("binary", "multiclass"):
        auc = m.get("roc_auc")
        if auc is not None and abs(auc - 0.5) <= CHANCE_AUC_MARGIN:
            out.append(f"The {split} ROC AUC {auc:.3f} is at chance level (0.5 ± "
                       f"{CHANCE_AUC_MARGIN}): the model ranks rows no better than a coin."
                       + cause)
        acc, majority = m.get("accuracy"), base.get("accuracy")
        if acc is not None and majority is not None and acc <= majority:
            ranks = auc is not None and auc > 0.5 + CHANCE_AUC_MARGIN
            out.append(
                f"The {split} accuracy {acc:.3f} is no better than always predicting the most "
                f"frequent class ({majority:.3f})."
                + (f" Its ROC AUC {auc:.3f} says the ranking may still help: choose a "
                   "decision threshold, or balance the classes." if ranks else cause))
    elif problem_type == "regression":
        r2 = m.get("r2")
        if r2 is not None and r2 <= 0:
            out.append(f"The {split} R² {r2:.3f} is at most 0: the model predicts no better "
                       "than the training mean." + cause)
    return out


def small_split_warnings(problem_type: str,
                         metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A sentence when the test split (else validation) has too few rows to trust its
    metrics: fewer than :data:`SMALL_SPLIT_ROWS`, or for classification fewer than
    :data:`SMALL_SPLIT_CLASS_ROWS` of some class (recall and F1 of a class with 3 rows move
    by a third per row)."""
    split = _judged_split(metrics)
    if split is None or problem_type not in ("binary", "multiclass", "regression"):
        return []
    rows = int(metrics[split].get("n_samples") or 0)
    support = {str(name): int(c.get("support") or 0)
               for name, c in (metrics[split].get("per_class") or {}).items()}
    few = {name: n for name, n in support.items() if n < SMALL_SPLIT_CLASS_ROWS}
    if rows >= SMALL_SPLIT_ROWS and not few:
        return []
    classes = ""
    if few:
        shown = sorted(few.items(), key=lambda kv: kv[1])[:3]
        classes = (f", with {', '.join(f'{n} of class {name!r}' for name, n in shown)}"
                   + (f" and {len(few) - 3} more {'class' if len(few) == 4 else 'classes'} "
                      f"(each fewer than {SMALL_SPLIT_CLASS_ROWS})" if len(few) > 3
                      else f" (fewer than {SMALL_SPLIT_CLASS_ROWS})"))
    return [f"The {split} metrics rest on {rows} {'row' if rows == 1 else 'rows'}{classes}: "
            + (f"one row predicted differently moves accuracy by {1 / max(rows, 1):.2f}"
               if support else f"one row's error is 1/{max(rows, 1)} of every mean reported")
            + ", so they cannot be trusted. Give the split a larger share or more rows "
            f"(at least {SMALL_SPLIT_ROWS} rows"
            + (f" and {SMALL_SPLIT_CLASS_ROWS} of each class" if support else "")
            + "; split 0.6,0.2,0.2, --split on the CLI), or cross-validate "
            "(cv_folds 5, --cv-folds on the CLI) and judge the out-of-fold validation metrics."]


def sanity_warnings(problem_type: str, test: Mapping[str, Any], y_fit: Any, y_test: Any,
                    classes: Sequence[str] | None, leaders: Sequence[str],
                    target: str) -> list[str]:
    """What a training job says of a model at chance level or too good to be true, said of
    a model scored on ``test`` alone (an AutoML job's final model): its baseline predicts
    the classes (or the mean) of ``y_fit``, the rows it was fitted on."""
    from shipyard.evaluation import baseline_metrics

    base = baseline_metrics(problem_type, y_fit, y_test, classes)
    return [*chance_warnings(problem_type, {"test": test}, {"test": base}),
            *leak_warnings(problem_type, {"test": test}, leaders, None, target),
            *small_split_warnings(problem_type, {"test": test})]


def leak_warnings(problem_type: str, metrics: Mapping[str, Mapping[str, Any]],
                  top_features: Sequence[str] = (), dataset: str | None = None,
                  target: str | None = None) -> list[str]:
    """A sentence for a score too good to be true on its test split (else validation).

    A near-perfect ROC AUC (classification) or R² (regression) on a split of at least
    :data:`SUSPECT_MIN_ROWS` rows: real problems rarely allow it, a column that is known
    only once the outcome is (hours worked, for "did she work") usually does. Small
    splits are left alone (a perfect score on 20 iris rows is ordinary).
    """
    split = _judged_split(metrics)
    if split is None:
        return []
    m = scalar_metrics(metrics[split])
    name = {"binary": "ROC AUC", "multiclass": "ROC AUC", "regression": "R²"}.get(problem_type)
    score = m.get("r2" if problem_type == "regression" else "roc_auc")
    if name is None or score is None or score < 1 - SUSPECT_MARGIN \
            or (m.get("n_samples") or 0) < SUSPECT_MIN_ROWS:
        return []
    leaders = f" The model leans most on {', '.join(top_features[:3])}." if top_features else ""
    profile = (f" `shipyard datasets profile {dataset} --target {target}` scores each column on "
               "its own and names the likely leaks." if dataset and target else "")
    return [f"The {split} {name} {score:.3f} is near perfect: real problems rarely allow "
            "that, so a feature may leak the target (a value known only once the outcome is)."
            + leaders + profile + " Drop such columns (drop, --drop on the CLI) unless they "
            "are known at prediction time."]


def size_warning(size: int, threshold: int, algorithm: str, size_drivers: str,
                 hyperparameters: Mapping[str, Any]) -> str | None:
    """A sentence when a bundle of ``size`` bytes is over ``threshold``, naming what drives it."""
    if size <= threshold:
        return None
    named = [h for h in hyperparameters if re.search(rf"\b{re.escape(h)}\b", size_drivers)]
    settings = ", ".join(f"{h}={hyperparameters[h]}" for h in named)
    why = (f" {algorithm}'s size grows with {size_drivers}" if size_drivers else
           f" {algorithm}'s size grows with its features")
    return (f"The model bundle is {size_text(size)}, over {size_text(threshold)}:{why}"
            + (f" (here {settings})" if settings else "")
            + "; lower those to shrink it, as a large bundle is slow to load, copy and serve.")
