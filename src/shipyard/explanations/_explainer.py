"""The reusable explainer of a loaded bundle: built once, then ``explain(rows)`` per call.

``method="tree"`` (the default for xgboost, lightgbm and catboost bundles) asks the
library for exact TreeSHAP on the model's features, in the margin space, and sums
the values back to raw input columns through the recipe's lineage
(:meth:`shipyard.features.FittedRecipe.lineage`). A feature computed from several
raw columns (an expression of two columns, an age against a reference column) has its
value split equally among them: SHAP has no finer answer without re-running the model,
and the split keeps the row's values adding up to its output.

``method="kernel"`` (every other model, and classification ensembles) runs KernelSHAP
over the raw columns themselves (:mod:`shipyard.explanations._kernel`), in probability
space for a classifier: no lineage is needed, an absent raw column is replaced by
background rows and the whole pipeline predicts.

``method="additive"`` (the default for a regression ensemble with a boosting or linear
member, and for a linear regression model alone) explains each member by the cheapest
exact method it allows and adds the values up by weight, KernelSHAP running only the
members left (:mod:`shipyard.explanations._members`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle import EnsemblePipeline, InferencePipeline
from shipyard.errors import InvalidRequest
from shipyard.explanations._explanation import Explanation
from shipyard.explanations._kernel import DEFAULT_BATCH_ROWS, kernel_shap
from shipyard.explanations._members import Members, additive
from shipyard.explanations._tree import TREE_FRAMEWORKS, contributions, margin

METHODS = ("auto", "tree", "kernel", "additive")
SUMMARIES = ("kmeans", "sample")
#: Cells (rows × the widest of raw columns and features) of one KernelSHAP batch, about.
BATCH_CELLS = 20_000_000
#: Background rows KernelSHAP averages over, by default.
BACKGROUND_SIZE = 50


def _pipelines(pipeline: InferencePipeline) -> list[InferencePipeline]:
    if isinstance(pipeline, EnsemblePipeline):
        return [m for _, m in pipeline.members]
    return [pipeline]


def raw_columns(pipeline: InferencePipeline) -> list[str]:
    """The raw input columns some feature of the model is computed from, signature order."""
    used: set[str] = set()
    for p in _pipelines(pipeline):
        for sources in p.recipe.lineage().values():
            used.update(sources)
    return [str(e["name"]) for e in pipeline.input_signature if e["name"] in used]


def typical_row(pipeline: InferencePipeline) -> pd.DataFrame | None:
    """One row of the model's typical training values (each raw column's median or most
    frequent value, recorded in its input signature at training; see
    :func:`shipyard.features._recipe.typical_value`), or None for a model trained before
    they were recorded. KernelSHAP against this row needs no training data at hand: an
    endpoint's baseline, as a managed service's online explainer takes a baseline row."""
    entries = {str(e["name"]): e for e in pipeline.input_signature}
    columns = raw_columns(pipeline)
    if any("typical" not in entries[c] for c in columns):
        return None
    return pd.DataFrame({c: pd.Series([entries[c]["typical"]], dtype="object"
                                      if not isinstance(entries[c]["typical"], float) else
                                      "float64") for c in columns})


def lineage_matrix(lineage: dict[str, list[str]], columns: list[str]) -> np.ndarray:
    """features × raw columns: a feature's share of each raw column it comes from (rows sum to
    1; a feature from k columns gives each 1/k)."""
    where = {c: j for j, c in enumerate(columns)}
    L = np.zeros((len(lineage), len(columns)))
    for i, sources in enumerate(lineage.values()):
        for c in sources:
            L[i, where[c]] = 1.0 / len(sources)
    return L


def summarise_background(pipeline: InferencePipeline, df: pd.DataFrame, size: int, *,
                         summary: str = "kmeans", seed: int = 0,
                         ) -> tuple[pd.DataFrame, np.ndarray]:
    """``size`` representative raw rows of ``df`` and their weights (sum 1).

    ``kmeans``: k-means on the model's features (the first member's, for an ensemble),
    and for each cluster the real row nearest its centre, weighted by the cluster's
    size: real rows, so every raw value is one the recipe can read. ``sample``: a seeded
    sample, equal weights.
    """
    if summary not in SUMMARIES:
        raise InvalidRequest(f"The background summary must be one of {list(SUMMARIES)}; "
                             f"got {summary!r}.")
    if len(df) == 0:
        raise InvalidRequest("The background holds no rows; give at least one row.")
    df = df.reset_index(drop=True)
    if len(df) <= size:
        return df, np.full(len(df), 1.0 / len(df))
    if summary == "sample":
        rows = df.sample(size, random_state=seed).reset_index(drop=True)
        return rows, np.full(size, 1.0 / size)
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    pool = df.sample(min(len(df), 20_000), random_state=seed).reset_index(drop=True)
    X = _pipelines(pipeline)[0].transform(pool)
    A = np.column_stack([pd.to_numeric(X[c].cat.codes if isinstance(
        X[c].dtype, pd.CategoricalDtype) else X[c], errors="coerce") for c in X.columns])
    A = np.nan_to_num(A.astype("float64"))
    spread = A.std(axis=0)
    A = (A - A.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    with warnings.catch_warnings():
        # Fewer distinct rows than clusters: some clusters stay empty and are dropped below.
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=size, n_init=1, random_state=seed).fit(A)
    counts = np.bincount(km.labels_, minlength=size).astype("float64")
    nearest = [int(np.argmin(((A - c) ** 2).sum(axis=1))) for c in km.cluster_centers_]
    keep = counts > 0
    rows = pool.iloc[np.asarray(nearest)[keep]].reset_index(drop=True)
    return rows, counts[keep] / counts[keep].sum()


def resolve_method(pipeline: InferencePipeline, method: str = "auto") -> str:
    """The SHAP method :class:`Explainer` uses for ``pipeline``: "tree", "additive" or
    "kernel" (see the module's doc), without building anything.

    Raises:
        InvalidRequest: an unknown method, a task with nothing to explain, or a method
            the model does not allow.
    """
    if method not in METHODS:
        raise InvalidRequest(f"The explain method must be one of {list(METHODS)}; got "
                             f"{method!r}.")
    if pipeline.task not in ("classification", "regression"):
        raise InvalidRequest(f"Only classification and regression models are explained; "
                             f"this model's task is {pipeline.task!r}.")
    is_tree = not isinstance(pipeline, EnsemblePipeline) and \
        pipeline.framework.name in TREE_FRAMEWORKS
    if method == "tree" and not is_tree:
        raise InvalidRequest("method 'tree' needs an xgboost, lightgbm or catboost model; "
                             "use method 'kernel' (or 'auto') for this one.")
    if method == "additive" and not additive(pipeline):
        raise InvalidRequest("method 'additive' needs a regression ensemble with an "
                             "xgboost, lightgbm, catboost or linear member, or a linear "
                             "regression model; use method 'kernel' (or 'auto') for this "
                             "model.")
    if method != "auto":
        return method
    # A model that learns a transformed target (log) explains, by default, the
    # predictions as served (KernelSHAP); 'tree' explains its raw (log-scale) output.
    if is_tree and pipeline.recipe.target_transform is None:
        return "tree"
    return "additive" if additive(pipeline) else "kernel"


def kernel_columns(pipeline: InferencePipeline, method: str = "auto") -> tuple[str, ...]:
    """The raw columns KernelSHAP varies when ``pipeline`` is explained by ``method``, known
    without building anything: none for "tree", every column for "kernel", the columns of
    the members left to KernelSHAP for "additive" (before a linear member's formula is
    checked on the background: :attr:`Explainer.kernel_columns` is the final word)."""
    method = resolve_method(pipeline, method)
    if method == "tree":
        return ()
    columns = raw_columns(pipeline)
    if method == "kernel":
        return tuple(columns)
    return tuple(Members(pipeline, columns, {}, lineage_matrix).kernel_columns)


class Explainer:
    """Explains rows of one loaded bundle; build once, call :meth:`explain` per request.

    Args:
        pipeline: a loaded bundle (:func:`shipyard.bundle.load_bundle`).
        background: raw rows (KernelSHAP's reference; tree models need none).
        method: "auto" (tree for xgboost/lightgbm/catboost, additive for a regression
            ensemble with such a member or a linear one and for a linear regression
            model, kernel otherwise), "tree", "kernel", "additive".
        background_size: rows the background is summarised to (KernelSHAP).
        summary: "kmeans" or "sample" (see :func:`summarise_background`).
        n_coalitions: KernelSHAP coalitions per row (None: every one when 2^M - 2 is
            at most 1024, else 1024, paired-sampled).
        batch_rows: masked rows built in one KernelSHAP batch, at most (None: about
            20 million cells of raw columns or features, within 50,000 to 1,000,000 rows).
        seed: for the background summary and the coalition sampling.

    Raises:
        InvalidRequest: a task with nothing to explain (clustering…), a tree method on a
            model without trees, or KernelSHAP without a background.
    """

    def __init__(self, pipeline: InferencePipeline, background: pd.DataFrame | None = None,
                 *, method: str = "auto", background_size: int = BACKGROUND_SIZE,
                 summary: str = "kmeans", n_coalitions: int | None = None,
                 batch_rows: int | None = None, seed: int = 0) -> None:
        self.method = resolve_method(pipeline, method)
        self.pipeline = pipeline
        transformed = not isinstance(pipeline, EnsemblePipeline) and \
            pipeline.recipe.target_transform is not None
        classes = list(pipeline.classes or [])
        if pipeline.task == "regression":
            self.outputs: tuple[str, ...] = ("prediction",)
        else:
            self.outputs = tuple(classes[1:] if len(classes) == 2 else classes)
        self.columns: tuple[str, ...] = tuple(raw_columns(pipeline))
        # Columns the signature requires but no feature reads (a 'select' step dropped them):
        # they cannot change the output, so the model is given them as missing.
        self._absent = {str(e["name"]): np.nan for e in pipeline.input_signature
                        if e.get("required", True) and e["name"] not in self.columns}
        self.seed = seed
        self.n_coalitions = n_coalitions
        width = max([len(self.columns), *(len(p.recipe.feature_names)
                                           for p in _pipelines(pipeline))])
        self.batch_rows = batch_rows or int(min(DEFAULT_BATCH_ROWS, max(
            50_000, BATCH_CELLS // max(width, 1))))
        self.members: Members | None = None
        #: The raw columns KernelSHAP varies (none for a tree model).
        self.kernel_columns: tuple[str, ...] = () if self.method == "tree" else self.columns
        self.background: pd.DataFrame | None = None
        self.background_weights: np.ndarray | None = None
        if self.method == "tree":
            self.output_space = "value" if pipeline.task == "regression" and not transformed \
                else "margin"
            lineage = pipeline.recipe.lineage()
            self._matrix = lineage_matrix(lineage, list(self.columns))
        elif self.method == "additive":
            self.output_space = "value"
            members = self.members = Members(pipeline, list(self.columns), self._absent,
                                              lineage_matrix)
            if members.needs_background:
                if background is None:
                    raise InvalidRequest(
                        "This ensemble's linear or KernelSHAP members need background rows "
                        "(e.g. a sample of the training data): Explainer(pipeline, "
                        "background=df).")
                rows, weights = summarise_background(pipeline, background, background_size,
                                                     summary=summary, seed=seed)
                self.background = self._background = self._raw(rows)
                self.background_weights = self._weights = weights
                members.fit_background(self._background, weights)
            self.kernel_columns = tuple(members.kernel_columns)
        else:
            self.output_space = "value" if pipeline.task == "regression" else "probability"
            if background is None:
                raise InvalidRequest("KernelSHAP needs background rows (e.g. a sample of the "
                                     "training data): Explainer(pipeline, background=df).")
            rows, weights = summarise_background(pipeline, background, background_size,
                                                 summary=summary, seed=seed)
            self.background = self._background = self._raw(rows)
            self.background_weights = self._weights = weights

    def _raw(self, rows: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in rows.columns]
        if missing:
            raise InvalidRequest(f"Column {missing[0]!r} is missing; the model needs it. Add "
                                 "it to the rows to explain.")
        return rows[list(self.columns)].reset_index(drop=True)

    def output(self, rows: pd.DataFrame) -> np.ndarray:
        """The model's outputs of ``rows`` in this explainer's output space (rows × outputs)."""
        raw = self._raw(rows)
        if self.method == "tree":
            return margin(self.pipeline.framework.name, self.pipeline.model,
                          self.pipeline.recipe.transform(raw))
        return self._model(raw)

    def kernel_output(self, rows: pd.DataFrame) -> np.ndarray:
        """What KernelSHAP calls per masked row (rows × outputs): the whole model, or for
        the additive method the members left to it (zeros when none is); for timing."""
        raw = self._raw(rows)
        if self.members is not None:
            return self.members.rest_outputs(raw) if self.members.rest else \
                np.zeros((len(raw), 1))
        return self._model(raw)

    def _model(self, raw: pd.DataFrame) -> np.ndarray:
        out = self.pipeline.outputs(raw.assign(**self._absent) if self._absent else raw)
        if self.pipeline.task == "regression":
            return np.asarray(out["value"], dtype="float64").reshape(-1, 1)
        proba = np.asarray(out["proba"], dtype="float64")
        return proba[:, 1:] if proba.shape[1] == 2 else proba

    def explain(self, rows: pd.DataFrame,
                progress: Callable[[int, int], None] | None = None, *,
                part: str = "all") -> Explanation:
        """SHAP values of ``rows`` (raw input rows, as the model is sent them).

        ``progress`` (KernelSHAP) is called with (rows done, rows) after each batch.
        ``part`` (the additive method): "exact" for the exactly explained members' share
        alone, "kernel" for the KernelSHAP members' alone (each with its share of the base
        value; the two add up to "all"), so a caller may explain the cheap part for many
        rows and the costly one for as many as its time allows.
        """
        if part not in ("all", "exact", "kernel"):
            raise InvalidRequest(f"part must be 'all', 'exact' or 'kernel'; got {part!r}.")
        if part != "all" and self.members is None:
            raise InvalidRequest("Only the additive method explains a part of the model.")
        raw = self._raw(rows)
        if not len(raw):
            k = len(self.outputs)
            return Explanation(columns=self.columns, values=np.zeros((0, len(self.columns), k)),
                               base_values=np.full(k, np.nan), outputs=self.outputs,
                               output_space=self.output_space, method=self.method, data=raw)
        if self.method == "tree":
            values, base = self._tree(raw)
        elif self.members is not None:
            values, base = self._additive(raw, progress, part)
        else:
            values, base = kernel_shap(
                self._model, raw, self._background, self._weights,
                n_coalitions=self.n_coalitions, seed=self.seed, batch_rows=self.batch_rows,
                progress=progress)
        return Explanation(columns=self.columns, values=values, base_values=base,
                           outputs=self.outputs, output_space=self.output_space,
                           method=self.method, data=raw)

    def explain_features(self, X: pd.DataFrame | np.ndarray,
                         rows: pd.DataFrame | None = None) -> Explanation:
        """Tree models: SHAP values of rows whose model features are already built.

        For a caller with a faster feature builder than the recipe's DataFrame path (the
        serving fast path's per-row matrix): ``X`` is the features (a frame as
        :meth:`FittedRecipe.transform` gives, or a float array in ``feature_names``
        order when there are no categorical features); ``rows`` the raw rows, for the
        explanation's ``data`` (left missing when not given).

        Raises:
            InvalidRequest: a KernelSHAP explainer (it needs raw rows), or a wrong width.
        """
        if self.method != "tree":
            raise InvalidRequest("explain_features is for tree models; KernelSHAP explains "
                                 "raw rows: call explain(rows).")
        names = self.pipeline.recipe.feature_names
        if isinstance(X, np.ndarray) and self.pipeline.recipe.categorical_features:
            raise InvalidRequest("This model has categorical features; give them as the "
                                 "frame FittedRecipe.transform makes, not as an array.")
        if X.shape[1] != len(names):
            raise InvalidRequest(f"The model has {len(names)} features; got {X.shape[1]}.")
        values, base = self._contributions(X)
        data = self._raw(rows) if rows is not None else pd.DataFrame(
            {c: [None] * len(X) for c in self.columns})
        return Explanation(columns=self.columns, values=values, base_values=base,
                           outputs=self.outputs, output_space=self.output_space,
                           method=self.method, data=data)

    def _additive(self, raw: pd.DataFrame, progress: Callable[[int, int], None] | None,
                  part: str) -> tuple[np.ndarray, np.ndarray]:
        members = self.members
        assert members is not None
        if part == "kernel":
            values, base = np.zeros((len(raw), len(self.columns), 1)), 0.0
        else:
            values, base = members.exact_values(raw)
        if members.rest and part != "exact":
            where = [self.columns.index(c) for c in members.kernel_columns]
            rest, rest_base = kernel_shap(
                members.rest_outputs, raw[list(members.kernel_columns)],
                self._background[list(members.kernel_columns)], self._weights,
                n_coalitions=self.n_coalitions, seed=self.seed, batch_rows=self.batch_rows,
                progress=progress)
            values[:, where, :] += rest
            base += float(rest_base[0])
        elif progress is not None:
            progress(len(raw), len(raw))
        return values, np.array([base])

    def _tree(self, raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self._contributions(self.pipeline.recipe.transform(raw))

    def _contributions(self, X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.pipeline
        if isinstance(X, pd.DataFrame) and not p.recipe.categorical_features:
            X = X.to_numpy(dtype="float64")  # the library reads an array faster than a frame
        c = contributions(p.framework.name, p.model, X,
                          p.recipe.feature_names)  # n × (F + 1) × K
        values = np.einsum("nfk,fr->nrk", c[:, :-1, :], self._matrix)
        base = c[0, -1, :] if len(c) else np.zeros(c.shape[2])
        return values, np.asarray(base, dtype="float64")


def explain(pipeline: InferencePipeline, rows: pd.DataFrame,
            background: pd.DataFrame | None = None, **options: Any) -> Explanation:
    """One-off: ``Explainer(pipeline, background, **options).explain(rows)``."""
    return Explainer(pipeline, background, **options).explain(rows)
