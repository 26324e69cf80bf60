"""Success criteria: parsing and judging (pure)."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidRequest
from shipyard.experiments import Criterion, evaluate_criteria, nest_metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("roc_auc>=0.80@test", Criterion("roc_auc", ">=", 0.80, "test")),
        ("roc_auc >= 0.8", Criterion("roc_auc", ">=", 0.8, "test")),
        ("mape<=5%", Criterion("mape", "<=", 0.05, "test")),
        ("rmse < 20000 @ validation", Criterion("rmse", "<", 20000.0, "validation")),
    ],
)
def test_parse(text: str, expected: Criterion) -> None:
    assert Criterion.parse(text) == expected
    assert Criterion.parse(expected.to_dict()) == expected


@pytest.mark.parametrize("bad", ["roc_auc", "roc_auc => 0.8", "roc_auc>=abc", "auc>=0.8@holdout",
                                 {"metric": "auc"}, "auc>=nan"])
def test_parse_errors_say_how_to_write_it(bad: object) -> None:
    with pytest.raises(InvalidRequest):
        Criterion.parse(bad)  # type: ignore[arg-type]


def test_evaluate() -> None:
    crits = [{"metric": "roc_auc", "op": ">=", "threshold": 0.8, "split": "test"}]
    assert evaluate_criteria(crits, {"test.roc_auc": 0.83})["passed"] is True
    failed = evaluate_criteria(crits, {"test.roc_auc": 0.79})
    assert failed["passed"] is False and failed["results"][0]["value"] == 0.79
    assert evaluate_criteria(crits, {"validation.roc_auc": 0.9})["passed"] is None
    assert evaluate_criteria([], {"test.roc_auc": 0.9}) == {"passed": None, "results": []}
    two = crits + ["mape<=5%"]
    assert evaluate_criteria(two, {"test.roc_auc": 0.9, "test.mape": 0.2})["passed"] is False


def test_nest_metrics() -> None:
    assert nest_metrics({"test.roc_auc": 0.8, "validation.rmse": 3.0, "loss": 1.0}) == {
        "test": {"roc_auc": 0.8}, "validation": {"rmse": 3.0}, "": {"loss": 1.0}}
