"""``check_bundle``: every load check without loading, so registration can refuse early."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shipyard.bundle import BundleError, check_bundle, load_bundle
from shipyard.training import TrainingResult

from .conftest import train
from .test_bundle import rebundle
from .test_safety import PickleCanary

FRAMEWORK_FILES = {"xgboost": "model.ubj", "lightgbm": "model.txt", "catboost": "model.cbm",
                   "scikit-learn": "model.skops"}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame) -> dict[str, Path]:
    """One real bundle per framework (small models on 1,000 churn rows)."""
    rows = churn.head(1000)
    out = {}
    for framework, algorithm in (("xgboost", "xgboost"), ("lightgbm", "lightgbm"),
                                 ("catboost", "catboost"), ("scikit-learn", "linear")):
        result: TrainingResult = train(rows, algorithm, "churn",
                                       tmp_path_factory.mktemp(algorithm) / "model")
        out[framework] = result.model_dir
    return out


def test_real_bundles_pass_and_nothing_is_imported_to_check_them(bundles: dict[str, Path]) -> None:
    for framework, path in bundles.items():
        assert check_bundle(path)["framework"]["name"] == framework
    probe = ("import json, sys; from pathlib import Path; "
             "from shipyard.bundle import check_bundle; "
             "[check_bundle(Path(p)) for p in sys.argv[1:]]; "
             "loaded = {'xgboost', 'lightgbm', 'catboost', 'sklearn', 'skops', 'pickle'} "
             "& set(sys.modules); print(json.dumps(sorted(loaded)))")
    r = subprocess.run([sys.executable, "-c", probe, *map(str, bundles.values())],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # No framework and no deserializer was needed (pickle only as a stdlib dependency).
    assert set(json.loads(r.stdout)) <= {"pickle"}


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_FILES))
def test_a_pickle_as_the_model_file_is_refused_by_the_check(
        framework: str, bundles: dict[str, Path], tmp_path: Path) -> None:
    marker = tmp_path / "fired"
    name = FRAMEWORK_FILES[framework]
    bundle = rebundle(bundles[framework], tmp_path / "b",
                      {name: pickle.dumps(PickleCanary(str(marker)))})
    expected = "not a skops file" if framework == "scikit-learn" else "is a Python pickle"
    with pytest.raises(BundleError, match=expected) as refused:
        check_bundle(bundle)
    assert repr(name) in refused.value.message
    with pytest.raises(BundleError, match=expected):
        load_bundle(bundle)  # load refuses it by the same check
    assert not marker.exists()


def test_a_file_of_another_format_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    lightgbm_text = (bundles["lightgbm"] / "model.txt").read_bytes()
    bundle = rebundle(bundles["xgboost"], tmp_path / "b", {"model.ubj": lightgbm_text})
    with pytest.raises(BundleError, match=r"'model.ubj' is not a xgboost file \(it starts with"):
        check_bundle(bundle)


def test_names_that_are_not_checked_files_are_refused(bundles: dict[str, Path],
                                                      tmp_path: Path) -> None:
    src = bundles["scikit-learn"]
    outside = rebundle(src, tmp_path / "a", {}, model_files=["../model.skops"])
    with pytest.raises(BundleError, match="not one of the files MODEL.json lists"):
        check_bundle(outside)
    recipe = rebundle(src, tmp_path / "b", {}, recipe="elsewhere.json")
    with pytest.raises(BundleError, match="recipe 'elsewhere.json' is not one of the files"):
        check_bundle(recipe)
    (src / "notes.txt").write_text("added later")
    try:
        with pytest.raises(BundleError, match=r"not listed in MODEL.json: \['notes.txt'\]"):
            check_bundle(src)
    finally:
        (src / "notes.txt").unlink()
