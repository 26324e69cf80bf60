"""skops.io is imported without walking into PyTorch or scikit-learn's test packages, and
lists the same scikit-learn estimators as a plain import (shipyard.bundle._skops)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

_LIST = ("import json, sys; from skops.io import _trusted_types as t; "
         "print(json.dumps({'estimators': sorted(t.SKLEARN_ESTIMATOR_TYPE_NAMES), "
         "'torch': 'torch' in sys.modules}))")


def _run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_skops_lists_the_same_estimators_as_a_plain_import() -> None:
    plain = _run(_LIST)
    ours = _run("from shipyard.bundle._skops import skops_io; skops_io(); " + _LIST)
    assert ours["estimators"] == plain["estimators"]
    assert len(ours["estimators"]) > 100  # type: ignore[arg-type]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch is not installed (the text extra): nothing to keep out")
def test_loading_a_scikit_learn_model_does_not_import_pytorch(tmp_path) -> None:
    from sklearn.linear_model import Ridge

    from shipyard.bundle._skops import dumps_skops

    path = tmp_path / "model.skops"
    model = Ridge().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    path.write_bytes(dumps_skops(model))
    got = _run("import json, sys; from pathlib import Path; "
               "from shipyard.bundle._skops import load_skops; "
               f"m = load_skops(Path({str(path)!r})); "
               "print(json.dumps({'pred': float(m.predict([[3.0]])[0]), "
               "'torch': 'torch' in sys.modules, "
               "'blocked_after': __import__('importlib').util.find_spec("
               "'sklearn.externals.array_api_compat.torch') is not None}))")
    assert got["pred"] == pytest.approx(float(model.predict([[3.0]])[0]))
    assert got["torch"] is False
    # The refusal lasts only while skops.io is imported.
    assert got["blocked_after"] is True
    # A plain import, for contrast, does import it (else this test proves nothing).
    assert _run(_LIST)["torch"] is True
