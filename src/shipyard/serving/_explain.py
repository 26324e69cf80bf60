"""Online explanations: ``POST /invocations?explain=true`` answers each row's SHAP values.

Nothing is built until the first request asks: a plain invocation never touches this
module's state, so the fast path's latency does not change. The explainer
(:class:`shipyard.explanations.Explainer`) is built once, on the first ``explain=true``,
from the loaded pipeline: exact TreeSHAP through the model library's own
contributions for xgboost, lightgbm and catboost (no background data needed); for a
regression ensemble with such members or linear ones, their exact values added up by
weight and KernelSHAP only for the rest (the ``additive`` method); for any other model
(and classification ensembles), KernelSHAP in probability space. The background of
KernelSHAP and of the linear members is the row of typical training values the
model's input signature records (each column's median or most frequent value; no
training row is in a bundle). A model trained before those
were recorded answers 400, naming ``shipyard explain`` (a job over a dataset) instead.

Each row's explanation is over the raw input columns (encoded columns summed back):
``{"output", "space", "base_value", "values": {column: shap}}`` with base value plus
the values equal to the model's output for that row in ``space``: for trees the
positive class's log-odds (binary) or the predicted class's margin (multiclass); for
KernelSHAP that class's probability; for regression the value.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.serving._codec import Table

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.serving._predictor import Predictor

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})
#: KernelSHAP coalitions per explained row online (paired samples; every coalition when a
#: model has at most 7 input columns). The values stay exactly additive; sampling error
#: on churn's logistic model is about 3% of a value's mean size (docs/explain.md).
ONLINE_COALITIONS = 128
#: Frameworks whose models an endpoint explains exactly (their own TreeSHAP).
TREE_FRAMEWORKS = frozenset({"xgboost", "lightgbm", "catboost"})


def wants_explanations(query: bytes | str) -> bool:
    """Whether the query string asks for explanations (``explain=true``).

    Raises:
        InvalidRequest: ``explain`` has a value other than true or false.
    """
    if not query:
        return False
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    asked = False
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key != "explain":
            continue
        word = value.strip().lower()
        if word in _TRUE:
            asked = True
        elif word in _FALSE:
            asked = False
        else:
            raise InvalidRequest(f"explain={value!r}: use explain=true (each row's SHAP "
                                 "values with its prediction) or explain=false.")
    return asked


def framework_name(pipeline: Any) -> str:
    fw = pipeline.manifest.get("framework")
    return str(fw.get("name", "") if isinstance(fw, dict) else fw or "")


class OnlineExplainer:
    """The endpoint's explainer, built on the first request that asks for one."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self._explainer: Any = None
        self._lock = threading.Lock()

    def tree(self) -> bool:
        return getattr(self.pipeline, "members", None) is None and \
            framework_name(self.pipeline) in TREE_FRAMEWORKS

    def check(self) -> None:
        """Refuse (400) a model the endpoint cannot explain, before predicting."""
        if self.pipeline.task == "forecasting":
            raise InvalidRequest(
                "A forecast endpoint does not explain its forecasts: each is made from the "
                "series' stored history, not from the row's columns; drop explain=true.")
        if self.tree():
            return
        from shipyard.explanations import typical_row

        if typical_row(self.pipeline) is None:
            raise InvalidRequest(
                "This endpoint's model was trained before Shipyard recorded each input "
                "column's typical value, which online KernelSHAP explains against; retrain "
                "it, or explain it over a dataset with `shipyard explain GROUP:VERSION "
                "--dataset DATASET`.")

    def explainer(self, predictor: Predictor) -> Any:
        if self._explainer is None:
            with self._lock:
                if self._explainer is None:
                    from shipyard.explanations import Explainer, resolve_method

                    self._explainer = Explainer(self.pipeline, method="tree") if self.tree() \
                        else Explainer(self.pipeline, self.background(predictor),
                                       method=resolve_method(self.pipeline),
                                       background_size=1, n_coalitions=ONLINE_COALITIONS)
        return self._explainer

    def background(self, predictor: Predictor) -> pd.DataFrame:
        """The typical row, checked as a request's rows are: the rows explained are checked
        rows (a yes/no column reads 1.0/0.0), so a background holding the recorded word
        ("no") would mix the two in KernelSHAP's masked rows and fail to predict."""
        from shipyard.explanations import typical_row

        typical = typical_row(self.pipeline)
        if typical is None:  # check() refused it before any request got here
            raise InvalidRequest("This endpoint's model has no typical input values to "
                                 "explain against; explain it over a dataset with "
                                 "`shipyard explain GROUP:VERSION --dataset DATASET`.")
        records = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
                   for r in typical.to_dict("records")]
        rows = predictor.schema.check(Table(tuple(typical.columns), records))
        return predictor.frame(rows)

    def explain(self, predictor: Predictor, rows: list[dict[str, Any]],
                proba: np.ndarray | None) -> list[dict[str, Any]]:
        """Each row's explanation (see the module's doc); ``proba`` picks a multiclass
        row's predicted class.

        With the serving fast path compiled and no native categorical features, the
        features are its per-row matrix (the same numbers the prediction used, without the
        recipe's DataFrame path: about 1 ms a row instead of 15); else the recipe builds
        them from the checked rows (a library's TreeSHAP reads categories as pandas
        categories, not as the fast path's codes).
        """
        explainer = self.explainer(predictor)
        if predictor.fast is not None and explainer.method == "tree" \
                and not self.pipeline.recipe.categorical_features:
            exp = explainer.explain_features(predictor.fast.matrix(rows))
        else:
            exp = explainer.explain(predictor.frame(rows))
        values = np.asarray(exp.values, dtype="float64")
        if values.ndim == 2:
            values = values[:, :, None]
        base = np.asarray(exp.base_values, dtype="float64")
        outputs = list(exp.outputs)
        columns = list(exp.columns)
        picks = (np.argmax(proba, axis=1) if proba is not None and len(outputs) > 1
                 else np.zeros(len(values), dtype=int))
        answers = []
        for i, k in enumerate(picks.tolist()):
            b = base[i, k] if base.ndim == 2 else (base[k] if base.ndim == 1 else float(base))
            answers.append({"output": outputs[k], "space": exp.output_space,
                            "base_value": float(b),
                            "values": dict(zip(columns, values[i, :, k].tolist(),
                                               strict=True))})
        return answers
