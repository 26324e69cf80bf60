"""Categories the model never saw in training: counted, said, or refused per endpoint; and
the capture flush a manual monitor run asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.serving import read_capture

from .helpers import Instance, load, start_instance, train

#: A real neighbourhood of ames the model is trained without (8 houses).
HELD_OUT = "Greens"


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load("ames")


@pytest.fixture(scope="module")
def bundle(ames: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(ames[ames["Neighborhood"] != HELD_OUT], "linear", "price",
                 tmp_path_factory.mktemp("unseen") / "ames-linear")


@pytest.fixture(scope="module")
def rare(bundle: Path) -> str:
    """A neighbourhood the training split held too rarely to encode (it became __other__)."""
    entry = {e["name"]: e for e in load_bundle(bundle).input_signature}["Neighborhood"]
    return sorted(set(entry["seen"]) - set(entry["categories"]))[0]


def _rows(ames: pd.DataFrame, neighbourhoods: list[str]) -> list[dict[str, Any]]:
    picked = pd.concat([ames[ames["Neighborhood"] == n].head(1) for n in neighbourhoods])
    return json.loads(picked.drop(columns="price").to_json(orient="records"))


def _post(inst: Instance, rows: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{inst.url}/invocations", json=rows, timeout=30)


def test_the_signature_lists_every_category_seen_in_training(bundle: Path, ames: pd.DataFrame,
                                                             rare: str) -> None:
    entry = {e["name"]: e for e in load_bundle(bundle).input_signature}["Neighborhood"]
    trained = set(ames.loc[ames["Neighborhood"] != HELD_OUT, "Neighborhood"])
    # The encoder keeps the frequent ones; the signature knows every one the training
    # split held (the rows split off for validation and test may hold a few more).
    assert len(entry["categories"]) == 20 and rare not in entry["categories"]
    assert set(entry["categories"]) < set(entry["seen"]) <= trained
    assert len(entry["seen"]) >= len(trained) - 3 and HELD_OUT not in entry["seen"]


def test_warn_answers_counts_and_says_so(bundle: Path, ames: pd.DataFrame, rare: str,
                                         tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    inst = start_instance(bundle, tmp_path, "--capture-dir", str(capture),
                          "--capture-percent", "100", "--capture-flush-seconds", "3600")
    try:
        r = _post(inst, _rows(ames, ["NAmes", HELD_OUT, rare, HELD_OUT]))
        assert r.status_code == 200, r.text
        doc = r.json()
        assert len(doc["predictions"]) == 4
        assert doc["unseen_categories"] == {"Neighborhood": {HELD_OUT: 2}}
        assert r.headers["x-shipyard-unseen-categories"] == "2"
        clean = _post(inst, _rows(ames, ["NAmes", rare]))
        assert "unseen_categories" not in clean.json()
        assert "x-shipyard-unseen-categories" not in clean.headers
        health = httpx.get(f"{inst.url}/health").json()["unseen_categories"]
        assert health["mode"] == "warn" and health["rows"] == 2
        assert "Neighborhood" in health["checked_columns"]
        assert health["columns"]["Neighborhood"] == {"rows": 2, "values": {HELD_OUT: 2}}
        # The writer would wait an hour; a flush writes now, and says which file.
        flushed = httpx.post(f"{inst.url}/capture/flush", timeout=30).json()
        assert flushed["capture"] is True and flushed["file"].startswith("capture-")
        rows = read_capture(capture)
        assert len(rows) == 6
        flagged = rows[rows["unseen"].notna()]
        assert list(flagged["Neighborhood"]) == [HELD_OUT, HELD_OUT]
        assert set(flagged["unseen"]) == {"Neighborhood"}
        assert httpx.post(f"{inst.url}/capture/flush").json()["file"] is None  # nothing left
        assert httpx.get(f"{inst.url}/capture/flush").status_code == 405
    finally:
        inst.terminate()


def test_allow_answers_and_only_counts(bundle: Path, ames: pd.DataFrame, tmp_path: Path) -> None:
    inst = start_instance(bundle, tmp_path, "--unseen-categories", "allow")
    try:
        r = _post(inst, _rows(ames, [HELD_OUT]))
        assert r.status_code == 200 and "unseen_categories" not in r.json()
        assert "x-shipyard-unseen-categories" not in r.headers
        health = httpx.get(f"{inst.url}/health").json()["unseen_categories"]
        assert health["mode"] == "allow" and health["rows"] == 1
        # No capture configured: a flush has nothing to do and says so.
        assert httpx.post(f"{inst.url}/capture/flush").json() == {"capture": False,
                                                                   "file": None}
    finally:
        inst.terminate()


def test_refuse_is_a_422_naming_the_column_and_value(bundle: Path, ames: pd.DataFrame,
                                                     rare: str, tmp_path: Path) -> None:
    inst = start_instance(bundle, tmp_path, "--unseen-categories", "refuse")
    try:
        r = _post(inst, _rows(ames, ["NAmes", HELD_OUT, rare]))
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["details"] == {"field": "Neighborhood", "row": 1, "value": HELD_OUT}
        assert f"Column 'Neighborhood' has the category '{HELD_OUT}' in row 1" in \
            error["message"] and "never saw in training" in error["message"]
        ok = _post(inst, _rows(ames, ["NAmes", rare]))  # a rare category is not unseen
        assert ok.status_code == 200, ok.text
    finally:
        inst.terminate()
