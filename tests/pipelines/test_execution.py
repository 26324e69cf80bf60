"""Pipeline executions end to end on a real server: DAG order, concurrency, conditions,
failures that stop their dependants, retries from the failed step, stop."""

from __future__ import annotations

from datetime import datetime

import pytest

from shipyard.testing import LocalServer

from .helpers import create, processing, ref, start, steps, upload, wait

SLEEP = """
    import time
    from shipyard import runtime
    started = time.time()
    time.sleep(1.5)
    print(f"slept from {started} to {time.time()}")
"""
NOOP = "print('nothing to do')\n"
CLEAN = """
    from shipyard import runtime
    df = runtime.read_input("raw")
    runtime.write_output(df.dropna().reset_index(drop=True), "pl-clean")
"""
COUNT = """
    from shipyard import runtime
    df = runtime.read_input("clean")
    runtime.log_metric("test.rows", float(len(df)))
"""


def _interval(client, job_id: str) -> tuple[datetime, datetime]:
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    return (datetime.fromisoformat(job["started_at"].replace("Z", "+00:00")),
            datetime.fromisoformat(job["ended_at"].replace("Z", "+00:00")))


def test_a_diamond_runs_its_two_middle_steps_concurrently(server: LocalServer) -> None:
    client = server.client()
    create(client, {"name": "diamond", "steps": [
        processing("top", NOOP),
        processing("left", SLEEP, depends_on=["top"]),
        processing("right", SLEEP, depends_on=["top"]),
        processing("bottom", NOOP, depends_on=["left", "right"]),
    ]})
    ex = wait(client, start(client, "diamond")["id"], "Succeeded")
    by = steps(ex)
    assert all(s["status"] == "Succeeded" for s in by.values())
    top, left, right, bottom = (_interval(client, by[n]["job_id"])
                                for n in ("top", "left", "right", "bottom"))
    assert left[0] >= top[1] and right[0] >= top[1]
    # The middle steps overlap in time: each started before the other ended.
    assert left[0] < right[1] and right[0] < left[1], (left, right)
    assert bottom[0] >= max(left[1], right[1])


def test_data_flows_by_reference_and_a_condition_branches_both_ways(
        server: LocalServer) -> None:
    client = server.client()
    upload(client, "pl-raw")
    create(client, {"name": "gated", "parameters": [
        {"name": "data", "type": "dataset", "default": "pl-raw"},
        {"name": "min_rows", "type": "float", "default": 2}], "steps": [
        processing("clean", CLEAN, inputs={"raw": ref("parameters.data")}, outputs=["pl-clean"]),
        processing("count", COUNT, inputs={"clean": ref("steps.clean.outputs.pl-clean")}),
        {"name": "gate", "type": "condition",
         "if": {"left": ref("steps.count.metrics.test.rows"), "op": ">=",
                "right": ref("parameters.min_rows")},
         "then": ["enough"], "else": ["too-few"]},
        processing("enough", NOOP),
        {"name": "too-few", "type": "fail", "message": "too few rows"},
        processing("after", NOOP, depends_on=["enough"]),
    ]})
    ok = wait(client, start(client, "gated")["id"])
    by = steps(ok)
    assert ok["status"] == "Succeeded", ok
    assert by["clean"]["outputs"]["outputs"] == {"pl-clean": "pl-clean:1"}
    assert by["count"]["outputs"]["metrics"]["test"]["rows"] == 3.0
    assert by["gate"]["outputs"] == {"result": True, "branch": "then"}
    assert [by[n]["status"] for n in ("enough", "too-few", "after")] == [
        "Succeeded", "Skipped", "Succeeded"]
    assert "took its then branch" in by["too-few"]["reason"]

    low = wait(client, start(client, "gated", min_rows=10)["id"])
    by = steps(low)
    assert low["status"] == "Failed"
    assert [by[n]["status"] for n in ("enough", "too-few", "after")] == [
        "Skipped", "Failed", "Skipped"]
    assert by["too-few"]["reason"] == "too few rows"
    assert "too few rows" in low["reason"]
    # The unchanged processing steps were cache hits the second time.
    assert by["clean"]["cache_hit"] and by["count"]["cache_hit"]


