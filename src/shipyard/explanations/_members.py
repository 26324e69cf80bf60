"""SHAP values of a regression ensemble as the weighted sum of its members' values.

SHAP values are linear in the model: the values of ``Σ w_i f_i`` are ``Σ w_i φ(f_i)``
(Lundberg & Lee 2017, the additivity property). A regression ensemble's prediction is
the weighted mean of its members' predictions, so each member may be explained by the
cheapest exact method it allows and the values added up by weight
(:class:`Explainer`'s ``additive`` method), instead of KernelSHAP re-running every member
on every masked row:

- ``tree``: an xgboost, lightgbm or catboost member on the target's own scale (no
  target transform): the library's exact TreeSHAP, in value space, summed back to raw
  columns through the member's lineage (as a single tree model is explained);
- ``linear``: a scikit-learn linear model (``coef_``, ``intercept_``) whose every feature
  comes from one raw column alone (:meth:`FittedRecipe.separable`): the model is
  additive in the raw columns, so a column's exact interventional SHAP value is its
  features' ``coef · (x - E_b[x])`` over the background rows ``b`` (what KernelSHAP
  converges to, at no cost per coalition). The formula is checked against the model's
  own predictions on the background when built;
- every other member (a log-target model, a random forest…): KernelSHAP of their
  weighted sum, over only the raw columns they read, in one run.

The base value is the members' expected outputs added by weight: the tree members'
over their training rows (TreeSHAP's cover), the rest's over the background. The values
still add up, row by row, to the ensemble's prediction minus that base.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle import EnsemblePipeline, InferencePipeline
from shipyard.explanations._tree import TREE_FRAMEWORKS, contributions

#: Relative tolerance of the linear member's check: ``X @ coef + intercept`` against its
#: own predictions on the background rows.
LINEAR_RTOL = 1e-6


def _linear(model: Any) -> bool:
    coef = getattr(model, "coef_", None)
    return type(model).__module__.startswith("sklearn.linear_model") and coef is not None \
        and np.ndim(coef) == 1 and hasattr(model, "intercept_")


def exact_kind(member: InferencePipeline) -> str | None:
    """How a regression ensemble's member is explained exactly: "tree", "linear", or None
    (KernelSHAP). A linear member qualifies only if each of its features comes from one
    raw column and from no other (not an expression of two, not a KNN imputation):
    else the model is not additive in them."""
    if member.task != "regression" or member.recipe.target_transform is not None:
        return None
    if member.framework.name in TREE_FRAMEWORKS:
        return "tree"
    if member.framework.name == "scikit-learn" and _linear(member.model) and all(
            len(sources) == 1 for sources in member.recipe.lineage().values()) and \
            member.recipe.separable():
        return "linear"
    return None


def parts(pipeline: InferencePipeline) -> list[tuple[float, InferencePipeline]]:
    """A model as a weighted sum of models: an ensemble's members, or the model alone."""
    if isinstance(pipeline, EnsemblePipeline):
        return list(pipeline.members)
    return [(1.0, pipeline)]


def additive(pipeline: InferencePipeline) -> bool:
    """Whether the ``additive`` method applies: a regression ensemble with a member that
    is explained exactly, or a linear regression model on its own (exact, as a member
    of one)."""
    if pipeline.task != "regression":
        return False
    if isinstance(pipeline, EnsemblePipeline):
        return any(exact_kind(m) is not None for _, m in pipeline.members)
    return exact_kind(pipeline) == "linear"


@dataclass
class _Exact:
    weight: float
    member: InferencePipeline
    kind: str
    matrix: np.ndarray  # the member's features × the explainer's raw columns
    mean: np.ndarray | None = None  # linear: the features' background mean


