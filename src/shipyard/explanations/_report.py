"""An explanation report of a model on a dataset: config → calculation → JSON-safe report."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shipyard.bundle import InferencePipeline
from shipyard.errors import InvalidRequest
from shipyard.explanations._explainer import Explainer
from shipyard.explanations._explanation import Explanation, json_value
from shipyard.explanations._pdp import PartialDependence, partial_dependence

#: Columns whose partial dependence the report shows (the most important ones).
PDP_COLUMNS = 5
#: Contributions listed per local explanation in the JSON, at most (largest first).
LOCAL_COLUMNS = 20


@dataclass(frozen=True)
class ReportConfig:
    """What an explain job does: rows explained, rows shown as waterfalls, seed."""

    rows: int = 1000
    local_rows: int = 5
    seed: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ReportConfig:
        d = dict(d or {})
        unknown = sorted(set(d) - {"rows", "local_rows", "seed"})
        if unknown:
            raise InvalidRequest(f"explain.json has no setting {unknown[0]!r}; its settings are "
                                 "rows, local_rows and seed.")
        values: dict[str, int] = {}
        for name, low in (("rows", 1), ("local_rows", 0), ("seed", 0)):
            if name in d:
                v = d[name]
                if isinstance(v, bool) or not isinstance(v, int) or v < low:
                    raise InvalidRequest(f"explain.json's {name!r} must be a whole number "
                                         f">= {low}; got {v!r}.")
                values[name] = v
        return cls(**values)


@dataclass(frozen=True, eq=False)
class ExplainReport:
    """The calculated report: the explanation, its local rows and partial dependences."""

    explanation: Explanation
    local_rows: tuple[int, ...]
    predictions: pd.DataFrame
    partial_dependence: tuple[PartialDependence, ...]
    n_dataset_rows: int
    seconds: float
    model: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        e = self.explanation
        local = []
        for i in self.local_rows:
            row = e.row(i).to_dict()
            row["columns"] = sorted(row["columns"], key=lambda c: -max(
                abs(v or 0.0) for v in c["shap"]))[:LOCAL_COLUMNS]
            row["row"] = int(i)
            row["prediction"] = {str(k): json_value(v)
                                 for k, v in self.predictions.iloc[i].items()}
            local.append(row)
        return {"model": self.model, "method": e.method, "output_space": e.output_space,
                "outputs": list(e.outputs), "base_values": e.to_dict(rows=False)["base_values"],
                "rows_explained": len(e), "dataset_rows": self.n_dataset_rows,
                "columns": list(e.columns),
                "global_importance": e.to_dict(rows=False)["global_importance"],
                "local": local,
                "partial_dependence": [p.to_dict() for p in self.partial_dependence],
                "seconds": round(self.seconds, 3)}


def build_report(pipeline: InferencePipeline, df: pd.DataFrame, config: ReportConfig, *,
                 progress: Callable[[int, int], None] | None = None) -> ExplainReport:
    """Explain a seeded sample of ``df``'s rows, pick the local rows, and the top columns' PDPs.

    The background of KernelSHAP is ``df`` itself (summarised by k-means).
    """
    started = time.perf_counter()
    target = pipeline.manifest.get("target")
    data = df.drop(columns=[target], errors="ignore") if target else df
    if not len(data):
        raise InvalidRequest("The dataset holds no rows to explain.")
    rows = data.sample(min(config.rows, len(data)), random_state=config.seed) \
        .reset_index(drop=True)
    explainer = Explainer(pipeline, data, seed=config.seed)
    explanation = explainer.explain(rows, progress=progress)
    local = tuple(range(min(config.local_rows, len(rows))))
    predictions = pipeline.predict(rows.iloc[list(local)]).reset_index(drop=True) \
        if local else pd.DataFrame()
    top = [c for c, _ in explanation.global_importance()[:PDP_COLUMNS]]
    pdps = tuple(partial_dependence(pipeline, rows, c, seed=config.seed) for c in top
                 if rows[c].notna().any())
    framework = pipeline.manifest.get("framework")
    model = {"task": pipeline.task, "target": target, "classes": pipeline.classes,
             "framework": framework.get("name") if isinstance(framework, Mapping)
             else framework}
    return ExplainReport(explanation=explanation, local_rows=local, predictions=predictions,
                         partial_dependence=pdps, n_dataset_rows=len(data),
                         seconds=time.perf_counter() - started, model=model)
