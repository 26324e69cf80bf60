"""Train/validation/test splits on real tables: sizes, strata, time order, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.evaluation import Split, SplitSpec, reproduce_split, sample_train, split_frame


def assert_partition(split: Split, n: int) -> None:
    joined = np.concatenate([split.train, split.validation, split.test])
    assert np.array_equal(np.sort(joined), np.arange(n))  # every row once


def assert_sizes(split: Split, n: int, fractions: tuple[float, float, float]) -> None:
    for part, fraction in zip((split.train, split.validation, split.test), fractions, strict=True):
        assert abs(part.size - n * fraction) <= 1


@pytest.mark.parametrize("fractions", [(0.7, 0.2, 0.1), (0.6, 0.25, 0.15), (0.8, 0.2, 0.0)])
def test_random_split_sizes(churn: pd.DataFrame, fractions) -> None:
    split = split_frame(churn, SplitSpec(fractions=fractions, method="random"))
    assert_partition(split, len(churn))
    assert_sizes(split, len(churn), fractions)
    assert split.record["method"] == "random"
    assert split.record["row_counts"]["test"] == split.test.size


def test_auto_stratifies_binary_and_keeps_class_shares(churn: pd.DataFrame) -> None:
    split = split_frame(churn, SplitSpec(), target="churn", problem_type="binary")
    assert split.record["method"] == "stratified"
    assert_partition(split, len(churn))
    assert_sizes(split, len(churn), (0.7, 0.2, 0.1))
    is_yes = (churn["churn"] == "Yes").to_numpy()
    for part, fraction in zip((split.train, split.validation, split.test), (0.7, 0.2, 0.1),
                              strict=True):
        # Each class is cut in proportion, to within a row or two.
        assert abs(is_yes[part].sum() - is_yes.sum() * fraction) <= 2
        assert abs(is_yes[part].mean() - is_yes.mean()) < 0.003


def test_stratified_multiclass_with_missing_target(penguins: pd.DataFrame) -> None:
    split = split_frame(penguins, SplitSpec(method="stratified"), target="sex",
                        problem_type="binary")  # sex has missing values: their own stratum
    counts = penguins["sex"].value_counts(dropna=False)
    for value, total in counts.items():
        mask = penguins["sex"].isna() if pd.isna(value) else penguins["sex"] == value
        in_test = mask.to_numpy()[split.test].sum()
        assert abs(in_test - total * 0.1) <= 1


def test_random_split_does_not_keep_strata_exactly(churn: pd.DataFrame) -> None:
    # The control for the test above: the stratified closeness is not luck.
    is_yes = (churn["churn"] == "Yes").to_numpy()
    gaps = [
        abs(is_yes[split_frame(churn, SplitSpec(method="random", seed=s)).test].mean()
            - is_yes.mean())
        for s in range(5)
    ]
    assert max(gaps) > 0.003


def test_time_split_puts_test_after_training(chicago: pd.DataFrame) -> None:
    shuffled = chicago.sample(frac=1.0, random_state=1)  # rows out of time order
    split = split_frame(shuffled, SplitSpec(time_column="date"), target="ridership",
                        problem_type="regression")
    assert split.record["method"] == "time"
    assert_partition(split, len(shuffled))
    assert_sizes(split, len(shuffled), (0.7, 0.2, 0.1))
    dates = pd.to_datetime(shuffled["date"]).to_numpy()
    assert dates[split.train].max() < dates[split.validation].min()
    assert dates[split.validation].max() < dates[split.test].min()
    bounds = split.record["boundaries"]
    assert bounds["train"]["start"] == pd.Timestamp(dates.min()).isoformat()
    assert bounds["test"]["end"] == pd.Timestamp(dates.max()).isoformat()
    assert bounds["train"]["end"] < bounds["validation"]["start"] <= bounds["validation"]["end"]
    assert bounds["validation"]["end"] < bounds["test"]["start"]


def test_time_split_keeps_equal_times_together(penguins: pd.DataFrame) -> None:
    # Three years only: each requested split gets whole years, none is left empty.
    split = split_frame(penguins, SplitSpec(method="time", time_column="year"))
    years = penguins["year"].to_numpy()
    assert [sorted(set(years[p])) for p in (split.train, split.validation, split.test)] == [
        [2007], [2008], [2009]
    ]
    assert split.record["boundaries"]["test"] == {"start": 2009, "end": 2009}
    assert any("no timestamp spans two splits" in note for note in split.record["notes"])
    # Two years and three splits asked for: validation gives way, test stays after train.
    two = penguins[penguins["year"] > 2007]
    split = split_frame(two, SplitSpec(method="time", time_column="year"))
    years = two["year"].to_numpy()
    assert split.validation.size == 0
    assert set(years[split.train]) == {2008} and set(years[split.test]) == {2009}
    assert "Only 2 distinct timestamp(s)" in split.record["notes"][0]


def test_years_sent_as_json_numbers_are_ordered_as_years(penguins: pd.DataFrame) -> None:
    """Rows that arrive as JSON records can leave ``year`` an object column of Python
    ints: pandas read those as dates (a Pandas4Warning; nanoseconds after 1970 from
    pandas 4). They are numbers, and split as the int64 column does."""
    as_objects = penguins.assign(year=penguins["year"].astype(object))
    split = split_frame(as_objects, SplitSpec(method="time", time_column="year"))
    same = split_frame(penguins, SplitSpec(method="time", time_column="year"))
    assert split.record["boundaries"] == same.record["boundaries"]
    assert split.record["boundaries"]["test"] == {"start": 2009, "end": 2009}
    assert np.array_equal(split.test, same.test)
    mixed = as_objects.assign(year=[*as_objects["year"].iloc[:-1], "2009-06-01"])
    with pytest.raises(InvalidRequest, match=r"mixes numbers \(2007 in row 0\) and other "
                                             r"values \('2009-06-01' in row 343\)"):
        split_frame(mixed, SplitSpec(method="time", time_column="year"))


def test_group_split_keeps_each_group_in_one_split(ames: pd.DataFrame) -> None:
    split = split_frame(ames, SplitSpec(method="group", group_column="Neighborhood", seed=7))
    assert_partition(split, len(ames))
    groups = ames["Neighborhood"].to_numpy()
    seen = [set(groups[part]) for part in (split.train, split.validation, split.test)]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    largest = ames["Neighborhood"].value_counts().max()
    assert abs(split.train.size - 0.7 * len(ames)) <= largest


def test_same_seed_same_split_other_seed_other_split(churn: pd.DataFrame) -> None:
    spec = SplitSpec(seed=11)
    a = split_frame(churn, spec, target="churn", problem_type="binary")
    b = split_frame(churn, spec, target="churn", problem_type="binary")
    c = split_frame(churn, SplitSpec(seed=12), target="churn", problem_type="binary")
    assert all(np.array_equal(x, y) for x, y in zip((a.train, a.test), (b.train, b.test),
                                                     strict=True))
    assert a.record == b.record
    assert not np.array_equal(a.test, c.test)


@pytest.mark.parametrize(
    ("spec", "target", "problem_type", "frame"),
    [
        (SplitSpec(seed=5), "churn", "binary", "churn"),
        (SplitSpec(method="random", fractions=(0.5, 0.5, 0.0)), None, None, "churn"),
        (SplitSpec(time_column="date"), None, "regression", "chicago"),
        (SplitSpec(method="group", group_column="Neighborhood"), "price", "regression", "ames"),
    ],
)
def test_record_reproduces_the_split(request, spec, target, problem_type, frame) -> None:
    df = request.getfixturevalue(frame)
    split = split_frame(df, spec, target=target, problem_type=problem_type)
    record = json.loads(json.dumps(split.record))  # as stored in MODEL.json
    again = reproduce_split(df, record)
    for part in ("train", "validation", "test"):
        assert np.array_equal(getattr(again, part), getattr(split, part))


def test_reproducing_on_another_table_is_refused(churn: pd.DataFrame) -> None:
    record = split_frame(churn, SplitSpec(), target="churn", problem_type="binary").record
    with pytest.raises(InvalidRequest, match="made on 7043 rows; this table has 7042"):
        reproduce_split(churn.iloc[1:], record)
    reordered = churn.sample(frac=1.0, random_state=0)
    with pytest.raises(InvalidRequest, match="fingerprint differs"):
        reproduce_split(reordered, record)


def test_auto_falls_back_to_random_when_a_class_is_too_small(penguins: pd.DataFrame) -> None:
    df = penguins.copy()
    df.loc[df.index[0], "species"] = "Emperor"  # one row of a fourth class
    split = split_frame(df, SplitSpec(), target="species", problem_type="multiclass")
    assert split.record["method"] == "random"
    assert "'Emperor'" in split.record["notes"][0]
    with pytest.raises(InvalidRequest, match="Cannot stratify: class 'Emperor' of 'species' has 1"):
        split_frame(df, SplitSpec(method="stratified"), target="species",
                    problem_type="multiclass")


def test_zero_fractions_give_empty_splits(penguins: pd.DataFrame) -> None:
    split = split_frame(penguins, SplitSpec(fractions=(1.0, 0.0, 0.0)), target="species",
                        problem_type="multiclass")
    assert split.train.size == len(penguins)
    assert split.validation.size == 0 and split.test.size == 0
    assert split.validation.dtype == np.int64


def test_tiny_tables_keep_a_training_row() -> None:
    for n in (1, 2, 3):
        split = split_frame(pd.DataFrame({"x": range(n)}), SplitSpec(fractions=(0.34, 0.33, 0.33)))
        assert split.train.size >= 1
        assert_partition(split, n)


def test_split_is_read_only_and_gives_frames(penguins: pd.DataFrame) -> None:
    split = split_frame(penguins, SplitSpec())
    with pytest.raises(ValueError, match="read-only"):
        split.train[0] = 1
    train, validation, test = split.frames(penguins)
    assert len(train) + len(validation) + len(test) == len(penguins)
    assert train.index.equals(penguins.index[split.train])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fractions": (0.5, 0.5, 0.5)}, r"must sum to 1; got \[0.5, 0.5, 0.5\] \(sum 1.5\)"),
        ({"fractions": (0.0, 0.5, 0.5)}, "train fraction must be above 0"),
        ({"fractions": (1.1, -0.1, 0.0)}, "train fraction must be between 0 and 1; got 1.1"),
        ({"fractions": (0.8, -0.1, 0.3)}, "validation fraction must be between 0 and 1"),
        ({"fractions": (0.7, 0.3)}, r"three numbers \(train, validation, test\)"),
        ({"fractions": "0.7,0.2,0.1"}, "three numbers"),
        ({"fractions": ("a", 0.2, 0.1)}, "must be numbers"),
        ({"fractions": (float("nan"), 0.2, 0.1)}, "between 0 and 1"),
        ({"method": "kfold"}, "Unknown split method 'kfold'; use one of auto, random"),
        ({"method": "time"}, "needs time_column"),
        ({"method": "group"}, "needs group_column"),
        ({"seed": -1}, "non-negative integer"),
    ],
)
def test_bad_spec_is_a_clear_error(kwargs, message) -> None:
    with pytest.raises(InvalidRequest, match=message):
        SplitSpec(**kwargs)


@pytest.mark.parametrize(
    ("spec", "target", "message"),
    [
        (SplitSpec(time_column="when"), None, "Split column 'when' is not in the table"),
        (SplitSpec(method="stratified"), None, "needs the target column"),
        (SplitSpec(time_column="sex"), None, "missing value"),
        (SplitSpec(time_column="species"), None, "must hold dates, times or numbers"),
    ],
)
def test_bad_split_request_is_a_clear_error(penguins, spec, target, message) -> None:
    with pytest.raises(InvalidRequest, match=message):
        split_frame(penguins, spec, target=target)


def test_regression_cannot_be_stratified(ames: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="regression target has no classes"):
        split_frame(ames, SplitSpec(method="stratified"), target="price",
                    problem_type="regression")


def test_empty_table_unknown_problem_type_and_raw_spec() -> None:
    with pytest.raises(InvalidRequest, match="spec must be a SplitSpec; got dict"):
        split_frame(pd.DataFrame({"x": [1, 2]}), {"method": "random"})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="empty table"):
        split_frame(pd.DataFrame({"x": []}), SplitSpec())
    with pytest.raises(InvalidRequest, match="Unknown problem type 'ranking'"):
        split_frame(pd.DataFrame({"x": [1, 2]}), SplitSpec(), problem_type="ranking")


def test_spec_round_trips_through_json() -> None:
    spec = SplitSpec(fractions=(0.6, 0.2, 0.2), method="time", time_column="date", seed=3)
    assert SplitSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert SplitSpec.from_dict(None) == SplitSpec()
    assert SplitSpec.from_dict({"fractions": [0.8, 0.1, 0.1], "time_column": None}).fractions == (
        0.8, 0.1, 0.1)
    with pytest.raises(InvalidRequest, match="Unknown split field.*stratify"):
        SplitSpec.from_dict({"stratify": True})
    with pytest.raises(InvalidRequest, match="must be an object"):
        SplitSpec.from_dict([0.7, 0.2, 0.1])  # type: ignore[arg-type]


def test_train_rows_samples_the_training_rows_only(churn: pd.DataFrame) -> None:
    spec = SplitSpec.from_dict({"train_rows": 500, "seed": 3})
    assert spec.to_dict()["train_rows"] == 500
    assert "train_rows" not in SplitSpec().to_dict()  # older records stay as they were
    cut = split_frame(churn, spec, target="churn", problem_type="binary")
    train, validation, _ = cut.frames(churn)
    sample = sample_train(train, spec.train_rows, spec.seed)
    assert len(sample) == 500 and sample.index.isin(train.index).all()
    assert sample.index.is_monotonic_increasing and sample.index.is_unique
    assert sample.equals(sample_train(train, 500, 3))  # seeded
    assert not sample.index.equals(sample_train(train, 500, 4).index)
    assert sample_train(validation, 10**6, 3) is validation  # fewer rows: as it is
    with pytest.raises(InvalidRequest, match="train_rows must be an integer of at least 10"):
        SplitSpec.from_dict({"train_rows": 0})
