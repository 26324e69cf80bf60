"""Categories the model never saw in training, as the capture recorded them at invocation.

Each serving instance checks a row's labels against every category its model's
training data held and writes the columns that had a new one in the capture's
``unseen`` column (``"contract,payment_method"``). A monitoring run counts them per
column, with the values seen most, so a new category is reported even below the
data-quality check's tolerance (which compares against the baseline dataset, not
what the model was trained on).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shipyard.monitoring._common import column as column_of

#: Values listed per column, the most frequent first.
EXAMPLES = 10


def unseen_categories(window: pd.DataFrame) -> dict[str, Any] | None:
    """``{"rows", "share", "columns": {name: {"rows", "share", "values": {value: n}}}}``, or
    None when the window has no ``unseen`` column (a capture from before it existed, or a
    dataset version)."""
    if "unseen" not in window.columns:
        return None
    flags = window["unseen"]
    marked = flags.notna() & (flags.astype("string").str.len() > 0)
    n = len(window)
    columns: dict[str, Any] = {}
    if marked.any():
        names = flags[marked].astype(str).str.split(",")
        for name in sorted({c for cols in names for c in cols if c}):
            rows = names.map(lambda cols, c=name: c in cols)
            index = rows[rows].index
            values = column_of(window, name)
            counts = (values.loc[index].astype(str).value_counts().head(EXAMPLES)
                      if values is not None else pd.Series(dtype=int))
            columns[name] = {"rows": int(len(index)), "share": len(index) / n,
                             "values": {str(k): int(v) for k, v in counts.items()}}
    total = int(marked.sum())
    return {"rows": total, "share": total / n if n else 0.0, "columns": columns}
