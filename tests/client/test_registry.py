"""``sy.ModelGroup`` / ``sy.ModelVersion`` and criteria, with script jobs that save a model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import shipyard as sy
from shipyard.client import CriteriaNotMet, ModelCard
from shipyard.errors import Conflict, Forbidden, InvalidRequest, NotFound
from shipyard.testing import LocalServer

# A stand-in for a training job: it saves a small real bundle and logs test metrics.
SAVE_MODEL = """\
from shipyard import runtime
from shipyard.testing.bundles import write_handmade_bundle
hp = runtime.hyperparameters()
write_handmade_bundle(runtime.model_dir(), extra={"weights/w.txt": str(hp["auc"]).encode()})
runtime.log_metric("test.roc_auc", hp["auc"])
runtime.log_metric("validation.roc_auc", hp["auc"] - 0.01)
"""


@pytest.fixture(scope="module")
def jobs(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two finished jobs of experiment reg-exp (roc_auc >= 0.8): one passes, one fails."""
    script = tmp_path_factory.mktemp("scripts") / "save_model.py"
    script.write_text(SAVE_MODEL)
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c:
        exp = sy.Experiment.create("reg-exp", problem_statement="Keep customers.",
                                   success_criteria=["roc_auc>=0.80@test"], client=c)
        assert exp.success_criteria == ["roc_auc>=0.8@test"]
        good = sy.Job.run("script", script, hyperparameters={"auc": 0.9}, experiment="reg-exp",
                          tags={"variant": "good"}, client=c)
        bad = sy.Job.run("script", script, hyperparameters={"auc": 0.6}, experiment="reg-exp",
                         client=c)
        failed = sy.Job.run("script", _write(script.parent, "boom.py", "raise SystemExit(3)\n"),
                            client=c)
        for job in (good, bad, failed):
            job.wait(timeout=120, progress=False, raise_on_failure=False)
        assert good.status == bad.status == "Completed" and failed.status == "Failed"
        yield {"good": good.id, "bad": bad.id, "failed": failed.id}


def _write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text)
    return folder / name


def _as(server: LocalServer, role: str) -> sy.Client:
    return sy.connect(url=server.url, token=server.token(role), set_default=False)


def test_register_criteria_override_and_approval(sdk: sy.Client, server: LocalServer,
                                                 jobs: dict, tmp_path: Path) -> None:
    good, bad = sy.Job(jobs["good"]), sy.Job(jobs["bad"])
    assert good.experiment == "reg-exp" and good.tags == {"variant": "good"}
    assert good.summary_metrics == {"test": {"roc_auc": 0.9}, "validation": {"roc_auc": 0.89}}

    v1 = good.register("reg-model", card={"intended_use": "tests only"}, description="first")
    assert (v1.group, v1.version, v1.status) == ("reg-model", 1, "PendingManualApproval")
    assert v1.criteria["passed"] is True and v1.job_id == good.id
    assert v1.metrics["test"]["roc_auc"] == 0.9
    assert v1.doc["lineage"]["job_id"] == good.id
    assert v1.training_data == []  # a script that read no dataset
    made_by = v1.lineage("upstream")
    assert [(e.source, e.relation) for e in made_by.edges] == [(f"job:{good.id}",
                                                                 "registered_as")]

    with pytest.raises(CriteriaNotMet, match=r"roc_auc >= 0.8 on test \(got 0.6\)"):
        bad.register("reg-model")
    v2 = bad.register("reg-model", override_criteria="needed for the demo")
    assert v2.version == 2 and v2.criteria["passed"] is False
    assert v2.criteria["override"]["reason"] == "needed for the demo"
    card = v2.card
    assert isinstance(card, ModelCard) and "needed for the demo" in card
    assert "FAIL" in card and card._repr_markdown_() == str(card)
    assert "<h1>" in card._repr_html_() and "<table>" in card._repr_html_()

    with _as(server, "data-scientist") as ds, pytest.raises(Forbidden):
        sy.ModelVersion("reg-model", 1, client=ds).approve("looks fine to me")
    with _as(server, "approver") as approver:
        assert sy.ModelVersion("reg-model", 1, client=approver).approve("good").status == \
            "Approved"
        assert sy.ModelVersion.get("reg-model", 2, client=approver).reject("too weak").status \
            == "Rejected"

    group = sy.ModelGroup("reg-model")
    assert group.latest().version == 1
    assert group.latest(status=None).version == 2
    assert group.latest(status="Rejected").version == 2
    versions = group.versions()
    assert list(versions["version"]) == [1, 2]
    assert list(versions["status"]) == ["Approved", "Rejected"]
    assert list(versions["override"]) == [False, True]
    assert list(versions["test.roc_auc"]) == [0.9, 0.6]
    assert "reg-model" in set(sy.ModelGroup.list()["name"])
    assert "Approved" in group._repr_html_() and "Rejected" in v2.refresh()._repr_html_()
    assert repr(v2) == "<ModelVersion reg-model:2 Rejected>"


