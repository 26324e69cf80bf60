"""Destructive deletes ask first, the same way in every command: ``--yes`` skips the
question, and without a terminal to ask on (a script, a pipe) the command says to pass
``--yes`` in one sentence and deletes nothing."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from shipyard.cli import app
from shipyard.testing import LocalServer

from .helpers import Run, ok, one_sentence_error

#: Deletes that lose nothing stored (none today: even the catalog's, which leaves a
#: location's files, forgets its registration and every SQL name under it).
NOT_DESTRUCTIVE: set[tuple[str, ...]] = set()


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the CLI's tree, with its path (Typer's groups are its own click's)."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_destructive_delete_takes_yes() -> None:
    deletes = {path: command for path, command in _commands(typer.main.get_group(app))
               if path[-1] == "delete" and path not in NOT_DESTRUCTIVE}
    assert {("models", "delete"), ("endpoints", "delete"), ("pipelines", "delete"),
            ("datasets", "delete"), ("monitors", "delete"), ("schedules", "delete"),
            ("pipelines", "triggers", "delete"), ("catalog", "delete")} <= set(deletes)
    lacking = [" ".join(path) for path, command in deletes.items()
               if not any("--yes" in getattr(p, "opts", ()) for p in command.params)]
    assert lacking == []


def _pipeline(server: LocalServer, name: str) -> None:
    r = server.client().post("/api/v1/pipelines", json={"name": name, "steps": [
        {"name": "hello", "type": "processing",
         "job": {"script": {"filename": "s.py", "source": "print('hi')\n"}}}]})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("resource", "name"), [
    ("models", "no-such-group"), ("endpoints", "no-such-endpoint"),
    ("monitors", "no-such-monitor"), ("schedules", "no-such-schedule"),
    ("catalog", "no_such_location")])
def test_without_a_terminal_a_delete_needs_yes(cli: Run, resource: str, name: str) -> None:
    err = one_sentence_error(cli(resource, "delete", name))
    assert err.endswith("needs confirmation; pass --yes.") and repr(name) in err, err
    # With --yes the delete is asked of the server, which says what is wrong.
    assert "No " in one_sentence_error(cli(resource, "delete", name, "--yes"))


def test_a_pipeline_is_deleted_only_when_confirmed(cli: Run, server: LocalServer) -> None:
    _pipeline(server, "doomed")
    err = one_sentence_error(cli("pipelines", "delete", "doomed"))
    assert err == "Error: Deleting pipeline 'doomed' needs confirmation; pass --yes."
    assert server.client().get("/api/v1/pipelines/doomed").status_code == 200
    assert "Deleted pipeline 'doomed'" in ok(cli("pipelines", "delete", "doomed", "-y")).stdout
    assert server.client().get("/api/v1/pipelines/doomed").status_code == 404


def test_a_catalog_location_is_forgotten_only_when_confirmed(
        cli: Run, server: LocalServer, tmp_path: Path) -> None:
    (tmp_path / "lake" / "trips").mkdir(parents=True)
    (tmp_path / "lake" / "trips" / "a.csv").write_text("x,y\n1,2\n")
    ok(cli("catalog", "create", str(tmp_path / "lake"), "--name", "doomed_lake"))
    err = one_sentence_error(cli("catalog", "delete", "doomed_lake"))
    assert err == "Error: Deleting catalog location 'doomed_lake' needs confirmation; pass --yes."
    c = server.client()
    assert c.get("/api/v1/catalog/locations/doomed_lake").status_code == 200
    assert "Deleted" in ok(cli("catalog", "delete", "doomed_lake", "--yes")).stdout
    assert c.get("/api/v1/catalog/locations/doomed_lake").status_code == 404
    assert (tmp_path / "lake" / "trips" / "a.csv").exists()  # its files are not touched


def _in_a_terminal(server: LocalServer, answer: str, *args: str) -> tuple[int, str]:
    """Run the CLI with a terminal as stdin, answering its question with ``answer``."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "shipyard.cli", *args],
                                env=server.sdk_env(), stdin=secondary,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        os.write(primary, f"{answer}\n".encode())
        stdout, _ = proc.communicate(timeout=120)
    finally:
        os.close(primary)
        os.close(secondary)
    return proc.returncode, stdout.decode()


def test_in_a_terminal_a_delete_asks_and_no_keeps_it(server: LocalServer) -> None:
    _pipeline(server, "asked")
    code, shown = _in_a_terminal(server, "n", "pipelines", "delete", "asked")
    assert code != 0 and "Delete pipeline 'asked' with its versions and executions?" in shown
    assert server.client().get("/api/v1/pipelines/asked").status_code == 200
    code, shown = _in_a_terminal(server, "y", "pipelines", "delete", "asked")
    assert code == 0 and "Deleted pipeline 'asked'" in shown, shown
    assert server.client().get("/api/v1/pipelines/asked").status_code == 404
