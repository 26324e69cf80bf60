"""The monitoring report: one JSON snapshot with every alert, and its offline HTML page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.monitoring import (
    Baseline,
    MonitoringReport,
    build_report,
    compute_baseline,
    model_quality,
    render_html,
)

WHEN = datetime(2024, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def report(baseline_h1: Baseline, flights_h2: pd.DataFrame) -> MonitoringReport:
    return build_report(baseline_h1, flights_h2, created_at=WHEN,
                        meta={"monitor": "flights", "window": "2013-07/2013-12"})


def test_no_alert_on_a_random_split_of_the_same_months(
        random_halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, b = random_halves
    result = build_report(compute_baseline(a), b)
    assert result.alerts == ()
    assert result.quality is not None and result.quality.ok
    assert result.drift is not None and result.drift.drifted_columns == []


def test_second_half_of_the_year_alerts_on_month(report: MonitoringReport) -> None:
    kinds = {(a.kind, a.check, a.column) for a in report.alerts}
    assert kinds == {("data_quality", "out_of_range", "month"), ("drift", "wasserstein", "month")}
    drift = report.alerts_of("drift")[0]
    assert drift.observed > 3 and drift.threshold == 0.1
    assert drift.message.startswith("Drift in column 'month': Wasserstein distance")


def test_snapshot_is_json_and_round_trips(report: MonitoringReport) -> None:
    text = json.dumps(report.to_dict(), allow_nan=False)
    doc = json.loads(text)
    assert doc["format"] == "shipyard.monitoring.report/1"
    assert doc["created_at"] == WHEN.isoformat() and doc["meta"]["monitor"] == "flights"
    assert doc["n_current_rows"] == report.n_current_rows
    assert doc["drift"]["drifted_columns"] == ["month"]
    assert len(doc["alerts"]) == 2
    assert MonitoringReport.from_dict(doc).to_dict() == doc


def test_snapshot_format_is_checked() -> None:
    with pytest.raises(InvalidRequest, match="Not a monitoring report"):
        MonitoringReport.from_dict({"format": "evidently"})
    with pytest.raises(InvalidRequest, match="damaged"):
        MonitoringReport.from_dict({"format": MonitoringReport.FORMAT})


def test_html_page_is_offline_and_draws_every_part(report: MonitoringReport) -> None:
    page = render_html(MonitoringReport.from_dict(report.to_dict()))  # from the JSON alone
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert not re.search(r"(src|href)=\"https?://", page)  # nothing fetched from anywhere
    tested = [c for c in report.drift.columns if c.tested]
    # one chart per tested feature, plus the drift-score chart
    assert page.count("<svg") == len(tested) + 1
    assert "month" in page and "skipped: identifier column" in page


def test_html_escapes_column_names_and_categories() -> None:
    evil = '<script>alert("x")</script>'
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({evil: rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    cur = pd.DataFrame({evil: rng.normal(3, 1, size=500), "c": rng.choice(["a", evil], 500)})
    page = render_html(build_report(compute_baseline(ref), cur))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_model_quality_section_and_notebook_view(report: MonitoringReport,
                                                 baseline_h1: Baseline,
                                                 flights_h2: pd.DataFrame) -> None:
    days = pd.date_range("2024-05-01", periods=300, freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    truth_y = rng.normal(size=300)
    preds = pd.DataFrame({"inference_id": [str(i) for i in range(300)], "timestamp": days,
                          "prediction": truth_y + rng.normal(0, np.linspace(0.1, 2, 300))})
    labels = pd.DataFrame({"inference_id": preds["inference_id"], "label": truth_y})
    mq = model_quality(preds, labels, problem_type="regression", window="3D",
                       baseline_metrics={"rmse": 0.2, "mae": 0.15})
    full = build_report(baseline_h1, flights_h2.iloc[:3000], model_quality=mq)
    assert mq.alerts and all(a in full.alerts for a in mq.alerts)
    fragment = full._repr_html_()
    assert fragment.startswith('<div class="shipyard-monitoring">')
    assert "rmse over time" in fragment and "<polyline" in fragment
    assert "baseline 0.2" in fragment


def test_categories_never_seen_in_training_are_counted_from_the_capture(
        baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    window = flights_h2.iloc[:200].copy()
    # As instances write it: the columns of a row whose category the model never saw.
    window["unseen"] = None
    window.loc[window.index[:3], "unseen"] = "carrier"
    window.loc[window.index[:3], "carrier"] = ["ZZ", "ZZ", "QQ"]
    window.loc[window.index[3], "unseen"] = "carrier,origin"
    result = build_report(baseline_h1, window, created_at=WHEN)
    unseen = result.unseen_categories
    assert unseen is not None and unseen["rows"] == 4 and unseen["share"] == 4 / 200
    assert unseen["columns"]["carrier"]["rows"] == 4
    assert unseen["columns"]["carrier"]["values"]["ZZ"] == 2
    assert unseen["columns"]["origin"]["rows"] == 1
    # The capture's own column is not an input: no quality violation, no drift test.
    assert result.quality is not None
    assert "unseen" not in {v.column for v in result.quality.violations}
    doc = result.to_dict()
    assert MonitoringReport.from_dict(doc).to_dict() == doc
    assert "Categories the model never saw" in render_html(result)
    assert build_report(baseline_h1, flights_h2.iloc[:50]).unseen_categories is None