def test_a_failing_step_stops_its_dependants_and_retry_resumes_from_it(
        server: LocalServer, tmp_path) -> None:
    client = server.client()
    flag = tmp_path / "fixed"
    flaky = f"""
        import pathlib, sys
        if not pathlib.Path({str(flag)!r}).exists():
            sys.exit("the input is not ready")
        print("fixed")
    """
    create(client, {"name": "flaky", "steps": [
        processing("first", NOOP, cache=False),
        processing("second", flaky, depends_on=["first"], cache=False),
        processing("third", NOOP, depends_on=["second"], cache=False),
        processing("aside", NOOP, cache=False),
    ]})
    ex = wait(client, start(client, "flaky")["id"])
    by = steps(ex)
    assert ex["status"] == "Failed"
    assert by["first"]["status"] == "Succeeded" and by["aside"]["status"] == "Succeeded"
    assert by["second"]["status"] == "Failed"
    assert "the input is not ready" in by["second"]["reason"]
    assert by["third"]["status"] == "Skipped"
    assert by["third"]["reason"] == "not run: step 'second' failed"
    assert "step 'second' failed" in ex["reason"]
    first_job = by["first"]["job_id"]

    flag.write_text("ok")
    r = client.post(f"/api/v1/pipeline-executions/{ex['id']}/retry")
    assert r.status_code == 200, r.text
    again = wait(client, ex["id"])
    by = steps(again)
    assert again["status"] == "Succeeded", again
    assert by["first"]["job_id"] == first_job  # not run again
    assert by["second"]["attempt"] == 2 and by["third"]["status"] == "Succeeded"
    assert client.post(f"/api/v1/pipeline-executions/{ex['id']}/retry").status_code == 409


def test_stop_cancels_the_running_job_and_skips_the_rest(server: LocalServer) -> None:
    client = server.client()
    long = "import time\ntime.sleep(60)\n"
    create(client, {"name": "stoppable", "steps": [
        processing("long", long, cache=False),
        processing("next", NOOP, depends_on=["long"]),
    ]})
    ex = start(client, "stoppable")
    wait(client, ex["id"], "Executing", timeout=5)
    import time
    deadline = time.monotonic() + 30
    while steps(client.get(f"/api/v1/pipeline-executions/{ex['id']}").json())["long"][
            "job_id"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    r = client.post(f"/api/v1/pipeline-executions/{ex['id']}/stop")
    assert r.status_code == 200 and r.json()["status"] in ("Stopping", "Stopped")
    done = wait(client, ex["id"], "Stopped", timeout=60)
    by = steps(done)
    assert by["long"]["status"] == "Stopped" and by["next"]["status"] == "Stopped"
    job = client.get(f"/api/v1/jobs/{by['long']['job_id']}").json()
    assert job["status"] == "Stopped"


@pytest.mark.parametrize(("definition", "needle"), [
    ({"name": "cyc", "steps": [processing("a", NOOP, depends_on=["b"]),
                               processing("b", NOOP, depends_on=["a"])]},
     "the steps form a cycle: a → b → a"),
    ({"name": "unk", "steps": [processing("a", NOOP, inputs={"x": ref("steps.nope.outputs.y")})]},
     "references unknown step 'nope'"),
    ({"name": "unkp", "steps": [processing("a", NOOP, inputs={"x": ref("parameters.dta")})]},
     "unknown parameter 'dta'"),
    ({"name": "typ", "parameters": [{"name": "n", "type": "int", "default": "many"}],
      "steps": [processing("a", NOOP)]},
     "the default of parameter 'n' must be a whole number; got 'many'"),
    ({"name": "dep", "steps": [processing("a", NOOP, depends_on=["ghost"])]},
     "step 'a' depends on unknown step 'ghost'"),
    ({"name": "kind", "steps": [{"name": "a", "type": "trainnig", "job": {}}]},
     "did you mean 'training'?"),
    ({"name": "tmo", "steps": [{"name": "a", "type": "approval", "model_version": "g:1",
                                "timeout_seconds": "1d"}]},
     "step 'a' (approval): timeout_seconds must be a positive number of seconds; got '1d'"),
    ({"name": "tmo0", "steps": [{"name": "a", "type": "approval", "model_version": "g:1",
                                 "timeout_seconds": -3}]},
     "timeout_seconds must be a positive number of seconds; got -3"),
    ({"name": "inst", "steps": [{"name": "d", "type": "deploy", "model_version": "g:1",
                                 "endpoint": "e", "instances": "two", "wait": "yes"}]},
     "step 'd' (deploy): instances must be a whole number, 1 or more; got 'two'; "
     "step 'd' (deploy): wait must be true or false; got 'yes'"),
])
def test_an_invalid_definition_is_a_400_naming_the_problem(
        server: LocalServer, definition: dict, needle: str) -> None:
    r = server.client().post("/api/v1/pipelines", json=definition)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]


