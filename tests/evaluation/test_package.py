"""The package surface: public names, and an import that stays light."""

from __future__ import annotations

import subprocess
import sys

import shipyard.evaluation as evaluation


def test_public_names_are_exported() -> None:
    for name in evaluation.__all__:
        assert getattr(evaluation, name) is not None
    assert {"classification_metrics", "split_frame", "render_plots", "EvaluationReport"} <= set(
        evaluation.__all__
    )


def test_import_loads_neither_sklearn_nor_matplotlib() -> None:
    code = (
        "import sys, shipyard.evaluation; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'matplotlib', 'scipy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
