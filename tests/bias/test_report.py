"""The result object: JSON-safe, rendered for notebooks, and a runtime-layer package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from shipyard.fairness import METRICS, BiasConfig, bias_report

SRC = Path(__file__).resolve().parents[2] / "src"


def test_to_dict_is_json_safe_with_nulls_and_reasons() -> None:
    # Facet d never predicted positive and a without false positives: DI stays defined,
    # TE divides by zero → null with a reason, never inf.
    df = pd.DataFrame({"f": ["d", "d", "a", "a"], "y": [1, 0, 1, 0]})
    report = bias_report(df, BiasConfig(label="y", positive=(1,), facet="f",
                                        facet_values=("d",)), [0, 0, 1, 0])
    doc = report.to_dict()
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
    te = doc["facets"][0]["post"]["TE"]
    assert te["value"] is None and te["reason"]
    assert set(doc["metrics"]) == set(METRICS)
    assert doc["metrics"]["DI"]["range"] == [0, None] and doc["metrics"]["DI"]["fair"] == 1


def test_repr_html_is_a_fragment() -> None:
    df = pd.DataFrame({"f": ["d", "d", "a", "a"], "y": [1, 0, 1, 1]})
    html = bias_report(df, BiasConfig(label="y", positive=(1,), facet="f"))._repr_html_()
    assert html.startswith('<div class="shipyard-bias">') and "<html" not in html
    assert "Facet d: f = a" in html and "Facet d: f = d" in html


def test_package_imports_no_server_module_and_no_sklearn() -> None:
    code = ("import sys, shipyard.fairness, shipyard.fairness._job; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'sklearn' or m.split('.')[:2]"
            " in (['shipyard','jobs'], ['shipyard','api'], ['shipyard','store'], "
            "['shipyard','registry'])]; print(bad)")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == "[]"