def test_parameters_are_typed_at_start(server: LocalServer) -> None:
    client = server.client()
    create(client, {"name": "typed", "parameters": [
        {"name": "n", "type": "int", "default": 1}, {"name": "flag", "type": "bool"}],
        "steps": [processing("a", NOOP)]})
    r = client.post("/api/v1/pipelines/typed/executions",
                    json={"parameters": {"n": "x", "flag": True}})
    assert r.status_code == 400 and "parameter 'n' must be a whole number" in r.text
    r = client.post("/api/v1/pipelines/typed/executions", json={"parameters": {"n": 2}})
    assert r.status_code == 400 and "parameter 'flag' has no default" in r.text
    # A float that is not finite was stored as null (JSON has no NaN), so a gate comparing
    # with it failed for a reason nobody typed.
    create(client, {"name": "typed-f", "parameters": [{"name": "bar", "type": "float"}],
                    "steps": [processing("a", NOOP)]})
    for text in ("nan", "1e999", "-inf"):
        r = client.post("/api/v1/pipelines/typed-f/executions",
                        json={"parameters": {"bar": text}})
        assert r.status_code == 400, r.text
        assert f"parameter 'bar' must be a finite number; got '{text}'" in r.text
    r = client.post("/api/v1/pipelines/typed/executions",
                    json={"parameters": {"flag": True, "m": 1}})
    assert r.status_code == 400 and "no parameter 'm'" in r.text
    a = start(client, "typed", key="k1", flag="true")
    b = start(client, "typed", key="k1", flag="true")
    assert a["id"] == b["id"] and a["parameters"] == {"n": 1, "flag": True}


def test_caching_hits_on_the_same_inputs_and_misses_on_changed_data(
        server: LocalServer) -> None:
    client = server.client()
    upload(client, "cache-raw")
    create(client, {"name": "cached", "steps": [
        processing("clean", CLEAN.replace("pl-clean", "cache-clean"),
                   inputs={"raw": "cache-raw"}, outputs=["cache-clean"]),
        processing("count", COUNT, inputs={"clean": ref("steps.clean.outputs.cache-clean")}),
        processing("fresh", NOOP, cache=False),
    ]})
    first = steps(wait(client, start(client, "cached")["id"], "Succeeded"))
    assert not any(s["cache_hit"] for s in first.values())

    second = steps(wait(client, start(client, "cached")["id"], "Succeeded"))
    assert second["clean"]["cache_hit"] and second["count"]["cache_hit"]
    assert second["clean"]["job_id"] == first["clean"]["job_id"]
    assert second["clean"]["outputs"]["outputs"] == first["clean"]["outputs"]["outputs"]
    assert not second["fresh"]["cache_hit"]  # opted out
    assert second["fresh"]["job_id"] != first["fresh"]["job_id"]

    # A new version with more rows: the step runs again, and so does what reads its output.
    upload(client, "cache-raw", "customer,tenure,churned\nz,9,no\n", append=True)
    third = steps(wait(client, start(client, "cached")["id"], "Succeeded"))
    assert not third["clean"]["cache_hit"] and not third["count"]["cache_hit"]
    assert third["count"]["outputs"]["metrics"]["test"]["rows"] == 4.0

    # Nothing changed since: the new output is what is reused.
    fourth = steps(wait(client, start(client, "cached")["id"], "Succeeded"))
    assert fourth["clean"]["cache_hit"]
    assert fourth["clean"]["job_id"] == third["clean"]["job_id"]


