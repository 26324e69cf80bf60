"""Loading scikit-learn objects from ``.skops`` files with an explicit allow-list of types.

skops never unpickles: a ``.skops`` file is a zip of ``schema.json`` (a tree of
typed nodes) and ``.npy`` arrays (read without pickle). Before skops builds
anything, every node of the tree is checked here: its loader must be one of the
plain node kinds the built-in algorithms produce, and its type one of
:data:`ALLOWED_TYPES`. Anything else (a function, a ``__reduce__`` payload, a
class Shipyard does not ship) refuses the file. Only then is the file loaded,
trusting exactly the types skops itself reports as untrusted, which the check has
just proven to be on the allow-list.
"""

from __future__ import annotations

import importlib.abc
import io
import json
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from shipyard.bundle._manifest import BundleError

#: Every type a built-in scikit-learn algorithm's model is made of (module.qualname).
ALLOWED_TYPES: frozenset[str] = frozenset({
    "builtins.bool", "builtins.dict", "builtins.float", "builtins.int", "builtins.list",
    "builtins.str", "builtins.tuple", "builtins.NoneType",
    "numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32",
    "numpy.bool_", "numpy.dtype",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.cluster._kmeans.KMeans",
    "sklearn.decomposition._pca.PCA",
    # text-linear: TF-IDF over the raw text, the other features passed through.
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    # ColumnTransformer's "passthrough" (a FunctionTransformer without a function: one
    # with a function would be a FunctionNode, refused below).
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "builtins.slice",
})

#: The skops node kinds those types are stored as. Function, method, operator and
#: reduce nodes (what could call code while loading) are deliberately absent.
ALLOWED_NODES: frozenset[str] = frozenset({
    "ObjectNode", "TreeNode", "NdArrayNode", "DictNode", "ListNode", "TupleNode",
    "JsonNode", "TypeNode", "DTypeNode", "SliceNode",
})


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "__loader__" in node:
            yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _schema(data: bytes, name: str) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"Model file {name!r} is not a skops file ({type(exc).__name__}); Shipyard loads "
            "scikit-learn models only from .skops files and never unpickles.") from None
    if not isinstance(schema, dict):
        raise BundleError(f"Model file {name!r} has a malformed skops schema.")
    return schema


def check_types(data: bytes, name: str = "model.skops") -> list[str]:
    """Refuse ``data`` unless every node of its schema is an allowed kind and type.

    Returns:
        The types in the file, sorted.
    """
    seen: set[str] = set()
    for node in _nodes(_schema(data, name)):
        loader = node.get("__loader__")
        if loader not in ALLOWED_NODES:
            raise BundleError(
                f"Model file {name!r} holds a {loader!r} node, which could run code when "
                "loaded; Shipyard refuses it.")
        kind = f"{node.get('__module__')}.{node.get('__class__')}"
        if kind not in ALLOWED_TYPES:
            raise BundleError(
                f"Model file {name!r} holds type {kind!r}, which is not on Shipyard's "
                "allow-list of scikit-learn types; the bundle is refused.")
        seen.add(kind)
    return sorted(seen)


#: Packages under ``sklearn.`` that importing ``skops.io`` need not import: scikit-learn's
#: test packages and the array-API shims of other libraries (PyTorch, CuPy, Dask).
#: skops lists scikit-learn's estimators at import (``all_estimators``), which walks every
#: subpackage with ``pkgutil.walk_packages``; the walk *imports* each package to find its
#: children before ``all_estimators`` skips ``tests`` and ``externals``. So where PyTorch
#: is installed (the ``text`` extra, ``dev``), every process that loaded or saved a
#: scikit-learn model imported PyTorch: 4.4-4.6 s of CPU for ``import skops.io`` against
#: 2.4-2.6 s without these (2 cores, busy), paid by each linear or forest candidate of an
#: AutoML job, its final job, and an endpoint's cold start. The estimators listed are the
#: same (``tests/bundle/test_skops_import.py``).
_WALK_SKIPPED = ("sklearn.externals.array_api_compat.torch",
                 "sklearn.externals.array_api_compat.cupy",
                 "sklearn.externals.array_api_compat.dask")


class _SkipWalked(importlib.abc.MetaPathFinder):
    """Refuses (ImportError, which the walk ignores) the packages of :data:`_WALK_SKIPPED`
    and scikit-learn's ``tests`` packages, while ``skops.io`` is first imported."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> None:
        if fullname.startswith("sklearn.") and (
                fullname.startswith(_WALK_SKIPPED) or fullname.endswith(".tests")):
            raise ImportError(f"{fullname} is not needed to list scikit-learn's estimators")
        return None


def skops_io() -> ModuleType:
    """``skops.io``, imported without what :data:`_WALK_SKIPPED` names (once a process)."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    finder = _SkipWalked()
    sys.meta_path.insert(0, finder)
    try:
        import skops.io as sio
    finally:
        sys.meta_path.remove(finder)
    return sio


def load_skops(path: Path) -> Any:
    """Load a scikit-learn object from ``path`` after proving every type it holds is allowed."""
    sio = skops_io()

    data = path.read_bytes()
    check_types(data, path.name)
    untrusted = sio.get_untrusted_types(data=data)
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:  # the schema check above should have caught these already
        raise BundleError(
            f"Model file {path.name!r} holds type(s) {refused} that are not on Shipyard's "
            "allow-list; the bundle is refused.")
    try:
        obj = sio.loads(data, trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001 - any failure to build the object is a bad file
        raise BundleError(f"Model file {path.name!r} could not be loaded: {exc}.") from exc
    _check_trees(obj, path.name)
    return obj


def _check_trees(obj: Any, name: str) -> None:
    """Refuse decision trees whose node arrays point outside themselves.

    scikit-learn follows a tree's child and feature indices without bounds checks,
    so a crafted ``Tree`` could make prediction read out of bounds; the types being
    allowed says nothing about their content.
    """
    import numpy as np

    for estimator in getattr(obj, "estimators_", None) or []:
        tree = getattr(estimator, "tree_", None)
        if tree is None:
            continue
        n = int(tree.node_count)
        left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
        feature = np.asarray(tree.feature)
        split = left != -1
        inside = (
            len(left) == len(right) == len(feature) == n
            and bool(np.all(right[~split] == -1))
            and bool(np.all((left[split] > 0) & (left[split] < n)))
            and bool(np.all((right[split] > 0) & (right[split] < n)))
            and bool(np.all((feature[split] >= 0) & (feature[split] < tree.n_features)))
        )
        if not inside:
            raise BundleError(
                f"Model file {name!r} holds a decision tree whose nodes point outside it; "
                "the file was crafted or corrupted, so the bundle is refused.")


def dumps_skops(obj: Any) -> bytes:
    """Serialise a scikit-learn object with skops (and prove it will load back)."""
    sio = skops_io()

    data: bytes = sio.dumps(obj)
    check_types(data, type(obj).__name__)
    return data
