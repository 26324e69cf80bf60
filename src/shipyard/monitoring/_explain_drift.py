"""Bias drift and attribution drift: two monitor checks on live traffic (docs/monitoring.md).

**Bias drift** (monitor setting ``bias``): the post-training bias metrics
(:mod:`shipyard.fairness`) of the window's labelled predictions (captured predictions
joined with the uploaded ground truth, grouped by the captured facet input) against
the same metrics of the model on the baseline's held-out rows. A metric alerts when it
moves more than ``tolerance`` (default 0.1) from its baseline value. Settings::

    {"bias": {"facet": "senior_citizen", "facet_values": [1], "positive": ["Yes"],
              "metrics": ["DPPL", "DI", "AD", "RD"], "tolerance": 0.1}}

**Attribution drift** (setting ``attribution``): the global SHAP importances
(mean |SHAP| per raw input column, :mod:`shipyard.explanations`) of a sample of the window's
inputs against those of the baseline rows, scored by NDCG as the managed service
does: ``DCG = Σ_i a(s_i) / log2(i + 1)`` over the window's ranking ``s_1, s_2, …``
with ``a`` the baseline attributions, divided by the same sum over the baseline's own
ranking. 1 means the same order; an alert fires below ``threshold`` (default 0.90)::

    {"attribution": {"threshold": 0.9, "rows": 500}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.errors import InvalidRequest

#: Post-training metrics bias drift watches by default (FT needs counterfactual
#: predictions, so it is left to bias jobs).
DEFAULT_BIAS_METRICS = ("DPPL", "DI", "AD", "RD", "DAR", "DRR")
DRIFTABLE_BIAS_METRICS = ("DPPL", "DI", "DCAcc", "DCR", "SD", "RD", "DAR", "DRR", "AD", "TE",
                          "CDDPL", "GE")
DEFAULT_TOLERANCE = 0.1
DEFAULT_NDCG_THRESHOLD = 0.9
DEFAULT_ATTRIBUTION_ROWS = 500
MAX_ATTRIBUTION_ROWS = 20_000
_BIAS_KEYS = ("facet", "facet_values", "facet_threshold", "positive", "label_threshold",
              "group", "metrics", "tolerance")
_ATTRIBUTION_KEYS = ("threshold", "rows")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"{what} must be a number; got {value!r}.")
    return float(value)


def check_bias_settings(doc: Any) -> dict[str, Any]:
    """The monitor's ``bias`` settings, checked (400 naming the field)."""
    if not isinstance(doc, Mapping):
        raise InvalidRequest("bias must be an object such as {\"facet\": \"sex\", "
                             "\"facet_values\": [\"female\"], \"positive\": [\"yes\"]}.")
    unknown = sorted(set(doc) - set(_BIAS_KEYS))
    if unknown:
        raise InvalidRequest(f"bias has no setting {unknown[0]!r}; its settings are "
                             f"{', '.join(_BIAS_KEYS)}.")
    out = {k: v for k, v in doc.items() if v is not None}
    if not isinstance(out.get("facet"), str) or not out["facet"]:
        raise InvalidRequest("bias needs its facet: the input column whose groups are "
                             "compared, e.g. {\"facet\": \"sex\"}.")
    if "facet_values" in out and "facet_threshold" in out:
        raise InvalidRequest("bias: the facet's group is facet_values or facet_threshold, "
                             "not both.")
    for key in ("facet_values", "positive"):
        if key in out and (not isinstance(out[key], list) or not out[key] or not all(
                isinstance(v, str | int | float | bool) for v in out[key])):
            raise InvalidRequest(f"bias: {key} is a non-empty list of values; got "
                                 f"{out[key]!r}.")
    if "positive" in out and "label_threshold" in out:
        raise InvalidRequest("bias: a positive label is 'positive' or 'label_threshold', "
                             "not both.")
    for key in ("facet_threshold", "label_threshold"):
        if key in out:
            out[key] = _number(out[key], f"bias: {key}")
    if "tolerance" in out:
        out["tolerance"] = _number(out["tolerance"], "bias: tolerance")
        if out["tolerance"] <= 0:
            raise InvalidRequest("bias: tolerance is a positive number, e.g. 0.1.")
    metrics = out.get("metrics", list(DEFAULT_BIAS_METRICS))
    if not isinstance(metrics, list) or not metrics:
        raise InvalidRequest(f"bias: metrics is a list of {', '.join(DRIFTABLE_BIAS_METRICS)}.")
    bad = [m for m in metrics if m not in DRIFTABLE_BIAS_METRICS]
    if bad:
        raise InvalidRequest(f"bias: {bad[0]!r} is not a metric bias drift watches; use "
                             f"{', '.join(DRIFTABLE_BIAS_METRICS)}.")
    out["metrics"] = list(metrics)
    return out


