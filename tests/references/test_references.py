"""The referenced-delete rule, and its registry of referrer kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import Conflict, Forbidden
from shipyard.references import NAMED, TARGETS, References, Referrer, register_builtin
from shipyard.store import Database, EventLog, PipelineRepository, upgrade
from shipyard.tokens import Principal

ADMIN = Principal("root", "admin")
DS = Principal("alice", "data-scientist")


def test_free_targets_are_deleted_and_used_ones_refused_naming_each_referrer() -> None:
    refs = References()
    held = {"churn": [Referrer("pipeline", f"p{i}", "its first step") for i in range(7)]}
    refs.register("dataset", "pipeline", lambda name: held.get(name, []))  # the plug-in point
    assert refs.check_delete("dataset", "Dataset 'free'", "free", DS) == {}
    assert len(refs.of("dataset", "churn", kinds=("pipeline",))) == 7
    assert refs.of("dataset", "churn", kinds=("monitor",)) == []  # only the kinds asked
    with pytest.raises(Conflict) as refused:
        refs.check_delete("dataset", "Dataset 'churn'", "churn", DS)
    message = refused.value.message
    assert message.startswith("Dataset 'churn' is still used by pipeline 'p0' (its first step)")
    assert f"and {7 - NAMED} more" in message and "--force" in message
    assert len(refused.value.details["referrers"]) == 7  # all of them in the details
    with pytest.raises(Forbidden, match="only an admin may delete it anyway"):
        refs.check_delete("dataset", "Dataset 'churn'", "churn", DS, force=True)
    audit = refs.check_delete("dataset", "Dataset 'churn'", "churn", ADMIN, force=True)
    assert audit["forced"] is True and audit["referrers"][0] == {
        "kind": "pipeline", "name": "p0", "how": "its first step"}
    with pytest.raises(ValueError, match="unknown reference target"):
        refs.register("token", "x", lambda name: [])


def test_every_target_has_builtin_referrers(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(db)
        refs = register_builtin(References(), db, EventLog(db))
        assert refs.kinds("dataset") == ["model version", "monitor", "job", "schedule",
                                         "pipeline"]
        assert refs.kinds("model_group") == ["endpoint", "job", "schedule", "pipeline"]
        assert refs.kinds("endpoint") == ["monitor"]
        assert all(refs.kinds(t) for t in TARGETS)
        assert all(refs.of(t, "nothing-uses-this") == [] for t in TARGETS)
    finally:
        db.dispose()


def test_pipelines_that_watch_or_default_to_a_target_are_referrers(tmp_path: Path) -> None:
    # Deleting the dataset a trigger watches, or a parameter defaults to, left the pipeline
    # to fail at its next start ("No dataset named ...").
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(db)
        events = EventLog(db)
        refs = register_builtin(References(), db, events)
        pipelines = PipelineRepository(db, events)
        definition = {"name": "retrain", "parameters": [
            {"name": "data", "type": "dataset", "default": "weather:2"},
            {"name": "label", "type": "string", "default": "weather"}], "steps": []}
        pipelines.save("retrain", definition, "h1", "", "alice")
        t1 = pipelines.add_trigger("retrain", "dataset_version", {"dataset": "weather"}, {},
                                   "alice")
        t2 = pipelines.add_trigger("retrain", "model_approval", {"group": "temp"}, {}, "alice")
        pipelines.add_trigger("retrain", "dataset_version", {"dataset": "other"}, {}, "alice")
        assert [r.text() for r in refs.of("dataset", "weather")] == [
            f"pipeline 'retrain' (trigger {t1.id} starts it on each new version)",
            "pipeline 'retrain' (parameter 'data' defaults to it)"]
        assert [r.text() for r in refs.of("model_group", "temp")] == [
            f"pipeline 'retrain' (trigger {t2.id} starts it on each approval)"]
        with pytest.raises(Conflict, match="still used by pipeline 'retrain'"):
            refs.check_delete("dataset", "Dataset 'weather'", "weather", ADMIN)
        pipelines.delete_trigger(t1.id, "alice")
        pipelines.save("retrain", {**definition, "parameters": []}, "h2", "", "alice")
        assert refs.of("dataset", "weather") == []
    finally:
        db.dispose()


def test_pipelines_whose_steps_read_a_dataset_by_name_are_referrers(tmp_path: Path) -> None:
    # Deleting a dataset a step read by name (a job step's input, a quality check's data or
    # baseline) was allowed, and the pipeline failed at its next start.
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(db)
        events = EventLog(db)
        refs = register_builtin(References(), db, events)
        pipelines = PipelineRepository(db, events)
        definition = {"name": "retrain", "parameters": [], "steps": [
            {"name": "train", "type": "training",
             "job": {"algorithm": "linear", "target": "y", "inputs": {"train": "sales"}}},
            {"name": "eval", "type": "evaluate",
             "job": {"job": {"ref": "steps.train.model"}, "inputs": {"test": "sales-test:2"},
                     "target": "y"}},
            {"name": "prep", "type": "processing",
             "job": {"inputs": {"raw": {"ref": "parameters.data"}}, "outputs": ["clean"]}},
            {"name": "check", "type": "quality_check", "dataset": {"ref": "steps.prep.x"},
             "baseline": "sales-base:1", "model": "g:1"}]}
        pipelines.save("retrain", definition, "h1", "", "alice")
        assert [r.text() for r in refs.of("dataset", "sales")] == [
            "pipeline 'retrain' (step 'train' reads it, input 'train')"]
        assert [r.text() for r in refs.of("dataset", "sales-test")] == [
            "pipeline 'retrain' (step 'eval' reads it, input 'test')"]
        assert [r.text() for r in refs.of("dataset", "sales-base")] == [
            "pipeline 'retrain' (step 'check' reads it, its baseline)"]
        assert refs.of("dataset", "clean") == []  # written, not read: deleting it breaks nothing
        with pytest.raises(Conflict, match=r"still used by pipeline 'retrain' \(step 'train'"):
            refs.check_delete("dataset", "Dataset 'sales'", "sales", ADMIN)
        pipelines.save("retrain", {**definition, "steps": definition["steps"][2:]}, "h2", "",
                       "alice")  # only the latest version runs by default
        assert refs.of("dataset", "sales") == []
    finally:
        db.dispose()


def test_pipelines_whose_steps_use_a_model_group_by_name_are_referrers(tmp_path: Path) -> None:
    # Deleting a model group whose version a step named (a transform's model, a quality
    # check's model, the version a deploy step serves) was allowed, as only triggers were
    # counted, and the pipeline failed at its next start.
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(db)
        events = EventLog(db)
        refs = register_builtin(References(), db, events)
        pipelines = PipelineRepository(db, events)
        definition = {"name": "score", "parameters": [], "steps": [
            {"name": "s", "type": "transform",
             "job": {"model": "churn:1", "inputs": {"data": "d"}, "outputs": ["o"]}},
            {"name": "check", "type": "quality_check", "dataset": "d:1", "baseline": "d:1",
             "model": "churn:2"},
            {"name": "ship", "type": "deploy", "endpoint": "e", "model_version": "fraud:3"},
            {"name": "eval", "type": "evaluate",
             "job": {"model": {"group": "pinned", "version": 4}, "inputs": {"test": "d"},
                     "target": "y"}},
            {"name": "train", "type": "training",
             "job": {"algorithm": "linear", "target": "y", "inputs": {"train": "d"}}},
            {"name": "register", "type": "register", "model": {"ref": "steps.train.model"},
             "group": "fresh"},
            {"name": "approve", "type": "approval",
             "model_version": {"ref": "steps.register.model_version"}}]}
        pipelines.save("score", definition, "h1", "", "alice")
        assert [r.text() for r in refs.of("model_group", "churn")] == [
            "pipeline 'score' (step 's' uses it, its job's model)",
            "pipeline 'score' (step 'check' uses it, its model)"]
        assert [r.text() for r in refs.of("model_group", "fraud")] == [
            "pipeline 'score' (step 'ship' uses it, its model_version)"]
        assert [r.text() for r in refs.of("model_group", "pinned")] == [
            "pipeline 'score' (step 'eval' uses it, its job's model)"]
        assert refs.of("model_group", "fresh") == []  # registered into: created when missing
        with pytest.raises(Conflict, match=r"still used by pipeline 'score' \(step 's'"):
            refs.check_delete("model_group", "Model group 'churn'", "churn", DS)
        audit = refs.check_delete("model_group", "Model group 'churn'", "churn", ADMIN,
                                  force=True)
        assert audit["forced"] is True and audit["referrers"][0]["name"] == "score"
        pipelines.save("score", {**definition, "steps": definition["steps"][4:]}, "h2", "",
                       "alice")  # only the latest version runs by default
        assert refs.of("model_group", "churn") == []
    finally:
        db.dispose()