def test_a_job_steps_own_spec_is_checked_at_create(server: LocalServer) -> None:
    r = server.client().post("/api/v1/pipelines", json={"name": "badjob", "parameters": [
        {"name": "data", "type": "dataset", "default": "x"}], "steps": [
        {"name": "train", "type": "training",
         "job": {"inputs": {"train": {"ref": "parameters.data"}}, "target": "y"}},
        {"name": "prep", "type": "processing", "job": {"bogus": 1}}]})
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "step 'train': Invalid job spec" in message and "needs an 'algorithm'" in message
    assert "step 'prep': Invalid job spec: bogus: unknown field" in message


def _training_step(name: str, **job: object) -> dict:
    return {"name": name, "type": "training",
            "job": {"inputs": {"train": "pl-algos"}, "target": "churned", **job}}


def test_an_unknown_algorithm_is_a_400_at_create_and_update(server: LocalServer) -> None:
    """A training, tuning or AutoML step naming an algorithm that is not built in (or a
    hyperparameter its algorithm lacks) is refused when the pipeline is saved, naming the
    step and the known algorithms, not when it runs; a value a parameter gives is checked
    at the run."""
    client = server.client()
    upload(client, "pl-algos")
    good = {"name": "algos", "parameters": [{"name": "algo", "type": "string"},
                                            {"name": "depth", "type": "int"}],
            "steps": [_training_step("train", algorithm="linear"),
                      _training_step("chosen", algorithm=ref("parameters.algo")),
                      _training_step("deep", algorithm="xgboost",
                                     hyperparameters={"max_depth": ref("parameters.depth")})]}
    assert create(client, good)["version"] == 1
    bad = {**good, "steps": [
        _training_step("train", algorithm="xgbost"),
        _training_step("deep", algorithm="xgboost", hyperparameters={"max_dept": 3}),
        {"name": "tune", "type": "tuning", "job": {
            "inputs": {"train": "pl-algos"}, "target": "churned", "objective": "roc_auc",
            "algorithm": "linear,lightgbn"}},
        {"name": "auto", "type": "automl", "job": {
            "inputs": {"train": "pl-algos"}, "target": "churned", "algorithms": ["forest"]}}]}
    r = client.post("/api/v1/pipelines", json=bad)  # a new version of 'algos': an update
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "step 'train': Unknown algorithm 'xgbost'; the built-in algorithms are [" in message
    assert "'linear'" in message and "Did you mean 'xgboost'?" in message
    assert "step 'deep': Algorithm 'xgboost' has no hyperparameter 'max_dept'" in message
    assert "step 'tune': Unknown algorithm 'lightgbn'" in message
    assert "step 'auto': Unknown algorithm 'forest'" in message
    versions = client.get("/api/v1/pipelines/algos").json()
    assert versions["latest_version"] == 1, versions
    fresh = client.post("/api/v1/pipelines", json={**bad, "name": "algos-new"})
    assert fresh.status_code == 400
    assert client.get("/api/v1/pipelines/algos-new").status_code == 404


def test_a_step_is_retried_with_backoff_on_the_failures_its_policy_names(
        server: LocalServer, tmp_path) -> None:
    import os

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    flag = shared / "tried"
    flaky = f"""
        import pathlib, sys
        flag = pathlib.Path({str(flag)!r})
        if not flag.exists():
            flag.write_text("once")
            sys.exit("a hiccup on the first attempt")
        print("second attempt")
    """
    client = server.client()
    create(client, {"name": "retried", "steps": [
        processing("flaky", flaky, cache=False,
                   retry={"max_attempts": 3, "backoff_seconds": 1.0, "backoff_rate": 2.0,
                          "on": ["script_error"]}),
        processing("strict", "import sys\nsys.exit('always')\n", cache=False,
                   retry={"max_attempts": 3, "backoff_seconds": 0}),
    ]})
    ex = wait(client, start(client, "retried")["id"])
    by = steps(ex)
    assert by["flaky"]["status"] == "Succeeded" and by["flaky"]["attempt"] == 2
    jobs = [j for j in client.get("/api/v1/jobs", params={"limit": 1000}).json()
            if (j.get("tags") or {}).get("pipeline_execution") == ex["id"]
            and j["tags"]["pipeline_step"] == "flaky"]
    first, second = sorted(jobs, key=lambda j: j["created_at"])
    assert first["status"] == "Failed" and first["reason"] == "script_error"
    gap = (datetime.fromisoformat(second["created_at"].replace("Z", "+00:00"))
           - datetime.fromisoformat(first["ended_at"].replace("Z", "+00:00")))
    assert gap.total_seconds() >= 0.9  # the backoff was waited
    # A script error is the step's own: not retried by the default policy.
    assert by["strict"]["status"] == "Failed" and by["strict"]["attempt"] == 1
    assert ex["status"] == "Failed"


