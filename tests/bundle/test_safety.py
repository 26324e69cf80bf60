"""Nothing in a bundle is ever unpickled: pickle canaries never fire, and no code imports pickle."""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.svm import SVC

import shipyard
from shipyard.bundle import ALLOWED_TYPES, BundleError, check_types, load_bundle, load_skops
from shipyard.training import TrainingResult

from .conftest import train
from .test_bundle import rebundle


class Canary:
    """Touches its marker file when it is rebuilt from its state: loading it runs code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state: dict) -> None:
        Path(state["marker"]).touch()
        self.__dict__.update(state)


class PickleCanary:
    """Unpickling this calls a function: ``Path.touch(marker)``, which creates the marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (Path(self.marker),))


def _skops_canary(marker: Path) -> bytes:
    data = sio.dumps(Canary(str(marker)))
    # The payload is live: a load that trusts what skops reports would run it.
    armed = marker.with_name("armed")
    sio.loads(sio.dumps(Canary(str(armed))),
              trusted=sio.get_untrusted_types(data=sio.dumps(Canary(str(armed)))))
    assert armed.exists()
    return data


def _function_node_skops() -> bytes:
    """A skops file whose schema asks for a function (os.system) to be resolved and called."""
    schema = {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode",
              "content": {"module_path": "os", "function": "system"},
              "protocol": 2, "_skops_version": "0.16.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    return buf.getvalue()


@pytest.fixture(scope="module")
def sklearn_bundle(tmp_path_factory: pytest.TempPathFactory, churn) -> TrainingResult:
    return train(churn, "random-forest", "churn", tmp_path_factory.mktemp("rf") / "model")


def test_a_skops_canary_is_refused_and_never_fires(sklearn_bundle: TrainingResult,
                                                   tmp_path: Path) -> None:
    marker = tmp_path / "fired"
    bundle = rebundle(sklearn_bundle.model_dir, tmp_path / "b",
                      {"model.skops": _skops_canary(marker)})
    with pytest.raises(BundleError, match="not on Shipyard's allow-list"):
        load_bundle(bundle)
    assert not marker.exists()


@pytest.mark.parametrize("model_file", ["model.skops", "model.ubj", "model.txt", "model.cbm"])
def test_a_pickle_named_like_a_model_file_is_refused_and_never_fires(
    model_file: str, sklearn_bundle: TrainingResult, tmp_path: Path,
) -> None:
    marker = tmp_path / "fired"
    payload = pickle.dumps(PickleCanary(str(marker)))
    framework = {"model.skops": "scikit-learn", "model.ubj": "xgboost", "model.txt": "lightgbm",
                 "model.cbm": "catboost"}[model_file]
    bundle = rebundle(sklearn_bundle.model_dir, tmp_path / "b",
                      {"model.skops": None, model_file: payload}, model_files=[model_file],
                      framework={"name": framework, "version": "any"})
    with pytest.raises(BundleError):
        load_bundle(bundle)
    assert not marker.exists()
    # The payload is live: unpickling it is exactly what would have fired.
    pickle.loads(payload)  # noqa: S301 - the test proves the canary is armed
    assert marker.exists()


def test_function_nodes_and_unlisted_sklearn_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(_function_node_skops())
    with pytest.raises(BundleError, match="'FunctionNode' node, which could run code"):
        load_skops(path)
    # skops trusts SVC by default; Shipyard's allow-list does not name it.
    svc = SVC().fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    path.write_bytes(sio.dumps(svc))
    with pytest.raises(BundleError, match="sklearn.svm._classes.SVC"):
        load_skops(path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(BundleError, match="is not a skops file"):
        load_skops(path)


def test_a_tree_pointing_outside_itself_is_refused(sklearn_bundle: TrainingResult,
                                                   tmp_path: Path) -> None:
    model = load_skops(sklearn_bundle.model_dir / "model.skops")
    tree = model.estimators_[0].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    inner = next(i for i in range(len(nodes)) if nodes[i]["left_child"] != -1)
    nodes[inner]["left_child"] = 10**6
    state["nodes"] = nodes
    tree.__setstate__(state)
    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps(model))
    with pytest.raises(BundleError, match="nodes point outside it"):
        load_skops(path)


def test_the_built_in_types_are_exactly_allowed(sklearn_bundle: TrainingResult) -> None:
    kinds = check_types((sklearn_bundle.model_dir / "model.skops").read_bytes())
    assert "sklearn.ensemble._forest.RandomForestClassifier" in kinds
    assert set(kinds) <= ALLOWED_TYPES


_FORBIDDEN = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|_pickle|joblib|cloudpickle|dill)\b"
                        r"|\bjoblib\b|\bcloudpickle\b|\bdill\b|\btorch\.load\b|pickle\.loads?\(",
                        re.MULTILINE)


def test_no_module_of_shipyard_uses_pickle_for_persistence() -> None:
    root = Path(shipyard.__file__).parent
    offenders = [f"{p.relative_to(root)}: {m.group(0).strip()}"
                 for p in sorted(root.rglob("*.py"))
                 for m in _FORBIDDEN.finditer(p.read_text(encoding="utf-8"))]
    assert offenders == []