class Members:
    """A regression ensemble (or one linear model) split into exactly explained members
    and the rest.

    Args:
        pipeline: the ensemble, or the model alone (a member of weight 1).
        columns: the explainer's raw columns (every member's are among them).
        absent: required signature columns no feature reads, given as missing.
        matrix: ``lineage_matrix`` (features' lineage, columns) → features × columns.
    """

    def __init__(self, pipeline: InferencePipeline, columns: list[str],
                 absent: dict[str, float],
                 matrix: Callable[[dict[str, list[str]], list[str]], np.ndarray]) -> None:
        self.columns = columns
        self.absent = absent
        self.exact: list[_Exact] = []
        self.rest: list[tuple[float, InferencePipeline]] = []
        for weight, member in parts(pipeline):
            kind = exact_kind(member)
            if kind is None:
                self.rest.append((weight, member))
            else:
                self.exact.append(_Exact(weight, member, kind,
                                         matrix(member.recipe.lineage(), columns)))
        #: The raw columns KernelSHAP varies: those the rest's features read.
        self.kernel_columns = self._read_by_rest()

    def _read_by_rest(self) -> list[str]:
        used = {c for _, m in self.rest for s in m.recipe.lineage().values() for c in s}
        return [c for c in self.columns if c in used]

    @property
    def needs_background(self) -> bool:
        return bool(self.rest) or any(p.kind == "linear" for p in self.exact)

    def _full(self, raw: pd.DataFrame) -> pd.DataFrame:
        """``raw`` with every column a member may ask for (those it lacks as missing)."""
        missing = {c: np.nan for c in [*self.columns, *self.absent] if c not in raw.columns}
        return raw.assign(**missing) if missing else raw

    def fit_background(self, background: pd.DataFrame, weights: np.ndarray) -> None:
        """The linear members' feature means over the (summarised) background, each
        member's formula checked against its own predictions there; a member that does
        not match joins the rest (KernelSHAP)."""
        keep: list[_Exact] = []
        for part in self.exact:
            if part.kind != "linear":
                keep.append(part)
                continue
            features = part.member.recipe.transform(self._full(background))
            X = features.to_numpy(dtype="float64")
            model = part.member.model
            mine = X @ np.asarray(model.coef_, dtype="float64") + float(model.intercept_)
            theirs = np.asarray(part.member.model_outputs(features)["value"], dtype="float64")
            if np.allclose(mine, theirs, rtol=LINEAR_RTOL, atol=LINEAR_RTOL * (
                    1.0 + float(np.abs(theirs).max(initial=0.0)))):
                part.mean = np.asarray(weights, dtype="float64") @ X
                keep.append(part)
            else:
                self.rest.append((part.weight, part.member))
        self.exact = keep
        self.kernel_columns = self._read_by_rest()

    def rest_outputs(self, raw: pd.DataFrame) -> np.ndarray:
        """The rest's weighted predictions of ``raw`` (rows × 1): what KernelSHAP explains."""
        full = self._full(raw)
        total = np.zeros(len(raw))
        for weight, member in self.rest:
            total += weight * np.asarray(member.outputs(full)["value"], dtype="float64")
        return total.reshape(-1, 1)

    def exact_values(self, raw: pd.DataFrame) -> tuple[np.ndarray, float]:
        """The exactly explained members' weighted values (rows × columns × 1) and base."""
        full = self._full(raw)
        values = np.zeros((len(raw), len(self.columns), 1))
        base = 0.0
        for part in self.exact:
            m = part.member
            X = m.recipe.transform(full)
            if part.kind == "tree":
                if not m.recipe.categorical_features:
                    X = X.to_numpy(dtype="float64")
                c = contributions(m.framework.name, m.model, X, m.recipe.feature_names)
                values += part.weight * np.einsum("nfk,fr->nrk", c[:, :-1, :], part.matrix)
                base += part.weight * (float(c[0, -1, 0]) if len(c) else 0.0)
            else:
                assert part.mean is not None
                coef = np.asarray(m.model.coef_, dtype="float64")
                phi = (X.to_numpy(dtype="float64") - part.mean) * coef  # rows × features
                values[:, :, 0] += part.weight * (phi @ part.matrix)
                base += part.weight * (float(part.mean @ coef) + float(m.model.intercept_))
        return values, base

    def describe(self) -> dict[str, Any]:
        """JSON-safe: each member's method and weight (for a record)."""
        return {"exact": [{"kind": p.kind, "weight": p.weight,
                           "algorithm": p.member.manifest.get("algorithm")}
                          for p in self.exact],
                "kernel": [{"weight": w, "algorithm": m.manifest.get("algorithm")}
                           for w, m in self.rest]}
