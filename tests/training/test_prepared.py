"""A study's trials share one preparation of the data: training on it is training afresh."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from shipyard.bundle import read_manifest
from shipyard.errors import InvalidRequest
from shipyard.training import main
from shipyard.training._prepared import META_FILE, PreparedData, PreparedDataError

from .conftest import train
from .test_entry import _job_folder

CASES = [
    # Categories kept as such (lightgbm), numbers with missing values, a binary target.
    ("churn", "lightgbm", "churn", {"n_estimators": 40, "learning_rate": 0.2}),
    # Dozens of categorical columns, a regression target.
    ("ames", "lightgbm", "price", {"n_estimators": 40}),
    # One-hot encoding and scaling, three classes.
    ("penguins", "linear", "species", {}),
]


@pytest.mark.parametrize(("data", "algorithm", "target", "hp"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_trial_on_prepared_data_trains_the_same_model(
        request: pytest.FixtureRequest, tmp_path: Path, data: str, algorithm: str,
        target: str, hp: dict) -> None:
    df = request.getfixturevalue(data)
    split = {"fractions": [0.7, 0.2, 0.1]}
    fresh = train(df, algorithm, target, tmp_path / "fresh", hyperparameters=hp, split=split,
                  save_prepared=tmp_path / "prepared")
    assert (tmp_path / "prepared" / META_FILE).is_file()
    prepared = PreparedData.load(tmp_path / "prepared")
    light = PreparedData.load(tmp_path / "prepared", test=False)  # a trial scores no test
    assert len(light.X["test"]) == 0 and list(light.X["test"]) == list(prepared.X["test"])
    assert len(light.y["test"]) == len(prepared.X["test"]) > 0
    logged: list[str] = []
    again = train(pd.DataFrame(), algorithm, target, tmp_path / "again", hyperparameters=hp,
                  split=split, prepared=prepared, log=logged.append)
    assert again.metrics == fresh.metrics  # the very same numbers, validation and test
    for key in ("feature_names", "input_signature", "classes", "split", "hyperparameters"):
        assert again.manifest[key] == fresh.manifest[key], key
    assert (tmp_path / "again" / "recipe.json").read_bytes() == \
        (tmp_path / "fresh" / "recipe.json").read_bytes()
    assert any(line.startswith("[training] recipe:") for line in logged)  # notes kept
    # Another trial's hyperparameters are its own, checked as ever.
    with pytest.raises(InvalidRequest, match="no hyperparameter .no_such_setting."):
        train(pd.DataFrame(), algorithm, target, tmp_path / "bad",
              hyperparameters={"no_such_setting": 1}, split=split, prepared=prepared)


def test_prepared_data_that_reads_back_differently_is_refused(
        tmp_path: Path, churn: pd.DataFrame) -> None:
    train(churn, "lightgbm", "churn", tmp_path / "m", hyperparameters={"n_estimators": 5},
          save_prepared=tmp_path / "p")
    meta = json.loads((tmp_path / "p" / META_FILE).read_text())
    column = next(iter(meta["frames"]["validation"]["categories"]))
    meta["frames"]["validation"]["categories"][column] = ["not", "the", "labels"]
    (tmp_path / "p" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(PreparedDataError, match="categories"):
        PreparedData.load(tmp_path / "p")
    (tmp_path / "p" / "fit.parquet").unlink()
    with pytest.raises(PreparedDataError):
        PreparedData.load(tmp_path / "p")


def test_the_entry_trains_on_a_study_s_prepared_data_or_prepares_it_again(
        tmp_path: Path, churn: pd.DataFrame, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_NUM_CPUS", "1")
    monkeypatch.delenv("SHIPYARD_MODEL_DIR", raising=False)
    config = {"algorithm": "lightgbm", "target": "churn", "score_test": False, "plots": False}
    first = _job_folder(tmp_path / "j0", churn, {**config, "prepared": {"save": True}},
                        {"n_estimators": 20})
    monkeypatch.setenv("SHIPYARD_JOB_DIR", str(first))
    main(first)
    saved = first / "output" / "prepared"
    assert (saved / META_FILE).is_file()

    later = _job_folder(tmp_path / "j1", churn, {**config, "prepared": {"from": "job-0"}},
                        {"n_estimators": 30})
    (later / "input" / "prepared").mkdir()
    for f in saved.iterdir():
        (later / "input" / "prepared" / f.name).write_bytes(f.read_bytes())
    (later / "input" / "data" / "train" / "part-00000.parquet").unlink()  # not read at all
    monkeypatch.setenv("SHIPYARD_JOB_DIR", str(later))
    capsys.readouterr()
    main(later)
    out = capsys.readouterr().out
    assert "data as trial job job-0 of the study prepared it" in out
    assert not (later / "output" / "prepared").exists()  # kept once is enough

    broken = _job_folder(tmp_path / "j2", churn, {**config, "prepared": {"from": "job-0"}},
                         {"n_estimators": 30})
    (broken / "input" / "prepared").mkdir()
    (broken / "input" / "prepared" / META_FILE).write_text("{not json")
    monkeypatch.setenv("SHIPYARD_JOB_DIR", str(broken))
    main(broken)
    out = capsys.readouterr().out
    assert "prepared data is not usable" in out and "preparing it again" in out
    one = read_manifest(later / "model")["metrics"]
    two = read_manifest(broken / "model")["metrics"]
    assert one == two  # the same settings on the same data, however it was prepared