def test_a_control_step_field_of_the_wrong_type_through_a_reference_fails_the_step(
        server: LocalServer) -> None:
    """A timeout or an instance count that a string parameter fills in used to raise in the
    engine on every tick: the step stayed Starting forever. Now the step fails, saying why."""
    client = server.client()
    create(client, {"name": "ctl-types", "parameters": [
        {"name": "wait_for", "type": "string", "default": "1d"},
        {"name": "n", "type": "string", "default": "two"}], "steps": [
        {"name": "approve", "type": "approval", "model_version": "ctl-none:1",
         "timeout_seconds": ref("parameters.wait_for")},
        {"name": "deploy", "type": "deploy", "model_version": "ctl-none:1",
         "endpoint": "ctl-types", "instances": ref("parameters.n")}]})
    done = steps(wait(client, start(client, "ctl-types")["id"], "Failed", timeout=60))
    assert done["approve"]["status"] == "Failed"
    assert done["approve"]["reason"] == (
        "timeout_seconds must be a positive number of seconds; got '1d'")
    assert done["deploy"]["status"] == "Failed"
    assert done["deploy"]["reason"] == "instances must be a whole number, 1 or more; got 'two'"


def test_a_cache_hit_whose_output_was_deleted_or_replaced_runs_the_step_again(
        server: LocalServer) -> None:
    """A cached step handed on the dataset version it wrote even after that dataset was
    deleted (every later step then failed, and retries could not help) or deleted and made
    again, so the same version number held other rows: the next step read someone else's
    data, silently. Now such a hit is a miss and the step runs again."""
    client = server.client()
    upload(client, "gone-raw")
    create(client, {"name": "gone", "steps": [
        processing("clean", CLEAN.replace("pl-clean", "gone-clean"),
                   inputs={"raw": "gone-raw"}, outputs=["gone-clean"]),
        processing("count", COUNT, inputs={"clean": ref("steps.clean.outputs.gone-clean")}),
    ]})
    first = steps(wait(client, start(client, "gone")["id"], "Succeeded"))
    assert first["clean"]["outputs"]["outputs"] == {"gone-clean": "gone-clean:1"}
    assert first["count"]["outputs"]["metrics"]["test"]["rows"] == 3.0

    # Deleted, then made again by hand: version 1 is now one unrelated row.
    r = client.delete("/api/v1/datasets/gone-clean", params={"force": "true"})
    assert r.status_code == 200, r.text
    upload(client, "gone-clean", "customer,tenure,churned\nzz,99,no\n")
    second = steps(wait(client, start(client, "gone")["id"], "Succeeded"))
    assert not second["clean"]["cache_hit"]
    assert second["clean"]["job_id"] != first["clean"]["job_id"]
    assert second["count"]["outputs"]["metrics"]["test"]["rows"] == 3.0

    # Deleted and not made again: the step runs again rather than pass on nothing.
    r = client.delete("/api/v1/datasets/gone-clean", params={"force": "true"})
    assert r.status_code == 200, r.text
    third = steps(wait(client, start(client, "gone")["id"], "Succeeded"))
    assert not third["clean"]["cache_hit"]
    assert third["count"]["outputs"]["metrics"]["test"]["rows"] == 3.0

    # Nothing changed since: the new output is what is reused.
    fourth = steps(wait(client, start(client, "gone")["id"], "Succeeded"))
    assert fourth["clean"]["cache_hit"] and fourth["clean"]["job_id"] == third["clean"]["job_id"]