def check_attribution_settings(doc: Any) -> dict[str, Any]:
    """The monitor's ``attribution`` settings, checked (400 naming the field)."""
    if doc is True:
        doc = {}
    if not isinstance(doc, Mapping):
        raise InvalidRequest("attribution must be an object such as {\"threshold\": 0.9}.")
    unknown = sorted(set(doc) - set(_ATTRIBUTION_KEYS))
    if unknown:
        raise InvalidRequest(f"attribution has no setting {unknown[0]!r}; its settings are "
                             f"{', '.join(_ATTRIBUTION_KEYS)}.")
    threshold = _number(doc.get("threshold", DEFAULT_NDCG_THRESHOLD), "attribution: threshold")
    if not 0 < threshold <= 1:
        raise InvalidRequest("attribution: threshold is an NDCG between 0 and 1, e.g. 0.9.")
    rows = doc.get("rows", DEFAULT_ATTRIBUTION_ROWS)
    if isinstance(rows, bool) or not isinstance(rows, int) or not \
            10 <= rows <= MAX_ATTRIBUTION_ROWS:
        raise InvalidRequest(f"attribution: rows is a whole number from 10 to "
                             f"{MAX_ATTRIBUTION_ROWS}; got {rows!r}.")
    return {"threshold": threshold, "rows": rows}


def check_monitor_columns(settings: dict[str, Any], inputs: Sequence[str],
                          manifest: Mapping[str, Any]) -> None:
    """Bias drift groups by captured inputs: its facet and group must be model inputs.

    A binary classifier's positive label defaults to its second class (the one its
    probability is of); any other model must say what is positive.
    """
    bias = settings.get("bias")
    if not bias:
        return
    task = manifest.get("task")
    if task not in ("classification", "regression"):
        raise InvalidRequest(f"bias drift needs a model that predicts the label; this one "
                             f"does {task}.")
    for role in ("facet", "group"):
        name = bias.get(role)
        if name is not None and name not in inputs:
            raise InvalidRequest(
                f"bias: the {role} {name!r} is not an input of the served model, so the "
                f"endpoint does not capture it; its inputs are {', '.join(inputs[:12])}.")
    if "positive" not in bias and "label_threshold" not in bias:
        classes = list(manifest.get("classes") or [])
        if task == "classification" and len(classes) == 2:
            bias["positive"] = [classes[1]]
        else:
            raise InvalidRequest("bias: say which label is positive: positive (label "
                                 "values) or label_threshold (a number).")
    if task == "regression" and "label_threshold" not in bias:
        raise InvalidRequest("bias: the model predicts a number; give label_threshold "
                             "(above it is the positive outcome).")


def ndcg(baseline: Mapping[str, float], current: Mapping[str, float]) -> float:
    """NDCG of the window's importance ranking against the baseline's attributions.

    ``DCG = Σ_i a(s_i) / log2(i + 1)`` where ``s_i`` is the column at rank ``i``
    (from 1) of ``current`` and ``a`` its baseline attribution; divided by the ideal
    DCG (the baseline's own order). In [0, 1]; 1 when the orders agree. Columns only
    one side has count 0 for the other.
    """
    a = {k: abs(float(v)) for k, v in baseline.items()}
    ranked = sorted(current, key=lambda k: (-abs(float(current[k])), k))
    dcg = sum(a.get(col, 0.0) / math.log2(i + 2) for i, col in enumerate(ranked))
    ideal = sum(v / math.log2(i + 2) for i, v in enumerate(sorted(a.values(), reverse=True)))
    return 1.0 if ideal == 0 else dcg / ideal


def _alert(kind: str, check: str, column: str | None, observed: Any, threshold: Any,
           message: str) -> Any:
    from shipyard.monitoring._alerts import Alert

    return Alert(kind=kind, check=check, column=column, observed=observed,
                 threshold=threshold, message=message)


def _bias_config(settings: Mapping[str, Any], label: str) -> Any:
    from shipyard.fairness import BiasConfig

    keys = ("facet", "facet_values", "facet_threshold", "positive", "label_threshold",
            "group")
    return BiasConfig(label=label, **{k: settings[k] for k in keys if settings.get(k)
                                      is not None})


