"""The bias job's entry end to end: a working folder built by hand, a real trained bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.fairness import BiasConfig, bias_report
from shipyard.fairness._job import main
from shipyard.runtime import _contract as c
from shipyard.training import TrainingResult

CONFIG = {"label": "churn", "positive": ["Yes"], "label_threshold": None,
          "facet": "senior_citizen", "facet_values": None, "facet_threshold": None,
          "group": "contract"}


def job_folder(root: Path, rows: pd.DataFrame, config: dict, model: Path | None,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    (root / c.CONFIG_DIR).mkdir(parents=True)
    (root / c.CONFIG_DIR / "bias.json").write_text(json.dumps(config))
    data = root / c.INPUT_DATA_DIR / "dataset"
    data.mkdir(parents=True)
    half = len(rows) // 2        # two Parquet parts, read in order
    rows.iloc[:half].to_parquet(data / "part-00000.parquet", index=False)
    rows.iloc[half:].to_parquet(data / "part-00001.parquet", index=False)
    if model is not None:
        shutil.copytree(model, root / c.INPUT_MODEL_DIR)
    monkeypatch.setenv(c.ENV_JOB_DIR, str(root))
    return root


def logged(job: Path) -> dict[str, float]:
    lines = (job / c.METRICS_FILE).read_text().splitlines()
    return {m["name"]: m["value"] for m in map(json.loads, lines)
            if not m["name"].startswith("system.")}


def test_job_with_a_trained_bundle(tmp_path: Path, churn: pd.DataFrame,
                                   churn_bundle: TrainingResult,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    job = job_folder(tmp_path / "job", churn, CONFIG, churn_bundle.model_dir, monkeypatch)
    main(job)

    doc = json.loads((job / c.OUTPUT_DIR / "report.json").read_text())
    assert doc["config"] == CONFIG
    assert doc["model"]["task"] == "classification"
    assert doc["rows"] == {"total": 7043, "used": 7043, "dropped": 0,
                           "missing": {"label": 0, "facet": 0, "prediction": 0}}
    assert [f["facet"] for f in doc["facets"]] == ["senior_citizen = 0", "senior_citizen = 1"]

    # The same figures as the core computes from the bundle's own predictions.
    predicted = churn_bundle.pipeline.predict(churn)["prediction"]
    features = [e["name"] for e in churn_bundle.pipeline.input_signature]
    want = bias_report(churn, BiasConfig.from_dict(CONFIG), predicted, features=features)
    assert doc["facets"] == [f.to_dict() for f in want.facets]
    senior = doc["facets"][1]
    assert senior["post"]["DPPL"]["value"] == pytest.approx(
        (predicted[churn.senior_citizen == 0] == "Yes").mean()
        - (predicted[churn.senior_citizen == 1] == "Yes").mean())
    assert senior["ft_rows"] == 1142 and senior["post"]["FT"]["value"] is not None

    metrics = logged(job)
    first = doc["facets"][0]
    assert metrics["bias.pre.CI"] == pytest.approx(first["pre"]["CI"]["value"])
    assert metrics["bias.post.DPPL"] == pytest.approx(first["post"]["DPPL"]["value"])
    assert len(metrics) == sum(v["value"] is not None
                               for v in (*first["pre"].values(), *first["post"].values()))

    page = (job / c.OUTPUT_DIR / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2 * 21
    assert "http" not in page and "<script" not in page     # offline, no CDN, no code
    out = capsys.readouterr().out
    assert "senior_citizen = 1: CI" in out and "DPPL" in out


def test_job_without_a_model_reports_pre_training_only(
        tmp_path: Path, churn: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {**CONFIG, "facet": "female", "facet_values": ["1"], "group": None}
    job = job_folder(tmp_path / "job", churn, config, None, monkeypatch)
    main(job)
    doc = json.loads((job / c.OUTPUT_DIR / "report.json").read_text())
    assert doc["model"] is None and len(doc["facets"]) == 1
    assert doc["facets"][0]["post"] is None and doc["facets"][0]["ft_rows"] is None
    assert set(logged(job)) == {f"bias.pre.{k}" for k in doc["facets"][0]["pre"]}


def test_job_escapes_every_user_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = pd.DataFrame({"<b>label</b>": ["<i>yes</i>", "no", "no", "<i>yes</i>"],
                         "f": ["<script>x</script>", "<script>x</script>", "a", "a"]})
    config = {"label": "<b>label</b>", "positive": ["<i>yes</i>"], "facet": "f"}
    job = job_folder(tmp_path / "job", rows, config, None, monkeypatch)
    main(job)
    page = (job / c.OUTPUT_DIR / "report.html").read_text()
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_job_with_bad_settings_says_what_is_wrong(tmp_path: Path, churn: pd.DataFrame,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = {**CONFIG, "facet_values": ["senior"]}
    job = job_folder(tmp_path / "job", churn.head(50), config, None, monkeypatch)
    with pytest.raises(InvalidRequest, match="facet value 'senior' matches no row"):
        main(job)
    (job / c.CONFIG_DIR / "bias.json").unlink()
    with pytest.raises(InvalidRequest, match="bias.json; the file is missing"):
        main(job)