def test_card_edit_and_download(sdk: sy.Client, jobs: dict, tmp_path: Path) -> None:
    v = sy.Job(jobs["good"]).register("card-model")
    v.update_card(limitations="Synthetic numbers.", caveats="None known.")
    assert v.card_fields["limitations"] == "Synthetic numbers."
    assert "Synthetic numbers." in v.card and "None known." in v.card
    with pytest.raises(InvalidRequest, match="bogus"):
        v.update_card(bogus="x")

    dest = v.download(tmp_path / "bundle")
    assert json.loads((dest / "MODEL.json").read_text())["algorithm"] == "hand-made"
    assert (dest / "weights" / "w.txt").read_text() == "0.9"


def test_registry_mistakes(sdk: sy.Client, jobs: dict) -> None:
    with pytest.raises(Conflict, match="Failed"):
        sy.Job(jobs["failed"]).register("reg-other")
    with pytest.raises(NotFound):
        sy.ModelGroup("no-such-group")
    with pytest.raises(NotFound):
        sy.ModelVersion("no-such-group", 1)
    sy.Job(jobs["good"]).register("unapproved-model")
    with pytest.raises(NotFound):
        sy.ModelGroup("unapproved-model").latest()
    with pytest.raises(InvalidRequest, match="status"):
        sy.ModelGroup("unapproved-model").latest(status="Great")
    with pytest.raises(NotFound, match="evaluation"):
        sy.Job(jobs["good"]).evaluation()


def test_experiment_of_script_runs(sdk: sy.Client, jobs: dict) -> None:
    exp = sy.Experiment("reg-exp")
    assert exp.problem_statement == "Keep customers."
    runs = exp.runs()
    assert set(runs["job_id"]) == {jobs["good"], jobs["bad"]}
    assert {"hp.auc", "test.roc_auc", "validation.roc_auc", "passed"} <= set(runs.columns)
    compared = exp.compare("roc_auc", plot=False)
    assert list(compared["job_id"]) == [jobs["good"], jobs["bad"]]
    assert list(compared["passed"]) == [True, False]
    assert list(compared.columns[:4]) == ["job_id", "algorithm", "test.roc_auc", "passed"]
    assert exp.compare_plot("validation.roc_auc").startswith(b"\x89PNG")
    with pytest.raises(InvalidRequest, match="rmse"):
        exp.compare("rmse")
    html = exp._repr_html_()
    assert "reg-exp" in html and "roc_auc&gt;=0.8@test" in html and jobs["good"] in html

    exp.update(success_criteria=["roc_auc>=0.95@test"], description="stricter")
    assert exp.success_criteria == ["roc_auc>=0.95@test"] and exp.description == "stricter"
    assert not exp.runs()["passed"].any()
    exp.update(success_criteria=["roc_auc>=0.80@test"])  # as the other tests expect
    listed = sy.Experiment.list()
    assert listed.set_index("name").loc["reg-exp", "runs"] == 2
