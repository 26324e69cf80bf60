"""The association heatmap as SVG bytes, drawn with matplotlib from a profile snapshot.

One heatmap shows every pair at once: Pearson for numeric pairs (−1..1), Cramér's
V for categorical pairs and the correlation ratio for mixed ones (0..1).
Matplotlib is imported on the first heatmap and the figure is drawn on its own
canvas (no pyplot), so drawing never touches a notebook's backend and is safe in
threads. Only HTML output draws it; a JSON snapshot never pays for it.
"""

from __future__ import annotations

import io

import numpy as np

from shipyard.profiling._result import Correlations, Matrix

DPI = 80
#: Above this many columns, cells carry no numbers.
MAX_ANNOTATED = 14


def combined(corr: Correlations) -> Matrix:
    """One square matrix over the numeric then the categorical columns of ``corr``."""
    numeric, categorical = list(corr.pearson.rows), list(corr.cramers_v.rows)
    names = numeric + [c for c in categorical if c not in numeric]
    values = []
    for a in names:
        row: list[float | None] = []
        for b in names:
            if a in numeric and b in numeric:
                row.append(corr.pearson.get(a, b))
            elif a in categorical and b in categorical:
                row.append(corr.cramers_v.get(a, b))
            elif a in numeric:
                row.append(corr.correlation_ratio.get(a, b))
            else:
                row.append(corr.correlation_ratio.get(b, a))
        values.append(tuple(row))
    return Matrix(tuple(names), tuple(names), tuple(values))


def heatmap(matrix: Matrix, title: str) -> bytes:
    """A heatmap of ``matrix`` (values −1..1) as SVG."""
    try:
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:  # pragma: no cover - the dev install has it
        raise ModuleNotFoundError(
            "The profile heatmap needs matplotlib; install it with: pip install 'shipyard[ml]'"
        ) from exc
    values = np.array([[np.nan if v is None else v for v in row] for row in matrix.values],
                      dtype=np.float64).reshape(len(matrix.rows), len(matrix.columns))
    k = max(len(matrix.rows), len(matrix.columns))
    labels_in = min(0.075 * max((len(n) for n in matrix.rows), default=4), 2.0) + 0.3
    side = min(max(3.0, 0.24 * k), 14.0)
    fig = Figure(figsize=(side + labels_in + 1.2, side + labels_in + 0.5), dpi=DPI)
    FigureCanvasSVG(fig)
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=labels_in / width, bottom=labels_in / height,
                        right=1 - 1.1 / width, top=1 - 0.4 / height)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto",
                      interpolation="nearest")
    size = 7 if k > 30 else 8
    ax.set_xticks(range(len(matrix.columns)), [n[:24] for n in matrix.columns], rotation=90,
                  fontsize=size)
    ax.set_yticks(range(len(matrix.rows)), [n[:24] for n in matrix.rows], fontsize=size)
    if k <= MAX_ANNOTATED:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(values[i, j]) > 0.6 else "black")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()
