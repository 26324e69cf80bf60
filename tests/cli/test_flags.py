"""The CLI speaks in flags and in numbers for people."""

from __future__ import annotations

import pytest
import typer

from shipyard.cli import app
from shipyard.cli._errors import FLAGS, command_of, in_flags
from shipyard.humanize import count, number, plural
from shipyard.testing import LocalServer

from .helpers import Run, one_sentence_error


def _options(command: str) -> set[str]:
    group = typer.main.get_command(app)
    for word in command.split():
        group = group.commands[word]  # type: ignore[attr-defined]
    return {opt for param in group.params for opt in getattr(param, "opts", [])}


@pytest.mark.parametrize("command", sorted(FLAGS))
def test_every_flag_in_the_table_is_an_option_of_its_command(command: str) -> None:
    options = _options(command)
    missing = {field: flag for field, flag in FLAGS[command].items() if flag not in options}
    assert not missing, f"{command} has no option for {missing}"


def test_the_command_is_found_past_the_root_options() -> None:
    assert command_of(["endpoints", "create", "ep", "--model", "m:1"]) == "endpoints create"
    assert command_of(["--url", "http://x", "--token", "t", "endpoints", "update", "ep"]) == \
        "endpoints update"
    assert command_of(["jobs", "list"]) is None and command_of([]) is None


@pytest.mark.parametrize(("command", "message", "expected"), [
    ("endpoints create",
     "Model churn:2 is PendingManualApproval; only Approved versions are deployed (an admin "
     "may pass allow_unapproved).",
     "Model churn:2 is PendingManualApproval; only Approved versions are deployed (an admin "
     "may pass --allow-unapproved)."),
    ("endpoints update", "autoscaling needs 1 <= min_instances <= max_instances <= 16; got 3 "
     "and 2.", "autoscaling needs 1 <= --min-instances <= --max-instances <= 16; got 3 and 2."),
    ("endpoints create", "autoscaling needs target_concurrency > 0 and cooldown_seconds >= 0.",
     "autoscaling needs --target-concurrency > 0 and --cooldown >= 0."),
    ("jobs run", "Algorithm 'kmeans' does clustering, not 'binary'; leave problem_type out or "
     "choose another algorithm.", "Algorithm 'kmeans' does clustering, not 'binary'; leave "
     "--problem-type out or choose another algorithm."),
    ("jobs run", "Column 'time_column_x' is missing; 'time_column' must name a column.",
     "Column 'time_column_x' is missing; --time-column must name a column."),
    # Another command's fields, and plain words, are left alone.
    ("jobs run", "only an admin may pass allow_unapproved", "only an admin may pass "
     "allow_unapproved"),
    (None, "capture_percent is a percentage", "capture_percent is a percentage"),
])
def test_api_fields_become_flags(command: str | None, message: str, expected: str) -> None:
    assert in_flags(message, command) == expected


def test_a_server_error_names_the_flag(cli: Run, server: LocalServer) -> None:
    err = one_sentence_error(cli("endpoints", "create", "flags-ep", "--model", "nope:1",
                                 "--min-instances", "3", "--max-instances", "2"))
    assert "--min-instances" in err and "--max-instances" in err and "min_instances" not in err
    err = one_sentence_error(cli("endpoints", "create", "flags-ep", "--model", "nope:1",
                                 "--target-concurrency", "2"))
    assert "--max-instances" in err, err


@pytest.mark.parametrize(("value", "text"), [
    (10790, "10,790"), (10790.0, "10,790"), (1.079e4, "10,790"), (12345.678, "12,345.7"),
    (0.81234, "0.8123"), (3.14159, "3.142"), (0.0, "0"), (-2500.5, "-2,500.5"),
    (1.2e-07, "1.2e-07"), (None, ""), (True, "True"), ("x", "x"), (float("nan"), "nan"),
])
def test_numbers_for_people(value: object, text: str) -> None:
    assert number(value) == text


def test_plurals() -> None:
    assert count(1, "category") == "1 category" and count(2, "category") == "2 categories"
    assert count(0, "row") == "0 rows" and count(10790, "row") == "10,790 rows"
    assert plural(2, "box") == "boxes" and plural(2, "day") == "days"
    assert count(3, "alert") == "3 alerts" and count(1, "alert") == "1 alert"
    assert plural(2, "analysis", "analyses") == "analyses"


def test_numpy_scalars_are_numbers() -> None:
    import numpy as np

    assert number(np.int64(10790)) == "10,790" and number(np.float64(0.5)) == "0.5"


@pytest.mark.parametrize("command", ["jobs run", "jobs wrangle", "endpoints create",
                                     "endpoints update", "monitors run", "monitors check",
                                     "pipelines start", "pipelines retry"])
def test_one_wait_default_for_commands_that_start_work(command: str) -> None:
    group = typer.main.get_command(app)
    for word in command.split():
        group = group.commands[word]  # type: ignore[attr-defined]
    (wait,) = [p for p in group.params if p.name == "wait"]
    assert wait.default is True and "--no-wait" in wait.secondary_opts  # type: ignore[attr-defined]
    assert "The default; --no-wait returns once it has started." in (wait.help or "")  # type: ignore[attr-defined]
