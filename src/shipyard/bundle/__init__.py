"""The model bundle: MODEL.json, the SHA-256 of every file, safe loaders, the inference pipeline.

A bundle is a folder::

    MODEL.json            manifest: task, framework, signature, classes, metrics, lineage, files
    recipe.json           the fitted feature recipe
    model.<ext>           xgboost .ubj, lightgbm .txt, catboost .cbm, scikit-learn .skops,
                          text-embedding model.json (+ encoder/ and head.*, see _sentence)
    evaluation/…          metrics and plots

An *ensemble* bundle holds whole member bundles under ``members/`` and their weights
(:func:`write_ensemble`); it loads as an :class:`EnsemblePipeline` that serves like any
other (see ``_ensemble.py``).

:func:`load_bundle` checks every file against its recorded SHA-256, refuses
unlisted files, and loads the model only through its framework's native safe
format (scikit-learn through skops with an allow-list of types). Nothing is ever
unpickled. :func:`check_bundle` makes the same checks without loading the model (no
framework import): the registry runs it when a model is registered.
"""

from __future__ import annotations

from shipyard.bundle._ensemble import ENSEMBLE, is_ensemble, write_ensemble
from shipyard.bundle._frameworks import FRAMEWORKS, Framework, get_framework, safe_feature_names
from shipyard.bundle._manifest import (
    FORMAT_VERSION,
    MANIFEST,
    TASKS,
    BundleError,
    read_manifest,
    sha256_file,
    verify_files,
    write_bundle,
)
from shipyard.bundle._pipeline import (
    EnsemblePipeline,
    InferencePipeline,
    check_bundle,
    load_bundle,
    output_schema,
)
from shipyard.bundle._sentence import SentenceFramework, TextEncoder, TextSklearnFramework
from shipyard.bundle._skops import ALLOWED_NODES, ALLOWED_TYPES, check_types, load_skops

__all__ = [
    "ALLOWED_NODES", "ALLOWED_TYPES", "ENSEMBLE", "FORMAT_VERSION", "FRAMEWORKS", "MANIFEST",
    "TASKS", "BundleError", "EnsemblePipeline", "Framework", "InferencePipeline",
    "SentenceFramework", "TextEncoder", "TextSklearnFramework",
    "check_bundle", "check_types", "get_framework", "is_ensemble", "load_bundle",
    "load_skops", "output_schema", "read_manifest", "safe_feature_names", "sha256_file",
    "verify_files", "write_bundle", "write_ensemble",
]
