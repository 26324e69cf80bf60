"""Uploaded ground truth → a table of key and label, whatever the file calls its label.

True labels are joined to captured predictions by a key (``inference_id`` unless the
monitor's ``label_key`` says otherwise). The label column is found in this order:

1. the column the upload names (``label_column`` of the request, ``--label-column``);
2. the monitor's ``label_column`` setting;
3. ``label``, or else the served model's target (``churn`` for a churn model), so a file
   exported straight from the table the model was trained on needs no renaming.

Both columns are read as text (ids and labels are names, not numbers: ``007`` stays
``007``). A file without them is refused, naming its columns, and nothing is stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest

#: The default name of the label column in uploaded ground truth.
LABEL = "label"


def _columns(display: str, path: Path, fmt: str) -> list[str]:
    """The column names of an uploaded file (read from its first chunk only)."""
    from shipyard.datasets._readers import open_reader

    chunks = open_reader(path, display, fmt, set()).chunks()
    try:
        first = next(chunks, None)
    finally:
        chunks.close()  # type: ignore[attr-defined]
    return [] if first is None else list(first.table.column_names)


def _listed(columns: Sequence[str]) -> str:
    shown = ", ".join(columns[:20])
    return shown + (" …" if len(columns) > 20 else "") if columns else "none"


def pick_label(display: str, columns: Sequence[str], key: str, *, asked: str | None,
               configured: str | None, target: str | None) -> str:
    """The label column of one uploaded file (see the module doc for the order).

    Raises:
        InvalidRequest: the key, or the label column asked for, is not in the file.
    """
    if key not in columns:
        raise InvalidRequest(
            f"The ground truth {display!r} has no key column {key!r} to join predictions by; "
            f"its columns are {_listed(columns)}. Add the inference ids the endpoint answered "
            f"(or gave) as {key!r}.", field=key)
    wanted = asked or configured
    if wanted:
        if wanted not in columns or wanted == key:
            raise InvalidRequest(
                f"The ground truth {display!r} has no label column {wanted!r}; its columns "
                f"are {_listed(columns)}.", field="label_column")
        return wanted
    for candidate in (LABEL, target):
        if candidate and candidate in columns and candidate != key:
            return candidate
    named = f"{LABEL!r} or {target!r} (the model's target)" if target else repr(LABEL)
    raise InvalidRequest(
        f"The ground truth {display!r} has no label column: its columns are "
        f"{_listed(columns)}; name the label {named}, or say which column it is with "
        "label_column.", field="label_column")


def read_labels(files: Sequence[tuple[str, Path]], key: str, store_as: str, *,
                asked: str | None, configured: str | None, target: str | None,
                format: str | None, tmp_dir: Path, numeric: bool = False,
                classes: Sequence[Any] | None = None) -> Any:
    """The uploaded files as one DataFrame of ``key`` and ``store_as`` (text), rows with
    no key dropped.

    Args:
        numeric: the model is a regression, so every label given must read as a number.
        classes: a classifier's classes: labels none of which is one of them (``0``/``1``
            for a ``no``/``yes`` model) are refused, since stored they would shadow the
            right labels of the same keys and leave model quality with nothing to score.

    Raises:
        InvalidRequest: no file, a file without the key or label column, no row with
            a key, or (``numeric``) a label that is not a number (nothing is stored).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shipyard.datasets._ingest import write_part
    from shipyard.datasets._readers import detect_format

    if not files:
        raise InvalidRequest("Upload at least one file of labels (the form field 'file').")
    frames = []
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        for i, (display, upload) in enumerate(files):
            fmt = detect_format(display, format)
            label = pick_label(display, _columns(display, upload, fmt), key, asked=asked,
                               configured=configured, target=target)
            out = Path(tmp) / f"labels-{i}.parquet"
            write_part(display, upload, fmt, {key: pa.string(), label: pa.string()}, out)
            frame = pq.read_table(out, columns=[key, label]).to_pandas()
            frames.append(frame.rename(columns={label: store_as}))
    frame = pd.concat(frames, ignore_index=True).dropna(subset=[key])
    if frame.empty:
        raise InvalidRequest("The ground truth has no rows with a key; nothing was stored.")
    if numeric:
        labels = frame[store_as]
        bad = labels.notna() & pd.to_numeric(labels, errors="coerce").isna()
        if bad.any():
            first = frame[bad].iloc[0]
            # Stored, it would fail every later execution of the monitor, not just this one.
            raise InvalidRequest(
                f"The label of {key} {first[key]!r} is {first[store_as]!r}, which is not a "
                f"number ({int(bad.sum())} such labels); the served model is a regression, so "
                "its labels must be numbers. Fix them, or leave them empty; nothing was stored.")
    if classes:
        from shipyard.monitoring._common import category_text

        known = {category_text(c) for c in classes}
        given = frame[store_as].dropna()
        if len(given) and not given.isin(known).any():
            seen = ", ".join(repr(v) for v in sorted(set(given))[:5])
            raise InvalidRequest(
                f"None of the {len(given)} labels is a class of the served model (got {seen}; "
                f"its classes are {', '.join(repr(c) for c in sorted(known))}); write the "
                "labels as the model's classes. Nothing was stored.")
    return frame


def unmatched_note(keys: Sequence[Any], captured: Any, *, key: str, endpoint: str,
                   lookback: str) -> tuple[int, str | None]:
    """How many labels key a captured prediction, and one sentence when some key none.

    Labels are stored all the same (a caller who chose the ids may label rows before it
    invokes, and a sampled capture leaves some answers out), but an id the endpoint
    never answered with, a row number say, is scored by nothing, and the caller should
    hear so at upload rather than from an empty model-quality section later.

    Args:
        keys: the uploaded labels' keys (one per label).
        captured: the keys of the predictions captured over the monitor's quality lookback.
    """
    known = set(captured)
    missing = [k for k in keys if k not in known]
    matched = len(keys) - len(missing)
    if not missing:
        return matched, None
    where = (f"endpoint {endpoint} captured over the last {lookback} (such as "
             f"{missing[0]!r})")
    if matched == 0:
        return 0, (f"None of the {len(keys):,} labels matches, by {key}, a prediction {where}, "
                   f"so no execution can score them yet; key each label by the {key} of the "
                   "answer it labels (the one the request's rows carried, or the endpoint "
                   "made).")
    return matched, (f"{len(missing):,} of the {len(keys):,} labels match, by {key}, no "
                     f"prediction {where}; they are scored once such a prediction is "
                     "captured.")
