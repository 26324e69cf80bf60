"""The profile part of the demo: profile the churn dataset against its target.

``examples/demo.py`` calls :func:`run` with the ``sy.Dataset`` of the telco churn
table once it is loaded; the profile is computed on the server (and cached for
that version), the top warnings and the most predictive features are printed, and
the recipe steps the warnings suggest are returned for the feature engineering
that follows.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def run(client_dataset: Any, target: str = "churn", top: int = 8) -> list[dict[str, Any]]:
    """Profile ``client_dataset`` (a ``sy.Dataset``) against ``target``; print a summary.

    Returns the suggested recipe steps (``{"step", "columns", "params"}`` dicts).
    """
    t0 = time.perf_counter()
    p = client_dataset.profile(target=target)
    took = time.perf_counter() - t0
    cached = " (cached)" if p.source.get("cached") else ""
    console.print(f"profile of {client_dataset.name} v{p.source.get('version')}: {p.rows:,} rows "
                  f"x {len(p.columns)} columns, {p.duplicate_rows} duplicate rows, "
                  f"{p.missing_cells} missing cells; {took:.2f} s{cached}")

    warnings = Table(title=f"Top warnings ({len(p.warnings)} in all)", title_justify="left")
    for header in ("severity", "finding"):
        warnings.add_column(header)
    for w in p.warnings[:top]:
        warnings.add_row(w.severity, w.message)
    console.print(warnings)

    assert p.target is not None
    model = p.target.model
    features = Table(title=f"Most predictive of {target!r} (quick model: {model.get('metric')} "
                           f"{model.get('score', float('nan')):.3f} on held-out rows)",
                     title_justify="left")
    for header in ("rank", "feature", "importance", "mutual info (nats)", "association"):
        features.add_column(header)
    for f in p.predictive_features(top):
        features.add_row(str(f.rank), f.column, f"{f.importance or 0:.3f}",
                         f"{f.mutual_info or 0:.3f}",
                         f"{f.association or 0:.3f} ({(f.measure or '').replace('_', ' ')})")
    console.print(features)

    steps = p.suggestions()
    console.print(f"suggested recipe steps: {steps}")
    return steps
