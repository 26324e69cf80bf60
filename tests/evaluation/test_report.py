"""EvaluationReport: JSON round trip, headline table, and HTML that shows in a notebook."""

from __future__ import annotations

import base64
import json
import re

import pytest

from shipyard.errors import InvalidRequest
from shipyard.evaluation import (
    EvaluationReport,
    baseline_metrics,
    classification_metrics,
    regression_metrics,
    scalar_metrics,
)

from .data import Classified, Regressed


@pytest.fixture(scope="module")
def report(binary: Classified) -> EvaluationReport:
    m = classification_metrics(binary.y_true, binary.proba, binary.labels)
    base = baseline_metrics("binary", binary.y_train, binary.y_true, binary.labels)
    return EvaluationReport(
        problem_type="binary", metrics={"validation": None, "test": m},
        curves={"train.logloss": [0.6, 0.5, 0.45], "validation.logloss": [0.62, 0.55, 0.52]},
        baseline={"test": base},
    )


def test_round_trips_through_json(report: EvaluationReport) -> None:
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["format_version"] == 1
    again = EvaluationReport.from_dict(data)
    assert again == report
    assert again.to_dict() == report.to_dict()


def test_to_dict_is_a_copy(report: EvaluationReport) -> None:
    data = report.to_dict()
    data["metrics"]["test"]["accuracy"] = -1
    assert report.metrics["test"]["accuracy"] != -1


def test_headline(report: EvaluationReport) -> None:
    rows = report.headline()
    assert list(rows) == ["test", "test (baseline)"]  # a split without metrics is left out
    assert rows["test"]["roc_auc"] == report.metrics["test"]["roc_auc"]
    assert rows["test (baseline)"]["roc_auc"] == pytest.approx(0.5)


def test_html_has_the_table_and_the_plots(report: EvaluationReport) -> None:
    page = report._repr_html_()
    assert "<table>" in page and "roc_auc" in page and "test (baseline)" in page
    assert f"{report.metrics['test']['roc_auc']:.4g}" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # confusion matrix, ROC/PR, learning curve
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)


def test_regression_report_html(regression: Regressed) -> None:
    m = regression_metrics(regression.y_true, regression.y_pred)
    page = EvaluationReport("regression", {"test": m})._repr_html_()
    assert "rmse" in page and page.count("data:image/png") == 1


def test_scalar_metrics(report: EvaluationReport) -> None:
    flat = scalar_metrics(report.metrics["test"])
    assert flat["roc_auc"] == report.metrics["test"]["roc_auc"]
    assert "per_class" not in flat and "positive_class" not in flat and "threshold" not in flat
    assert flat["n_samples"] == report.metrics["test"]["n_samples"]
    assert all(isinstance(v, float) for v in flat.values())


def test_bad_reports_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="Unknown problem type"):
        EvaluationReport("ranking", {})
    with pytest.raises(InvalidRequest, match="newer than this Shipyard reads"):
        EvaluationReport.from_dict({"format_version": 2, "problem_type": "binary", "metrics": {}})
    with pytest.raises(InvalidRequest, match="Not an evaluation report"):
        EvaluationReport.from_dict({"metrics": {}})
    with pytest.raises(InvalidRequest, match="must be a dict keyed by split"):
        EvaluationReport("binary", [])  # type: ignore[arg-type]
