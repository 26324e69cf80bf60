"""The command tree itself, in-process: every command takes --json, and output helpers."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from shipyard.cli import app
from shipyard.client._progress import WaitDisplay


def _leaves(cmd: Any, path: str = "shipyard") -> list[tuple[str, Any]]:
    if hasattr(cmd, "commands"):  # a group (Typer vendors its own click)
        found = [(path, cmd)] if cmd.invoke_without_command else []
        for name, sub in cmd.commands.items():
            found += _leaves(sub, f"{path} {name}")
        return found
    return [(path, cmd)]


def test_every_command_takes_json() -> None:
    leaves = _leaves(typer.main.get_command(app))
    names = {path for path, _ in leaves}
    assert {"shipyard server", "shipyard server start", "shipyard datasets create",
            "shipyard jobs logs", "shipyard tokens revoke", "shipyard whoami",
            "shipyard jobs tag", "shipyard experiments compare", "shipyard models approve",
            "shipyard models card", "shipyard models download", "shipyard algorithms show"
            } <= names
    missing = [path for path, cmd in leaves
               if "--json" not in {o for p in cmd.params for o in p.opts}]
    assert missing == []


def test_log_output_is_whole_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with WaitDisplay(enabled=False) as display:
        display.log("first\nsec")
        assert capsys.readouterr().out == "first\n"
        display.log("ond\nthi")
        assert capsys.readouterr().out == "second\n"
    assert capsys.readouterr().out == "thi\n"
