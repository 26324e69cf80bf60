"""The pure timing of a schedule: intervals, cron expressions, and what comes after a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shipyard.errors import InvalidRequest
from shipyard.scheduling import Schedule, check_cron, parse_every


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), (" 2H ", 7200), ("90s", 90),
])
def test_intervals_parse(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1.5h", "-1h", "1w", "1 hour", "0s", "400d"])
def test_bad_intervals_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        parse_every(text)
    assert "'30s'" in exc.value.message or "at least 1s" in exc.value.message
    assert exc.value.message.count(".") >= 1 and "\n" not in exc.value.message


def test_every_is_spelled_back_in_its_shortest_unit() -> None:
    assert Schedule.parse(every="60m").every == "1h"
    assert Schedule.parse(every="90s").every == "90s"
    assert Schedule.parse(every="1440m").every == "1d"
    assert Schedule.parse(every="15m").describe() == "every 15 minutes"
    assert Schedule.parse(every="1h").describe() == "every 1 hour"


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("*/15 * * * *", "2026-01-01 00:00:00", "2026-01-01 00:15:00"),
    ("*/15 * * * *", "2026-01-01 00:14:59", "2026-01-01 00:15:00"),
    ("0 6 * * *", "2026-01-01 06:00:00", "2026-01-02 06:00:00"),
    ("0 6 * * *", "2026-01-01 05:59:00", "2026-01-01 06:00:00"),
    ("0 9 * * 1-5", "2026-01-02 09:00:00", "2026-01-05 09:00:00"),  # Fri → Mon
    ("30 2 1 * *", "2026-01-31 12:00:00", "2026-02-01 02:30:00"),
    ("0 0 29 2 *", "2026-01-01 00:00:00", "2028-02-29 00:00:00"),  # the next leap day
    ("0 0 * * 0", "2026-01-01 00:00:00", "2026-01-04 00:00:00"),  # Sunday is 0
    ("@daily", "2026-03-10 13:00:00", "2026-03-11 00:00:00"),
    ("@hourly", "2026-03-10 13:00:00", "2026-03-10 14:00:00"),
    ("59 23 31 12 *", "2026-06-01 00:00:00", "2026-12-31 23:59:00"),
])
def test_cron_next_runs(expr: str, after: str, expected: str) -> None:
    assert Schedule.parse(cron=expr).next_after(at(after)) == at(expected)


def test_cron_answers_in_utc_whatever_zone_it_is_asked_in() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 1, 1, 6, 30, tzinfo=paris)  # 05:30 UTC
    assert Schedule.parse(cron="0 6 * * *").next_after(moment) == at("2026-01-01 06:00:00")
    naive = datetime(2026, 1, 1, 5, 30)
    assert Schedule.parse(cron="0 6 * * *").next_after(naive).tzinfo == UTC


@pytest.mark.parametrize(("expr", "words"), [
    ("61 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 32 * *", "day"),
    ("* * * 13 *", "month"), ("* * * *", "5 fields"), ("* * * * * *", "5 fields"),
    ("", "cron expression"), ("every day", "5 fields"),
])
def test_bad_cron_expressions_are_one_sentence(expr: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        check_cron(expr)
    assert words in exc.value.message
    assert "\n" not in exc.value.message


def test_exactly_one_of_every_and_cron() -> None:
    with pytest.raises(InvalidRequest, match="exactly one"):
        Schedule.parse()
    with pytest.raises(InvalidRequest, match="exactly one"):
        Schedule.parse(every="1h", cron="0 * * * *")


def test_missed_runs_collapse_into_one_and_intervals_keep_their_phase() -> None:
    hourly = Schedule.parse(every="1h")
    planned = at("2026-01-01 00:05:00")
    # The server was down from 00:00 to 05:42: the run fires once and the next is 06:05.
    assert hourly.following(planned, at("2026-01-01 05:42:00")) == at("2026-01-01 06:05:00")
    # On time: exactly one interval later.
    assert hourly.following(planned, planned) == at("2026-01-01 01:05:00")
    cron = Schedule.parse(cron="0 * * * *")
    assert cron.following(at("2026-01-01 01:00:00"), at("2026-01-01 05:42:00")) == \
        at("2026-01-01 06:00:00")
