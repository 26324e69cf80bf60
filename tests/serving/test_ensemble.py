"""Ensemble bundles: written from real members, verified as one, served by a real process.

The members are the session's real bundles (xgboost, lightgbm and a linear model on
each data set, each with its own recipe); an ensemble's predictions must be the weighted
mean of what each member predicts on its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import (
    BundleError,
    EnsemblePipeline,
    check_bundle,
    load_bundle,
    write_ensemble,
)
from shipyard.serving import Predictor

from .helpers import Instance, target

MEMBERS = (("xgboost", 3.0), ("lightgbm", 2.0), ("linear", 1.0))


def ensemble(bundles: dict, name: str, dest: Path) -> Path:
    write_ensemble(dest, [(bundles[(name, algo)], w) for algo, w in MEMBERS],
                   manifest={"description": "test ensemble"})
    return dest


@pytest.fixture(scope="module")
def ensembles(bundles: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ensembles")
    return {name: ensemble(bundles, name, root / name) for name in ("churn", "penguins", "ames")}


def expected(bundles: dict, name: str, rows: pd.DataFrame) -> np.ndarray:
    total = sum(w for _, w in MEMBERS)
    key = "value" if name == "ames" else "proba"
    return sum(w / total * load_bundle(bundles[(name, algo)]).outputs(rows)[key]
               for algo, w in MEMBERS)


@pytest.mark.parametrize("name", ["churn", "penguins", "ames"])
def test_an_ensemble_predicts_the_weighted_mean_of_its_members(
        name: str, ensembles: dict, bundles: dict, frames: dict) -> None:
    manifest = check_bundle(ensembles[name])
    assert manifest["framework"] == {"name": "ensemble"}
    assert [m["weight"] for m in manifest["members"]] == pytest.approx([0.5, 1 / 3, 1 / 6])
    assert manifest["description"] == "test ensemble"
    pipeline = load_bundle(ensembles[name])
    assert isinstance(pipeline, EnsemblePipeline)
    rows = frames[name].drop(columns=target(name)).sample(300, random_state=1)
    out = pipeline.predict(rows.reset_index(drop=True))
    want = expected(bundles, name, rows)
    if name == "ames":
        np.testing.assert_allclose(out["prediction"], want, rtol=1e-12)
    else:
        classes = pipeline.classes or []
        got = out[[f"probability.{c}" for c in classes]].to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        assert out["prediction"].tolist() == [classes[i] for i in want.argmax(axis=1)]
    # The members read their own columns; the ensemble asks for the union of them.
    for algo, _ in MEMBERS:
        member = {e["name"] for e in load_bundle(bundles[(name, algo)]).input_signature}
        assert member <= {e["name"] for e in pipeline.input_signature}


def test_a_predictor_serves_an_ensemble_through_the_general_path(
        ensembles: dict, frames: dict) -> None:
    predictor = Predictor(load_bundle(ensembles["churn"]))
    assert predictor.fast is None and "ensemble" in predictor.fast_reason


def test_a_served_ensemble_answers_like_the_pipeline(
        ensembles: dict, bundles: dict, frames: dict, serve) -> None:
    inst: Instance = serve(ensembles["penguins"])
    rows = frames["penguins"].drop(columns="species").dropna().head(40).reset_index(drop=True)
    r = httpx.post(f"{inst.url}/invocations", content=rows.to_json(orient="records"),
                   headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    want = expected(bundles, "penguins", rows)
    got = [[p[c] for c in doc["labels"]] for p in doc["probabilities"]]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    health = httpx.get(f"{inst.url}/health").json()
    assert health["framework"] == {"name": "ensemble"}
    # A column no member reads is refused, as for any bundle.
    bad = rows.head(1).assign(nonsense=1)
    r = httpx.post(f"{inst.url}/invocations", content=bad.to_json(orient="records"),
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nonsense" in r.text


def copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def rewrite_manifest(folder: Path, change) -> None:  # noqa: ANN001 - a small test helper
    doc = json.loads((folder / "MODEL.json").read_text())
    change(doc)
    (folder / "MODEL.json").write_text(json.dumps(doc))


def test_an_altered_member_file_refuses_the_whole_ensemble(
        ensembles: dict, tmp_path: Path) -> None:
    folder = copy(ensembles["churn"], tmp_path / "e")
    model = next(p for p in (folder / "members" / "01").iterdir() if p.suffix == ".txt")
    model.write_bytes(model.read_bytes().replace(b"tree", b"TREE", 1))
    with pytest.raises(BundleError, match="altered"):
        load_bundle(folder)
    folder = copy(ensembles["churn"], tmp_path / "f")
    (folder / "members" / "00" / "extra.bin").write_bytes(b"x")
    with pytest.raises(BundleError, match="not listed"):
        check_bundle(folder)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["members"][0].update(path="../members/00"), "not of the form"),
    (lambda d: d["members"][0].update(path="/etc"), "not of the form"),
    (lambda d: d["members"][1].update(path="members/00"), "listed twice"),
    (lambda d: d["members"][0].update(weight=-1), "positive number"),
    (lambda d: d["members"][0].update(weight=float("nan")), "positive number"),
    (lambda d: d["members"][0].update(weight=True), "positive number"),
    (lambda d: d.update(members=[]), "must list its members"),
    (lambda d: d.update(members=[{"path": f"members/{i:02d}", "weight": 1}
                                 for i in range(65)]), "at most 64"),
    (lambda d: d["members"].append({"path": "members/07", "weight": 1}), "no MODEL.json"),
    (lambda d: d.update(task="clustering"), "classifiers or regressors"),
    (lambda d: d.update(classes=["Yes", "No"]), "same order"),
])
def test_a_forged_ensemble_manifest_is_refused(
        change, message: str, ensembles: dict, tmp_path: Path) -> None:  # noqa: ANN001
    folder = copy(ensembles["churn"], tmp_path / "e")
    rewrite_manifest(folder, change)
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)


def test_members_must_agree_and_never_nest(
        ensembles: dict, bundles: dict, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="predicts"):
        write_ensemble(tmp_path / "mixed", [(bundles[("churn", "xgboost")], 1.0),
                                            (bundles[("penguins", "xgboost")], 1.0)])
    assert not (tmp_path / "mixed").exists()
    with pytest.raises(BundleError, match="itself an ensemble"):
        write_ensemble(tmp_path / "nested", [(ensembles["churn"], 1.0)])
    with pytest.raises(BundleError, match="positive number"):
        write_ensemble(tmp_path / "zero", [(bundles[("churn", "xgboost")], 0.0)])
    # A failed write leaves no ensemble and no partial folder behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_ensemble_is_written_only_into_a_new_or_empty_folder(
        bundles: dict, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not an empty folder"):
        write_ensemble(busy, [(bundles[("churn", "linear")], 1.0)])
    assert (busy / "keep.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    write_ensemble(empty, [(bundles[("churn", "linear")], 1.0)])
    assert isinstance(load_bundle(empty), EnsemblePipeline)
