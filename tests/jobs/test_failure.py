"""The failure sentence a job reports: the user's last frame and the cause, never a stack."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from shipyard.runtime._failure import error_line, exception_line, failure_sentence, user_frame

HELPER = """\
def column(df, name):
    return df[name]
"""

SCRIPT = """\
import helper

rows = {"tenure": [1, 2]}
value = helper.column(rows, "price")
"""


def _raised(code: Path, script: str) -> BaseException:
    try:
        runpy.run_path(str(code / script), run_name="__main__")
    except BaseException as exc:  # noqa: BLE001 - the test wants whatever it raised
        return exc
    raise AssertionError("the script did not fail")


def test_the_last_frame_of_user_code_is_named(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "helper.py").write_text(HELPER)
    (code / "train.py").write_text(SCRIPT)
    monkeypatch.syspath_prepend(str(code))
    exc = _raised(code, "train.py")
    # The failing line is in the user's own helper module, which is user code too.
    assert failure_sentence(exc, code) == "helper.py:2: KeyError: 'price'"
    assert user_frame(exc, tmp_path / "elsewhere") is None
    assert failure_sentence(exc) == "KeyError: 'price'"


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("x = 1\nif x\n    print(x)\n")
    exc = _raised(code, "train.py")
    assert failure_sentence(exc, code).startswith("train.py:2: SyntaxError: ")


def test_a_native_stack_is_dropped_for_the_line_naming_the_cause() -> None:
    import xgboost as xgb

    with pytest.raises(xgb.core.XGBoostError) as info:
        # A regression target under the logistic loss: XGBoost fails in C++ with a stack.
        xgb.XGBRegressor(n_estimators=2, objective="binary:logistic").fit(
            np.linspace(0, 1, 40).reshape(20, 2), np.arange(20.0))
    raw = str(info.value)
    assert "[bt]" in raw and len(raw.splitlines()) > 5  # what used to reach the user
    line = exception_line(info.value)
    assert line == ("XGBoostError: Check failed: is_valid: base_score must be in (0,1) for "
                    "the logistic loss.")
    assert failure_sentence(info.value, what="Training") == f"Training failed: {line}"


@pytest.mark.parametrize(("text", "expected"), [
    ("", ""),
    ("Input X contains NaN.\nLinearRegression does not accept missing values.",
     "Input X contains NaN. LinearRegression does not accept missing values."),
    ("[LightGBM] [Fatal] Cannot change max_bin after constructed Dataset handle.",
     "[LightGBM] [Fatal] Cannot change max_bin after constructed Dataset handle."),
    ("catboost/libs/data/model_dataset_compatibility.cpp:72: Feature tenure is Float in "
     "model but Categorical in pool\n#0 0x7f00 in NCB::Check\n#1 0x7f01 in main",
     "Feature tenure is Float in model but Categorical in pool"),
])
def test_error_lines(text: str, expected: str) -> None:
    assert error_line(text) == expected


def test_a_long_message_is_cut_to_one_bounded_line() -> None:
    line = error_line("x" * 2000 + "\n" + "y" * 10)
    assert "\n" not in line and len(line) <= 500 and line.endswith("…")