def _post_values(report: Any, metrics: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Facet split → metric → value (None with no value) of a bias report."""
    out: dict[str, dict[str, Any]] = {}
    for f in report.facets:
        out[f.facet] = {m.code: m.value for m in f.post or () if m.code in metrics}
    return out


def bias_drift(settings: Mapping[str, Any], *, baseline: Any, baseline_predicted: Any,
               label: str, window: Any, min_rows: int = 30) -> tuple[dict[str, Any], list[Any]]:
    """The post-training bias metrics of the window against the baseline's (see the module).

    Args:
        baseline: the baseline's held-out rows (the label column ``label`` and the facet).
        baseline_predicted: the model's predicted labels on them.
        window: the labelled predictions: the facet (and group) inputs, ``prediction``
            and the true ``label``.
    """
    from shipyard.fairness import bias_report

    metrics = list(settings.get("metrics") or DEFAULT_BIAS_METRICS)
    tolerance = float(settings.get("tolerance") or DEFAULT_TOLERANCE)
    config = _bias_config(settings, label)
    base = _post_values(bias_report(baseline, config, baseline_predicted, features=[]),
                        metrics)
    doc: dict[str, Any] = {"facet": config.facet, "metrics": metrics, "tolerance": tolerance,
                           "baseline": base, "current": None, "n_labelled": len(window),
                           "note": None}
    if len(window) < min_rows:
        doc["note"] = (f"{len(window)} labelled predictions in the window, fewer than "
                       f"{min_rows}: bias drift is not measured")
        return doc, []
    frame = window.rename(columns={"label": "__label__"})
    current_config = _bias_config(settings, "__label__")
    try:
        report = bias_report(frame, current_config, frame["prediction"].to_numpy(),
                             features=[])
    except InvalidRequest as exc:  # e.g. the window holds one facet group only
        doc["note"] = f"bias drift is not measured: {exc.message}"
        return doc, []
    current = _post_values(report, metrics)
    doc["current"] = current
    alerts = []
    for split, values in current.items():
        for code, value in values.items():
            before = base.get(split, {}).get(code)
            if value is None or before is None:
                continue
            if abs(value - before) > tolerance:
                alerts.append(_alert(
                    "bias_drift", code, config.facet, round(value, 6), round(before, 6),
                    f"Bias drift on {split}: {code} is {value:.3g} on the window against "
                    f"{before:.3g} on the baseline (more than {tolerance:g} apart)."))
    return doc, alerts


def importance_of(pipeline: Any, rows: Any, background: Any, seed: int = 0) -> dict[str, float]:
    """Mean |SHAP| per raw input column of ``rows`` (TreeSHAP for tree models, else
    KernelSHAP against ``background``)."""
    from shipyard.explanations import Explainer

    explanation = Explainer(pipeline, background=background).explain(rows)
    return {str(k): float(v) for k, v in explanation.global_importance()}


def attribution_drift(settings: Mapping[str, Any], *, pipeline: Any, baseline: Any,
                      window: Any, seed: int = 0) -> tuple[dict[str, Any], list[Any]]:
    """NDCG of the window's SHAP importance ranking against the baseline's."""
    threshold = float(settings.get("threshold", DEFAULT_NDCG_THRESHOLD))
    rows = int(settings.get("rows", DEFAULT_ATTRIBUTION_ROWS))
    doc: dict[str, Any] = {"threshold": threshold, "ndcg": None, "baseline": None,
                           "current": None, "rows": None}
    if len(window) == 0:
        doc["note"] = "no traffic in the window: attribution drift is not measured"
        return doc, []
    base = baseline.sample(min(rows, len(baseline)), random_state=seed)
    current = window.sample(min(rows, len(window)), random_state=seed)
    background = baseline.sample(min(100, len(baseline)), random_state=seed + 1)
    before = importance_of(pipeline, base, background, seed)
    after = importance_of(pipeline, current, background, seed)
    score = ndcg(before, after)
    doc.update(ndcg=round(score, 6), rows={"baseline": len(base), "current": len(current)},
               baseline=dict(sorted(before.items(), key=lambda kv: -kv[1])),
               current=dict(sorted(after.items(), key=lambda kv: -kv[1])))
    if score >= threshold:
        return doc, []
    top_before = next(iter(doc["baseline"]), None)
    top_after = next(iter(doc["current"]), None)
    return doc, [_alert(
        "attribution_drift", "ndcg", None, round(score, 6), threshold,
        f"Attribution drift: the ranking of input columns by mean |SHAP| moved (NDCG "
        f"{score:.3f} < {threshold:g}); the top column was {top_before!r} on the baseline "
        f"and is {top_after!r} on the window.")]
