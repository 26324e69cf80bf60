"""One adapter per model framework: serialise to its native safe format, load, predict.

Training evaluates a model through the same adapter serving uses, so the figures
in MODEL.json are those of the code path that will answer requests.

Outputs are arrays keyed by kind: ``proba`` (n × classes) for classification,
``value`` for regression, ``cluster`` for clustering, ``score`` (higher = more
anomalous) and ``is_anomaly`` for anomaly detection, ``components`` for
dimensionality reduction.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shipyard.bundle._manifest import BundleError
from shipyard.bundle._skops import check_types, dumps_skops, load_skops, skops_io

Outputs = dict[str, np.ndarray]
_UNSAFE_NAME = re.compile(r"[\[\]<>,:\"{}]")


def safe_feature_names(names: list[str]) -> list[str]:
    """Feature names every framework accepts (no brackets, JSON punctuation), kept unique."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = _UNSAFE_NAME.sub("_", name)
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _renamed(X: pd.DataFrame) -> pd.DataFrame:
    return X.set_axis(safe_feature_names([str(c) for c in X.columns]), axis=1)


def _two_columns(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype="float64").reshape(-1)
    return np.column_stack([1.0 - p, p])


#: How a Python pickle starts (protocol 2 and later); named in the refusal.
_PICKLE = b"\x80"


class Framework:
    """Base adapter; subclasses set ``name``, ``package`` (the module), ``extension`` and
    ``magic`` (how every file of the native format starts)."""

    name: ClassVar[str]
    package: ClassVar[str]
    extension: ClassVar[str]
    magic: ClassVar[bytes]

    def check(self, path: Path) -> None:
        """Refuse a model file that is not in the native format, without loading it.

        This needs neither the framework's package nor any deserializer, so the control
        plane runs it at registration; :meth:`load` still checks the rest.
        """
        with open(path, "rb") as fh:
            head = fh.read(max(len(self.magic), 8))
        if not head.startswith(self.magic):
            what = ("a Python pickle, which Shipyard never loads" if head.startswith(_PICKLE)
                    else f"not a {self.name} file (it starts with {head[:8]!r})")
            raise BundleError(
                f"Model file {path.name!r} is {what}; {self.name} models are loaded only "
                f"from their native {self.extension} format.")

    def version(self) -> str:
        # The module's own version: distributions differ in name (xgboost-cpu, xgboost).
        return str(importlib.import_module(self.package).__version__)

    def dumps(self, model: Any) -> bytes:
        raise NotImplementedError

    def bundle_files(self, model: Any) -> dict[str, bytes | Path]:
        """The model's files in the bundle, by relative path (bytes, or a file to copy): the
        first is the model file (MODEL.json's ``model_files``); a framework whose model
        needs companions (a text model's config and tokenizer, an encoder beside its head)
        lists them after it, by default its :meth:`extra_files`."""
        return {f"model{self.extension}": self.dumps(model), **self.extra_files(model)}

    def load(self, path: Path) -> Any:
        raise NotImplementedError

    def import_serializer(self) -> None:
        """Import what writing and reading this framework's files needs (once a process).
        Training calls it before it starts its clock, so a model's recorded seconds (what
        an AutoML refit is expected to take) are its own, not a first import's."""

    def extra_files(self, model: Any) -> dict[str, bytes | Path]:
        """Files the model needs beside its model file (bundle-relative name → bytes or a
        path to copy): none, but for a model made of several (a text encoder and a head)."""
        return {}

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        raise NotImplementedError

    def image_input(self, model: Any) -> dict[str, Any] | None:
        """How an image becomes the model's input row (height, width, channels, columns,
        value_max), for endpoints that take PNG or JPEG; None: the model takes rows only."""
        return None


class XGBoostFramework(Framework):
    name, package, extension = "xgboost", "xgboost", ".ubj"
    magic = b"{"  # a UBJSON object

    @staticmethod
    def matrix(X: pd.DataFrame, y: np.ndarray | None = None) -> Any:
        import xgboost as xgb

        return xgb.DMatrix(_renamed(X), label=y, enable_categorical=True)

    def dumps(self, model: Any) -> bytes:
        return bytes(model.save_raw(raw_format="ubj"))

    def load(self, path: Path) -> Any:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        raw = model.predict(self.matrix(X))
        if task == "classification":
            if n_classes == 2:
                return {"proba": _two_columns(raw)}
            # XGBoost's softmax is float32: its rows sum to 1 only to ~1e-7, and
            # scikit-learn's log loss warns on every call below ~1.5e-8.
            proba = np.asarray(raw, "float64")
            return {"proba": proba / proba.sum(axis=1, keepdims=True)}
        return {"value": np.asarray(raw, dtype="float64")}


