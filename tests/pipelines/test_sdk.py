"""The pipeline DSL (``sy.Pipeline``, ``sy.Parameter``, ``sy.steps``) and ``sy.Execution``:
what the DSL compiles to, the mistakes it refuses, and pipelines built with it executing on
a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import shipyard as sy
from shipyard import steps
from shipyard.client._pipeline_refs import condition_text
from shipyard.errors import InvalidRequest
from shipyard.testing import LocalServer

from .helpers import upload

CLEAN = """\
from shipyard import runtime
df = runtime.read_input("raw")
runtime.write_output(df.dropna().reset_index(drop=True), "sdk-clean")
"""
COUNT = """\
from shipyard import runtime
df = runtime.read_input("clean")
runtime.log_metric("test.rows", float(len(df)))
"""
NOOP = "print('nothing to do')\n"


@pytest.fixture
def sdk(server: LocalServer) -> Iterator[sy.Client]:
    client = sy.connect(url=server.url, token=server.token())
    try:
        yield client
    finally:
        client.close()


# -- compiling ----------------------------------------------------------------------------
def test_the_dsl_compiles_to_the_definition_format(tmp_path: Path) -> None:
    (tmp_path / "prep.py").write_text(CLEAN)
    data = sy.Parameter("data", type="dataset", default="churn")
    min_auc = sy.Parameter("min_auc", type=float, default=0.8, description="the bar")
    deploy_it = sy.Parameter("deploy_it", type=bool, default=True)
    prep = steps.Processing("prep", tmp_path / "prep.py", inputs={"raw": data},
                            outputs=["churn-clean"], cpus=1, cache_expiry=3600)
    train = steps.Training("train", algorithm="xgboost", train=prep.outputs["churn-clean"],
                           target="Churn", hyperparameters={"max_depth": 4},
                           retry=steps.Retry(max_attempts=2, on=["worker_lost"]))
    evaluate = steps.Evaluate("eval", job=train, test="churn-test", cache=False)
    register = steps.Register("register", model=train.model, group="churn",
                              depends_on=["eval"])
    approve = steps.Approval("approve", model_version=register, timeout=3600)
    deploy = steps.Deploy("deploy", model_version=register.model_version, endpoint="churn",
                          depends_on=[approve])
    gate = steps.Condition(
        "gate", (evaluate.metrics.test.roc_auc >= min_auc)
        & ~(train.metrics.validation["log_loss"] > 0.5) & deploy_it,
        then=[register, approve, deploy], else_=[steps.Fail("too-weak", "not good enough")])
    notify = steps.Callback("notify", "https://example.com/hook",
                            body={"model": register.model_version,
                                  "execution": steps.EXECUTION_ID}, depends_on=[deploy])
    custom = steps.JobStep("custom", "my-kind", threshold=3, max_runtime=60)

    pipeline = sy.Pipeline("churn-retrain", steps=[prep, gate, notify, custom],
                           parameters=[data], description="retrain weekly")

    assert pipeline.to_dict() == {
        "name": "churn-retrain", "description": "retrain weekly",
        "parameters": [
            {"name": "data", "type": "dataset", "default": "churn"},
            {"name": "min_auc", "type": "float", "default": 0.8, "description": "the bar"},
            {"name": "deploy_it", "type": "bool", "default": True}],
        "steps": [
            {"name": "prep", "type": "processing",
             "job": {"script": {"filename": "prep.py", "source": CLEAN},
                     "inputs": {"raw": {"ref": "parameters.data"}},
                     "outputs": ["churn-clean"], "resources": {"cpus": 1}},
             "cache": {"enabled": True, "expire_after_seconds": 3600}},
            # Steps the condition references, but steps= did not list, come just before it.
            {"name": "train", "type": "training",
             "job": {"algorithm": "xgboost", "target": "Churn",
                     "inputs": {"train": {"ref": "steps.prep.outputs.churn-clean"}},
                     "hyperparameters": {"max_depth": 4}},
             "retry": {"max_attempts": 2, "backoff_seconds": 2.0, "backoff_rate": 2.0,
                       "on": ["worker_lost"]}},
            {"name": "eval", "type": "evaluate",
             "job": {"job": {"ref": "steps.train.model"}, "inputs": {"test": "churn-test"}},
             "cache": False},
            # ... and those on its branches just after it.
            {"name": "gate", "type": "condition",
             "if": {"all": [
                 {"left": {"ref": "steps.eval.metrics.test.roc_auc"}, "op": ">=",
                  "right": {"ref": "parameters.min_auc"}},
                 {"not": {"left": {"ref": "steps.train.metrics.validation.log_loss"},
                          "op": ">", "right": 0.5}},
                 {"left": {"ref": "parameters.deploy_it"}, "op": "==", "right": True}]},
             "then": ["register", "approve", "deploy"], "else": ["too-weak"]},
            {"name": "register", "type": "register", "model": {"ref": "steps.train.model"},
             "group": "churn", "depends_on": ["eval"]},
            {"name": "approve", "type": "approval",
             "model_version": {"ref": "steps.register.model_version"},
             "timeout_seconds": 3600},
            {"name": "deploy", "type": "deploy",
             "model_version": {"ref": "steps.register.model_version"}, "endpoint": "churn",
             "depends_on": ["approve"]},
            {"name": "too-weak", "type": "fail", "message": "not good enough"},
            {"name": "notify", "type": "callback", "url": "https://example.com/hook",
             "body": {"model": {"ref": "steps.register.model_version"},
                      "execution": {"ref": "execution.id"}},
             "depends_on": ["deploy"]},
            {"name": "custom", "type": "my-kind",
             "job": {"threshold": 3, "max_runtime_seconds": 60}},
        ]}
    assert condition_text(pipeline.to_dict()["steps"][3]["if"]) == (
        "(steps.eval.metrics.test.roc_auc >= parameters.min_auc) and not "
        "(steps.train.metrics.validation.log_loss > 0.5) and (parameters.deploy_it == true)")
    # `|`, and a step's JSON on its own.
    either = (evaluate.metrics.test.roc_auc >= 0.9) | (train.metrics.test.f1 < 0.2)
    assert either.to_dict() == {"any": [
        {"left": {"ref": "steps.eval.metrics.test.roc_auc"}, "op": ">=", "right": 0.9},
        {"left": {"ref": "steps.train.metrics.test.f1"}, "op": "<", "right": 0.2}]}
    assert steps.QualityCheck("qc", prep.outputs["churn-clean"], "churn", "churn:1").to_dict() \
        == {"name": "qc", "type": "quality_check", "baseline": "churn", "model": "churn:1",
            "dataset": {"ref": "steps.prep.outputs.churn-clean"}}


def test_an_approval_timeout_may_be_a_timedelta_as_cache_expiry_may() -> None:
    """``Approval(timeout=timedelta(...))`` raised "A pipeline definition holds JSON values"
    though the docs give cache_expiry and timeout in the same breath; now it is seconds."""
    from datetime import timedelta

    approve = steps.Approval("approve", model_version="g:1", timeout=timedelta(minutes=5))
    doc = sy.Pipeline("p", steps=[approve]).to_dict()
    assert doc["steps"][0]["timeout_seconds"] == 300.0


def test_the_dsl_refuses_mistakes_with_a_sentence_that_says_what_to_write(
        tmp_path: Path) -> None:
    train = steps.Training("train", algorithm="xgboost", train="churn", target="y")
    prep = steps.Processing("prep", NOOP, outputs=["clean"])
    with pytest.raises(TypeError, match=r"cannot be used as a Python bool.*\(a >= 0.8\)"):
        if train.metrics.test.roc_auc >= 0.8:
            pass
    with pytest.raises(TypeError, match="parentheses"):
        _ = train.metrics.test.roc_auc >= 0.8 & train.metrics.test.f1  # precedence slip
    with pytest.raises(AttributeError, match="A processing step makes no model"):
        _ = prep.model
    with pytest.raises(InvalidRequest, match="has no output 'dirty'; its outputs are clean"):
        _ = prep.outputs["dirty"]
    with pytest.raises(InvalidRequest, match="was given where a value goes.*train.model"):
        steps.JobStep("odd", "my-kind", model=train).to_dict()
    with pytest.raises(InvalidRequest, match="Two different steps are named 'prep'"):
        other = steps.Processing("prep", NOOP)
        sy.Pipeline("p", steps=[prep, steps.Processing("use", NOOP, depends_on=[other])]
                    ).to_dict()
    with pytest.raises(InvalidRequest, match="No such script file"):
        steps.Processing("p", str(tmp_path / "missing.py"))
    with pytest.raises(InvalidRequest, match="unknown type 'date'"):
        sy.Parameter("when", type="date")
    with pytest.raises(InvalidRequest, match="has no option 'retries'"):
        steps.Fail("f", "x", retries=2)
    with pytest.raises(InvalidRequest, match="exactly one of job="):
        steps.Evaluate("e", test="t")
    with pytest.raises(InvalidRequest, match="step name is a letter"):
        steps.Fail("no spaces", "x")


def test_the_dsl_knows_every_step_type_the_server_does() -> None:
    """A new control step type, job kind or parameter type needs its DSL counterpart."""
    from shipyard.client._pipeline_refs import PARAMETER_TYPES
    from shipyard.client._pipeline_steps import MODEL_MAKERS, JobStep, Step
    from shipyard.jobs._kinds import BUILTIN_KINDS
    from shipyard.pipelines import _definition

    builders = [b for b in (getattr(steps, n) for n in steps.__all__)
                if isinstance(b, type) and issubclass(b, Step) and b.type]
    control = {b.type for b in builders if not issubclass(b, JobStep)}
    assert control == set(_definition.CONTROL_TYPES)
    job_kinds = {b.type for b in builders if issubclass(b, JobStep)}
    # The built-in kinds (a plug-in kind another test registered in this process has no
    # builder of its own: JobStep takes it).
    assert set(BUILTIN_KINDS) - _definition.NOT_STEPS <= job_kinds
    assert MODEL_MAKERS == _definition.MODEL_MAKERS
    assert set(PARAMETER_TYPES.values()) == set(_definition.PARAMETER_TYPES)


# -- executing ----------------------------------------------------------------------------
def test_a_dsl_pipeline_executes_with_outputs_flowing_between_steps(
        server: LocalServer, sdk: sy.Client) -> None:
    upload(server.client(), "sdk-raw")
    data = sy.Parameter("data", type="dataset", default="sdk-raw")
    min_rows = sy.Parameter("min_rows", type=int, default=2)
    label = sy.Parameter("label", default="<b>bold</b>")
    clean = steps.Processing("clean", CLEAN, inputs={"raw": data}, outputs=["sdk-clean"])
    count = steps.Processing("count", COUNT, inputs={"clean": clean.outputs["sdk-clean"]})
    done = steps.Processing("done", NOOP, hyperparameters={"label": label})
    gate = steps.Condition("gate", (count.metrics.test.rows >= min_rows)
                           & (count.metrics.test.rows < 100), then=[done],
                           else_=[steps.Fail("too-few", "too few rows")])
    pipeline = sy.Pipeline("sdk-flow", steps=[gate])

    ex = pipeline.start(min_rows="3", wait=True, progress=False)
    assert pipeline.version == 1 and pipeline.changed is True
    assert isinstance(ex, sy.Execution) and ex.status == "Succeeded", ex.doc
    assert ex.parameters == {"data": "sdk-raw", "min_rows": 3, "label": "<b>bold</b>"}
    assert ex.step("clean")["outputs"]["outputs"] == {"sdk-clean": "sdk-clean:1"}
    assert ex.step("count")["outputs"]["metrics"]["test"]["rows"] == 3.0
    assert ex.step("gate")["outputs"] == {"result": True, "branch": "then"}
    assert [ex.step(n)["status"] for n in ("done", "too-few")] == ["Succeeded", "Skipped"]
    html = ex._repr_html_()
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "Succeeded" in html and ex.step("count")["job_id"] in html

    # The server has what the DSL compiled; starting it again is a cache hit.
    loaded = sy.Pipeline.get("sdk-flow")
    assert loaded.version == 1 and loaded.to_dict()["steps"] == pipeline.to_dict()["steps"]
    again = loaded.start(wait=True, progress=False)
    assert again.step("clean")["cache_hit"] and again.step("count")["cache_hit"]
    assert pipeline.create().changed is False
    assert "sdk-flow" in set(sy.Pipeline.list()["name"])
    frame = pipeline.executions()
    assert list(frame["id"]) == [again.id, ex.id] and set(frame["status"]) == {"Succeeded"}
    assert sy.Execution.get(ex.id).status == "Succeeded"
    assert "<b>Pipeline sdk-flow</b>" in loaded._repr_html_()


def test_wait_raises_execution_failed_and_retry_starts_from_the_failed_step(
        server: LocalServer, sdk: sy.Client, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    flaky = (f"import pathlib, sys\nif not pathlib.Path({str(flag)!r}).exists():\n"
             "    sys.exit('the input is not ready')\n")
    first = steps.Processing("first", NOOP, cache=False)
    second = steps.Processing("second", flaky, depends_on=[first], cache=False)
    pipeline = sy.Pipeline("sdk-flaky", steps=[second])
    with pytest.raises(sy.ExecutionFailed, match="ended Failed: step 'second' failed") as err:
        pipeline.start(wait=True, progress=False)
    ex = err.value.execution
    assert "the input is not ready" in ex.step("second")["reason"]
    flag.write_text("ok")
    ex.retry().wait(progress=False)
    assert ex.status == "Succeeded" and ex.step("second")["attempt"] == 2


def test_a_quality_check_step_names_its_model(server: LocalServer) -> None:
    """The definition takes the model a quality check's monitoring job needs."""
    client = server.client()
    qc = steps.QualityCheck("qc", "sdk-raw", "sdk-raw", "churn:1")
    r = client.post("/api/v1/pipelines", json=sy.Pipeline("sdk-qc", steps=[qc]).to_dict())
    assert r.status_code == 201, r.text
    bare = {"name": "sdk-qc2", "steps": [{"name": "qc", "type": "quality_check",
                                          "dataset": "a", "baseline": "b"}]}
    r = client.post("/api/v1/pipelines", json=bare)
    assert r.status_code == 400 and "needs model" in r.text
