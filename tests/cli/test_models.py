"""`shipyard models …` and `shipyard experiments …` with script jobs that save a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.testing import LocalServer

from .helpers import Run, ok, ok_json, one_sentence_error, run_cli

SAVE_MODEL = """\
from shipyard import runtime
from shipyard.testing.bundles import write_handmade_bundle
hp = runtime.hyperparameters()
write_handmade_bundle(runtime.model_dir())
runtime.log_metric("test.roc_auc", hp["auc"])
"""


@pytest.fixture(scope="module")
def scored_jobs(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Jobs of experiment cli-exp (roc_auc >= 0.8 on test): 0.91 passes, 0.55 fails."""
    env = server.sdk_env()
    script = tmp_path_factory.mktemp("scripts") / "save.py"
    script.write_text(SAVE_MODEL)
    created = ok_json(run_cli("experiments", "create", "cli-exp", "--problem", "Keep them.",
                              "--criterion", "roc_auc>=0.80@test", "--json", env=env))
    assert created["success_criteria"][0]["threshold"] == 0.8
    ids = {}
    for name, auc in (("good", "0.91"), ("bad", "0.55")):
        doc = ok_json(run_cli("jobs", "run", "--script", str(script), "--hp", f"auc={auc}",
                              "--experiment", "cli-exp", "--tag", f"variant={name}",
                              "--wait", "--json", env=env))
        assert doc["status"] == "Completed" and doc["experiment"] == "cli-exp"
        assert doc["metrics"]["test"]["roc_auc"] == float(auc)
        ids[name] = doc["id"]
    return ids


def test_register_approve_card_download(cli: Run, server: LocalServer,
                                        scored_jobs: dict[str, str], tmp_path: Path) -> None:
    v1 = ok_json(cli("models", "register", "cli-model", "--job", scored_jobs["good"],
                     "--intended-use", "Retention offers.", "--json"))
    assert v1["version"] == 1 and v1["status"] == "PendingManualApproval"
    assert v1["card"]["intended_use"] == "Retention offers."

    refused = one_sentence_error(cli("models", "register", "cli-model", "--job",
                                     scored_jobs["bad"]))
    assert "success criteria" in refused and "--override-criteria" in refused
    r = ok(cli("models", "register", "cli-model", "--job", scored_jobs["bad"],
               "--override-criteria", "demo only", "--limitations", "Weak."))
    assert "cli-model v2" in r.stdout and "override" in r.stdout

    as_ds = server.sdk_env("data-scientist")
    denied = one_sentence_error(run_cli("models", "approve", "cli-model", "1", "--comment",
                                        "fine", env=as_ds))
    assert "approve" in denied.lower() or "permission" in denied.lower()
    as_approver = server.sdk_env("approver")
    approved = ok_json(run_cli("models", "approve", "cli-model", "1", "--comment", "good",
                               "--json", env=as_approver))
    assert approved["status"] == "Approved" and approved["status_comment"] == "good"
    assert "Rejected" in ok(run_cli("models", "reject", "cli-model", "2", "--comment",
                                    "too weak", env=as_approver)).stdout
    missing = cli("models", "approve", "cli-model", "1")
    assert missing.returncode == 2 and "Missing option '--comment'" in missing.stderr

    latest = ok_json(cli("models", "latest", "cli-model", "--json"))
    assert latest["version"] == 1
    assert ok_json(cli("models", "latest", "cli-model", "--status", "any", "--json"))[
        "version"] == 2
    assert "Approved" in ok(cli("models", "latest", "cli-model")).stdout

    card = ok(cli("models", "card", "cli-model", "2", "--set", "caveats=Synthetic.",
                  "--set", "ethical_considerations=None known."))
    assert "Synthetic." in card.stdout and "None known." in card.stdout
    assert "demo only" in card.stdout and "Weak." in card.stdout
    card_json = ok_json(cli("models", "card", "cli-model", "2", "--json"))
    assert card_json["caveats"] == "Synthetic." and card_json["markdown"].startswith("# Model")
    bad_field = one_sentence_error(cli("models", "card", "cli-model", "2", "--set", "owner=me"))
    assert "owner" in bad_field

    shown = ok(cli("models", "show", "cli-model", "2")).stdout
    assert "demo only" in shown and "test.roc_auc" in shown and scored_jobs["bad"] in shown
    groups = ok_json(cli("models", "list", "--json"))
    group = next(g for g in groups if g["name"] == "cli-model")
    assert group["latest_approved_version"] == 1 and group["versions"] == 2
    versions = ok(cli("models", "list", "cli-model")).stdout
    assert "Approved" in versions and "Rejected" in versions and "override" in versions

    out = tmp_path / "bundle"
    done = ok_json(cli("models", "download", "cli-model", "1", "--output", str(out), "--json"))
    assert sorted(done["files"]) == ["MODEL.json", "model.skops", "recipe.json"]
    assert json.loads((out / "MODEL.json").read_text())["algorithm"] == "hand-made"


def test_experiment_commands(cli: Run, scored_jobs: dict[str, str], tmp_path: Path) -> None:
    listed = ok_json(cli("experiments", "list", "--json"))
    assert next(e for e in listed if e["name"] == "cli-exp")["runs"] == 2
    assert "roc_auc>=0.8@test" in ok(cli("experiments", "list")).stdout

    shown = ok(cli("experiments", "show", "cli-exp")).stdout
    assert "Keep them." in shown and scored_jobs["good"] in shown and "variant=good" in shown

    ranked = ok_json(cli("experiments", "compare", "cli-exp", "--metric", "roc_auc", "--json"))
    assert [r["job_id"] for r in ranked["runs"]] == [scored_jobs["good"], scored_jobs["bad"]]
    assert ranked["metric"] == "test.roc_auc" and ranked["lower_is_better"] is False
    plot = tmp_path / "compare.png"
    table = ok(cli("experiments", "compare", "cli-exp", "--metric", "roc_auc",
                   "--plot", str(plot))).stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    lines = [ln for ln in table.splitlines() if "job-" in ln]
    assert scored_jobs["good"] in lines[0] and "pass" in lines[0]
    assert scored_jobs["bad"] in lines[1] and "FAIL" in lines[1]
    unknown = one_sentence_error(cli("experiments", "compare", "cli-exp", "--metric", "rmse"))
    assert "rmse" in unknown
    bad_criterion = one_sentence_error(cli("experiments", "create", "cli-x",
                                           "--criterion", "auc is high"))
    assert "roc_auc>=0.80@test" in bad_criterion


def test_tag_a_job(cli: Run, scored_jobs: dict[str, str]) -> None:
    job_id = scored_jobs["good"]
    doc = ok_json(cli("jobs", "tag", job_id, "--tag", "reviewed=yes", "--notes", "checked",
                      "--json"))
    assert doc["tags"] == {"variant": "good", "reviewed": "yes"} and doc["notes"] == "checked"
    shown = ok(cli("jobs", "show", job_id)).stdout
    assert "reviewed=yes" in shown and "checked" in shown and "cli-exp" in shown
    nothing = one_sentence_error(cli("jobs", "tag", job_id))
    assert "--tag" in nothing
