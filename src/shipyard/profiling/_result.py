"""The frozen results of a profile, and their JSON snapshot (``to_dict`` / ``from_dict``).

Everything a renderer needs is in the snapshot (histogram bins, top values,
correlation matrices, the data of each feature-against-target plot), so a report
can be drawn from a stored snapshot alone, with no access to the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidRequest

#: Bumped whenever the snapshot's shape or the meaning of a figure changes; part of cache keys.
#: 2: row_number columns, strong predictors told apart from leaks, warnings marked as leaks.
#: 3: a multiclass one-feature score is balanced accuracy (a format-2 snapshot of a target
#: 98% of one class calls every feature a leak, which AutoML drops), label_variants
#: warnings, whole-number float targets as classes.
#: 4: a date the target trends with (and columns that move with it) is a time_order
#: warning, no leak (a format-3 snapshot has AutoML drop ggplot2 economics' date), and
#: ranks of the target within groups are leaks (``follows_time`` on features).
FORMAT_VERSION = 4

SEVERITIES = ("high", "medium", "low")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def clean(value: Any) -> Any:
    """JSON-safe numbers: NaN and infinities become ``None``, numpy scalars plain Python."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return clean(item())
    return str(value)


@dataclass(frozen=True)
class ColumnProfile:
    """What one column holds: type, missing and distinct counts, and its kind's statistics.

    ``numeric`` (min, max, mean, std, skew, kurtosis, quantiles, iqr, zeros, negatives,
    infinite, outliers_iqr, outliers_z), ``text`` (lengths, empty strings) and
    ``datetime`` (min, max as ISO text) are present for the kinds they describe.
    ``histogram`` is ``{"edges", "counts"}`` (equal-width bins) or ``{"values",
    "counts"}`` (one bar per value); ``top`` the most frequent values, most frequent first.
    """

    name: str
    dtype: str
    semantic_type: str
    count: int
    missing: int
    distinct: int
    memory_bytes: int
    numeric: Mapping[str, Any] | None = None
    text: Mapping[str, Any] | None = None
    datetime: Mapping[str, Any] | None = None
    histogram: Mapping[str, Any] | None = None
    top: tuple[Mapping[str, Any], ...] = ()

    @property
    def rows(self) -> int:
        return self.count + self.missing

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def distinct_share(self) -> float:
        return self.distinct / self.count if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        return clean({
            "name": self.name, "dtype": self.dtype, "semantic_type": self.semantic_type,
            "count": self.count, "missing": self.missing, "missing_share": self.missing_share,
            "distinct": self.distinct, "distinct_share": self.distinct_share,
            "memory_bytes": self.memory_bytes, "numeric": self.numeric, "text": self.text,
            "datetime": self.datetime, "histogram": self.histogram, "top": list(self.top),
        })

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnProfile:
        return cls(
            name=str(d["name"]), dtype=str(d["dtype"]), semantic_type=str(d["semantic_type"]),
            count=int(d["count"]), missing=int(d["missing"]), distinct=int(d["distinct"]),
            memory_bytes=int(d.get("memory_bytes") or 0), numeric=d.get("numeric"),
            text=d.get("text"), datetime=d.get("datetime"), histogram=d.get("histogram"),
            top=tuple(d.get("top") or ()),
        )