class LightGBMFramework(Framework):
    name, package, extension = "lightgbm", "lightgbm", ".txt"
    magic = b"tree\n"

    @staticmethod
    def frame(X: pd.DataFrame) -> pd.DataFrame:
        return _renamed(X)

    def dumps(self, model: Any) -> bytes:
        return str(model.model_to_string()).encode("utf-8")

    def load(self, path: Path) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        raw = np.asarray(model.predict(self.frame(X)), dtype="float64")
        if task == "classification":
            return {"proba": _two_columns(raw) if n_classes == 2 else raw}
        return {"value": raw}


class CatBoostFramework(Framework):
    name, package, extension = "catboost", "catboost", ".cbm"
    magic = b"CBM1"

    @staticmethod
    def pool(X: pd.DataFrame, y: np.ndarray | None = None) -> Any:
        from catboost import Pool

        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        frame = X.astype({c: "object" for c in cats}) if cats else X
        return Pool(frame, label=y, cat_features=cats or None)

    def dumps(self, model: Any) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"model{self.extension}"
            model.save_model(str(path), format="cbm")
            return path.read_bytes()

    def load(self, path: Path) -> Any:
        from catboost import CatBoost

        model = CatBoost()
        model.load_model(str(path), format="cbm")
        return model

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        pool = self.pool(X)
        if task == "classification":
            proba = np.asarray(model.predict(pool, prediction_type="Probability"), "float64")
            return {"proba": proba.reshape(len(X), -1)}
        return {"value": np.asarray(model.predict(pool, prediction_type="RawFormulaVal"),
                                    dtype="float64").reshape(-1)}


class SklearnFramework(Framework):
    name, package, extension = "scikit-learn", "sklearn", ".skops"
    magic = b"PK\x03\x04"  # a zip

    def check(self, path: Path) -> None:
        """A zip whose skops schema holds only allowed node kinds and types."""
        check_types(path.read_bytes(), path.name)

    @staticmethod
    def array(X: pd.DataFrame) -> np.ndarray:
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        if cats:
            raise BundleError(
                f"Columns {cats} are categories; scikit-learn models need numbers. Use the "
                "recipe's one-hot encoding (categorical step with encoding 'onehot').")
        return X.to_numpy(dtype="float64")

    def dumps(self, model: Any) -> bytes:
        return dumps_skops(model)

    def load(self, path: Path) -> Any:
        return load_skops(path)

    def import_serializer(self) -> None:
        skops_io()  # 2.4-2.6 s of CPU in a fresh process

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        A = self.array(X)
        if task == "classification":
            proba = np.zeros((len(A), n_classes))
            proba[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(A)
            return {"proba": proba}
        if task == "regression":
            return {"value": np.asarray(model.predict(A), dtype="float64")}
        if task == "clustering":
            return {"cluster": np.asarray(model.predict(A), dtype="int64")}
        if task == "anomaly_detection":
            score = -np.asarray(model.score_samples(A), dtype="float64")
            return {"score": score, "is_anomaly": model.predict(A) == -1}
        return {"components": np.asarray(model.transform(A), dtype="float64")}


def _frameworks() -> tuple[Framework, ...]:
    from shipyard.bundle._transformers import TransformersFramework

    return (XGBoostFramework(), LightGBMFramework(), CatBoostFramework(), SklearnFramework(),
            TransformersFramework())


FRAMEWORKS: dict[str, Framework] = {f.name: f for f in _frameworks()}

from shipyard.bundle._torch_image import TorchImageFramework  # noqa: E402 - it subclasses Framework

FRAMEWORKS[TorchImageFramework.name] = TorchImageFramework()


def register_framework(framework: Framework) -> Framework:
    """Add an adapter to :data:`FRAMEWORKS` (the text adapters register from their module)."""
    if framework.name in FRAMEWORKS:
        raise ValueError(f"A framework named {framework.name!r} is already registered.")
    FRAMEWORKS[framework.name] = framework
    return framework


def get_framework(name: str) -> Framework:
    try:
        return FRAMEWORKS[name]
    except KeyError:
        raise BundleError(
            f"Unknown model framework {name!r}; this Shipyard loads {sorted(FRAMEWORKS)}."
        ) from None
