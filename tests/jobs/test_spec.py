"""The job spec and the state machine, without a server."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidRequest
from shipyard.jobs import STATUSES, TERMINAL, TRANSITIONS, parse_memory, parse_spec
from shipyard.jobs._states import sources


def _body(**fields: object) -> dict:
    return {"kind": "script", "script": {"filename": "train.py", "source": "print(1)"}, **fields}


@pytest.mark.parametrize(("text", "expected"), [
    ("512M", 512 * 1024**2), ("2G", 2 * 1024**3), ("1.5GiB", int(1.5 * 1024**3)),
    ("64mb", 64 * 1024**2), ("100k", 100 * 1024), (1048576, 1048576), ("  3 G ", 3 * 1024**3),
])
def test_parse_memory(text: str | int, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "2X", "-1G", "G", "1.2.3M", "iB", ""])
def test_parse_memory_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="memory must be"):
        parse_memory(text)


def test_defaults() -> None:
    spec = parse_spec(_body())
    assert spec.resources.cpus == 1 and spec.retries == 0 and spec.max_attempts == 1
    assert spec.inputs == {} and spec.outputs == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"kind": "training-ish"}, "unknown job kind 'training-ish'"),
    ({"script": {"filename": "../x.py", "source": ""}}, "plain file name"),
    ({"script": {"filename": "a/b.py", "source": ""}}, "plain file name"),
    ({"script": {"filename": "x.sh", "source": ""}}, "ending in .py"),
    ({"inputs": {"Raw": "churn"}}, "input channel names"),
    ({"outputs": ["../evil"]}, "Invalid output dataset name"),
    ({"outputs": ["a-b", "a_b"]}, "same variable suffix"),
    ({"resources": {"memory": "lots"}}, "memory must be a size"),
    ({"resources": {"memory": "1M"}}, "at least 64M"),
    ({"resources": {"memory": "100T"}}, "more than this machine has"),
    ({"resources": {"cpus": 0}}, "cpus must be between 1"),
    ({"resources": {"cpus": 10_000}}, "cpus must be between 1"),
    ({"max_runtime_seconds": 0}, "max_runtime_seconds"),
    ({"retries": 6}, "retries"),
    ({"environment": {"SHIPYARD_TOKEN": "x"}}, "set by Shipyard itself"),
    ({"environment": {"lower": "x"}}, "environment variable names"),
    ({"hyperparameters": {"a b": 1}}, "hyperparameter names"),
    ({"requirements": "-r /etc/passwd"}, "not local files"),
    ({"requirements": "file:///tmp/pkg"}, "not local files"),
    ({"colour": "red"}, "colour: unknown field"),
])
def test_invalid_specs(fields: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match="Invalid job spec") as err:
        parse_spec(_body(**fields))
    assert message in err.value.message
    assert not err.value.message.endswith("..")  # a problem's own period, then the sentence's


@pytest.mark.parametrize(("kind", "words"), [
    ("explain", "an explain job needs a 'model' like 'churn-model:3'"),
    ("bias", "a bias job needs a 'model' like 'churn-model:3'"),
])
def test_a_model_without_its_version_is_named_as_such(kind: str, words: str) -> None:
    """`shipyard explain titanic-model --dataset titanic` (no version) said "a explain job"."""
    body = {"kind": kind, "model": "titanic-model", "inputs": {"dataset": "titanic"}}
    if kind == "bias":
        body.update(label="survived", positive=["yes"], facet="sex")
    with pytest.raises(InvalidRequest) as err:
        parse_spec(body)
    assert words in err.value.message and "got 'titanic-model'" in err.value.message


def test_not_an_object() -> None:
    with pytest.raises(InvalidRequest, match="must be a JSON object"):
        parse_spec(["kind", "script"])


def test_state_machine() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()
    assert sources("Stopped") == ["Pending", "Stopping"]
    assert sources("Completed") == ["Running"]
    with pytest.raises(ValueError, match="may not move"):
        sources("Completed", ["Pending"])
    with pytest.raises(ValueError, match="may not move"):
        sources("Running", ["Failed"])
