"""Serving: one model bundle as an HTTP endpoint instance (runtime layer).

An instance is its own process (``python -m shipyard.serving BUNDLE_DIR --port N``):
it loads the bundle (SHA-256 checked, nothing unpickled), warms it, and answers
``POST /invocations`` (JSON records, a single record, ``{"columns", "data"}``,
``{"instances"}`` or CSV) and ``GET /health`` under uvicorn, never waiting on the
control plane. Rows are checked against the model's input signature (4xx naming
the field), a category the model never saw in training is counted (and, per the
endpoint's ``--unseen-categories``, said in the answer or refused), rows are predicted
through the whole pipeline (recipe → model → decoded labels) — a compiled per-row fast
path where it covers the bundle — and a sample is captured as Parquet for monitoring
(``POST /capture/flush`` writes the buffer at once). A caller may give each row its
own id in an ``inference_id`` column (never passed to the model); the response and
the capture carry it, so ground truth keyed by it joins::

    from shipyard.serving import read_capture
    df = read_capture("capture/", start=datetime(2026, 1, 1))
"""

from __future__ import annotations

from shipyard.serving._app import DEFAULT_MAX_BODY_BYTES, AppConfig, ServingApp
from shipyard.serving._capture import (
    CaptureWriter,
    capture_schema,
    is_sampled,
    new_inference_id,
    read_capture,
)
from shipyard.serving._codec import (
    ID_COLUMN,
    MAX_ID_LENGTH,
    MEDIA_TYPES,
    Table,
    encode_json,
    media_kind,
    parse_body,
    take_ids,
)
from shipyard.serving._fastpath import FastPath, Unsupported, compile_fast_path
from shipyard.serving._predictor import Prediction, Predictor
from shipyard.serving._schema import Schema, SchemaError
from shipyard.serving._server import ServingOptions, build_app, main, parse_args, serve

__all__ = [
    "DEFAULT_MAX_BODY_BYTES", "ID_COLUMN", "MAX_ID_LENGTH", "MEDIA_TYPES", "AppConfig",
    "CaptureWriter", "FastPath",
    "Prediction", "Predictor", "Schema", "SchemaError", "ServingApp", "ServingOptions",
    "Table", "Unsupported", "build_app", "capture_schema", "compile_fast_path", "encode_json",
    "is_sampled", "main", "media_kind", "new_inference_id", "parse_body", "parse_args",
    "read_capture", "serve", "take_ids",
]
