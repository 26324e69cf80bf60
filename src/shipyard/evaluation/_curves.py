"""Per-iteration training curves, in one shape for every library that records them.

A curve is a list of floats, one per iteration (boosting round, epoch), keyed
``"<split>.<metric>"``: ``{"train.logloss": [...], "validation.logloss": [...]}``.
That is what :func:`plot_learning_curve` draws and what a training job logs as
``curve.<split>.<metric>`` with a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import nums

#: Names the libraries give the data sets they evaluate, mapped to Shipyard split names
#: (CatBoost: learn/validation; LightGBM: training when it is the training data itself).
#: Positional names (XGBoost's ``validation_<i>``, LightGBM's ``valid_<i>``) follow the
#: order of the evaluation sets, so the caller names them (or passes eval_names).
DEFAULT_SPLIT_NAMES: dict[str, str] = {
    "learn": "train", "training": "train", "train": "train",
    "validation": "validation", "valid": "validation", "test": "test",
}


def curves_from_evals(
    evals: Mapping[str, Any], *, split_names: Mapping[str, str] | None = None
) -> dict[str, list[float | None]]:
    """Flatten a library's evaluation history into ``{"<split>.<metric>": values}``.

    Args:
        evals: ``{data set: {metric: values}}`` as XGBoost's ``evals_result()``,
            LightGBM's ``evals_result_`` and CatBoost's ``get_evals_result()`` give
            it; a flat ``{name: values}`` is kept as it is.
        split_names: data set name → split name, over :data:`DEFAULT_SPLIT_NAMES`
            (e.g. ``{"validation_0": "train", "validation_1": "validation"}``).

    Raises:
        InvalidRequest: values that are not sequences of numbers.
    """
    names = {**DEFAULT_SPLIT_NAMES, **(split_names or {})}
    out: dict[str, list[float | None]] = {}
    for data_set, metrics in evals.items():
        if not isinstance(metrics, Mapping):
            out[str(data_set)] = _values(metrics, str(data_set))
            continue
        split = names.get(str(data_set), str(data_set))
        for metric, values in metrics.items():
            key = f"{split}.{metric}"
            out[key] = _values(values, key)
    return out


def _values(values: Any, key: str) -> list[float | None]:
    if isinstance(values, str | bytes | Mapping):
        raise InvalidRequest(f"Curve {key!r} must be a list of numbers; got {values!r}.")
    try:
        return nums(list(values))
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"Curve {key!r} must be a list of numbers; got {values!r}.") from exc