@dataclass(frozen=True)
class Matrix:
    """A labelled matrix of associations; ``rows`` equals ``columns`` when it is square."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]

    def get(self, row: str, column: str) -> float | None:
        """The value at (``row``, ``column``), or ``None`` when either is not in the matrix."""
        try:
            return self.values[self.rows.index(row)][self.columns.index(column)]
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows), "columns": list(self.columns),
                "values": clean([list(r) for r in self.values])}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Matrix:
        return cls(rows=tuple(d["rows"]), columns=tuple(d["columns"]),
                   values=tuple(tuple(r) for r in d["values"]))


EMPTY = Matrix((), (), ())


@dataclass(frozen=True)
class Correlations:
    """Pearson and Spearman (numeric pairs), Cramér's V (categorical pairs), and the
    correlation ratio (numeric rows × categorical columns), on ``sample_rows`` rows."""

    pearson: Matrix = EMPTY
    spearman: Matrix = EMPTY
    cramers_v: Matrix = EMPTY
    correlation_ratio: Matrix = EMPTY
    sample_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"pearson": self.pearson.to_dict(), "spearman": self.spearman.to_dict(),
                "cramers_v": self.cramers_v.to_dict(),
                "correlation_ratio": self.correlation_ratio.to_dict(),
                "sample_rows": self.sample_rows}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Correlations:
        return cls(pearson=Matrix.from_dict(d["pearson"]),
                   spearman=Matrix.from_dict(d["spearman"]),
                   cramers_v=Matrix.from_dict(d["cramers_v"]),
                   correlation_ratio=Matrix.from_dict(d["correlation_ratio"]),
                   sample_rows=int(d.get("sample_rows") or 0))


@dataclass(frozen=True)
class FeatureAssociation:
    """One feature against the target.

    ``association`` is |Spearman| (numeric feature and target), the correlation ratio
    (one numeric, one categorical) or Cramér's V (both categorical), named by
    ``measure``; ``importance`` the quick model's share; ``plot`` the binned data of
    the feature-against-target plot (``bins``, ``counts`` and ``target_mean`` or
    ``class_shares``).

    ``strong``: the feature predicts the target strongly (association or, where it was
    fitted, a one-feature model's held-out score ``solo_score`` in ``solo_metric``).
    ``leak``: strong *and* something else points to a leak, said by ``leak_reasons``
    (its name, a near-perfect score on its own, a timestamp set by the outcome).
    ``follows_time``: the timestamp column this strong feature owes its strength to (the
    timestamp itself, or a column that moves with it) when the target follows time: a
    question of how to split, not a leak.
    """

    column: str
    mutual_info: float | None
    association: float | None
    measure: str | None
    importance: float | None
    rank: int
    leak: bool = False
    plot: Mapping[str, Any] | None = None
    strong: bool = False
    solo_score: float | None = None
    solo_metric: str | None = None
    leak_reasons: tuple[str, ...] = ()
    follows_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {"follows_time": self.follows_time} if self.follows_time else {}
        return clean({"column": self.column, "mutual_info": self.mutual_info,
                      "association": self.association, "measure": self.measure,
                      "importance": self.importance, "rank": self.rank, "leak": self.leak,
                      "strong": self.strong, "solo_score": self.solo_score,
                      "solo_metric": self.solo_metric, "leak_reasons": list(self.leak_reasons),
                      **extra, "plot": self.plot})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureAssociation:
        return cls(column=str(d["column"]), mutual_info=d.get("mutual_info"),
                   association=d.get("association"), measure=d.get("measure"),
                   importance=d.get("importance"), rank=int(d["rank"]),
                   leak=bool(d.get("leak")), plot=d.get("plot"), strong=bool(d.get("strong")),
                   solo_score=d.get("solo_score"), solo_metric=d.get("solo_metric"),
                   leak_reasons=tuple(d.get("leak_reasons") or ()),
                   follows_time=d.get("follows_time"))


@dataclass(frozen=True)
class TargetAnalysis:
    """The target's distribution and each feature's association with it, best first."""

    column: str
    problem_type: str
    missing: int
    classes: tuple[Mapping[str, Any], ...] = ()
    imbalance_ratio: float | None = None
    features: tuple[FeatureAssociation, ...] = ()
    model: Mapping[str, Any] = field(default_factory=dict)

    @property
    def leaks(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.features if f.leak)

    def to_dict(self) -> dict[str, Any]:
        return clean({"column": self.column, "problem_type": self.problem_type,
                      "missing": self.missing, "classes": list(self.classes),
                      "imbalance_ratio": self.imbalance_ratio,
                      "features": [f.to_dict() for f in self.features],
                      "leaks": list(self.leaks), "model": dict(self.model)})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetAnalysis:
        return cls(column=str(d["column"]), problem_type=str(d["problem_type"]),
                   missing=int(d.get("missing") or 0), classes=tuple(d.get("classes") or ()),
                   imbalance_ratio=d.get("imbalance_ratio"),
                   features=tuple(FeatureAssociation.from_dict(f) for f in d.get("features", [])),
                   model=dict(d.get("model") or {}))


@dataclass(frozen=True)
class ProfileWarning:
    """A finding worth acting on, with an optional recipe step that would address it.

    ``suggestion`` is a step in the feature recipe's JSON format:
    ``{"step": name, "columns": [...], "params": {...}}``. ``leak`` marks a warning
    that the data gives the target away (a leaking feature, row numbers that follow
    the target's order): those rank first.
    """

    kind: str
    severity: str
    columns: tuple[str, ...]
    message: str
    value: float | None = None
    suggestion: Mapping[str, Any] | None = None
    leak: bool = False

    def to_dict(self) -> dict[str, Any]:
        return clean({"kind": self.kind, "severity": self.severity, "columns": list(self.columns),
                      "message": self.message, "value": self.value,
                      "suggestion": self.suggestion, "leak": self.leak})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProfileWarning:
        return cls(kind=str(d["kind"]), severity=str(d["severity"]),
                   columns=tuple(d.get("columns") or ()), message=str(d["message"]),
                   value=d.get("value"), suggestion=d.get("suggestion"),
                   leak=bool(d.get("leak")))


def rank_warnings(warnings: Sequence[ProfileWarning]) -> tuple[ProfileWarning, ...]:
    """Most severe first; within a severity, leaks first, then the larger figure, then by
    columns."""
    return tuple(sorted(warnings, key=lambda w: (_RANK.get(w.severity, len(SEVERITIES)),
                                                 not w.leak, -(w.value or 0.0), w.kind,
                                                 w.columns)))


@dataclass(frozen=True)
class Profile:
    """The profile of a table: its columns, correlations, target analysis and warnings.

    ``to_dict`` is the JSON snapshot; ``to_html`` a self-contained offline report;
    ``_repr_html_`` the same report in a notebook.
    """

    rows: int
    columns: tuple[ColumnProfile, ...]
    duplicate_rows: int
    memory_bytes: int
    correlations: Correlations
    warnings: tuple[ProfileWarning, ...]
    target: TargetAnalysis | None = None
    sample_rows: int = 0
    seed: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    # -- views ------------------------------------------------------------------------------
    @property
    def missing_cells(self) -> int:
        return sum(c.missing for c in self.columns)

    @property
    def duplicate_share(self) -> float:
        return self.duplicate_rows / self.rows if self.rows else 0.0

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise InvalidRequest(
            f"The profile has no column {name!r}; its columns are "
            f"{', '.join(c.name for c in self.columns[:20])}.")

    def predictive_features(self, n: int = 10) -> list[FeatureAssociation]:
        """The ``n`` features the quick model found most predictive of the target."""
        return list(self.target.features[:n]) if self.target else []

    def suggestions(self) -> list[dict[str, Any]]:
        """The recipe steps the warnings suggest, most severe first, without repeats."""
        seen: set[str] = set()
        steps = []
        for w in self.warnings:
            if w.suggestion is None:
                continue
            key = repr(sorted(w.suggestion.items()))
            if key not in seen:
                seen.add(key)
                steps.append(dict(w.suggestion))
        return steps

    # -- snapshot ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON snapshot (plain dicts, lists, numbers and text; no NaN)."""
        return clean({
            "format_version": self.format_version,
            "dataset": {"rows": self.rows, "columns": len(self.columns),
                        "duplicate_rows": self.duplicate_rows,
                        "duplicate_share": self.duplicate_share,
                        "memory_bytes": self.memory_bytes, "missing_cells": self.missing_cells,
                        "sample_rows": self.sample_rows, "seed": self.seed},
            "columns": [c.to_dict() for c in self.columns],
            "correlations": self.correlations.to_dict(),
            "target": self.target.to_dict() if self.target else None,
            "warnings": [w.to_dict() for w in self.warnings],
            "timings": dict(self.timings),
            "source": dict(self.source),
        })

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        """Rebuild a profile from its snapshot (refusing a snapshot of another format)."""
        if not isinstance(d, Mapping) or d.get("format_version") != FORMAT_VERSION:
            got = d.get("format_version") if isinstance(d, Mapping) else type(d).__name__
            raise InvalidRequest(
                f"This is not a profile snapshot of format {FORMAT_VERSION} (got {got!r}); "
                "compute the profile again with this version of Shipyard.")
        ds = d["dataset"]
        return cls(
            rows=int(ds["rows"]), columns=tuple(ColumnProfile.from_dict(c) for c in d["columns"]),
            duplicate_rows=int(ds["duplicate_rows"]), memory_bytes=int(ds["memory_bytes"]),
            correlations=Correlations.from_dict(d["correlations"]),
            warnings=tuple(ProfileWarning.from_dict(w) for w in d["warnings"]),
            target=TargetAnalysis.from_dict(d["target"]) if d.get("target") else None,
            sample_rows=int(ds.get("sample_rows") or 0), seed=int(ds.get("seed") or 0),
            timings=dict(d.get("timings") or {}), source=dict(d.get("source") or {}),
        )

    # -- rendering --------------------------------------------------------------------------
    def to_html(self, title: str | None = None) -> str:
        """A self-contained HTML page (inline styles and images; works offline)."""
        from shipyard.profiling._html import render_page

        return render_page(self, title)

    def _repr_html_(self) -> str:
        from shipyard.profiling._html import render_fragment

        return render_fragment(self)

    def __repr__(self) -> str:
        target = f", target {self.target.column!r}" if self.target else ""
        return (f"<Profile: {self.rows:,} rows × {len(self.columns)} columns{target}, "
                f"{len(self.warnings)} warnings>")
