"""Submit-time errors speak to every client: SDK and REST callers have no CLI flags.

A server-side message names the request field (``target``, ``split.time_column``,
``drop``); a CLI flag may follow only as ``(--target on the CLI)``. Before, AutoML and
training told an SDK user "Fix --target." This test reads every message the job kinds
and the training submit checks raise, so a new one that names a bare flag fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import shipyard

SRC = Path(shipyard.__file__).parent
#: The server-side modules whose errors reach SDK and REST callers.
SERVER_MODULES = sorted([*(SRC / "jobs" / "kinds").glob("*.py"),
                         SRC / "training" / "_submit.py", SRC / "training" / "_forecast.py"])
#: The SDK's own checks reach a notebook first (the CLI shares them): the same rule.
#: ``parse_ranges`` parses the CLI's ``--range`` text only, so it may name its flag.
SDK_MODULES = sorted(p for p in (SRC / "client").glob("*.py") if p.name != "_tuning.py")
#: Errors a caller's request gets back.
ERRORS = {"InvalidRequest", "Conflict", "NotFound"}
#: A CLI flag only inside a parenthesis that says it is the CLI's.
CLI_CLAUSE = re.compile(r"\([^()]*\bon the CLI\)")
#: A command to run, quoted: its flags are the command's, not the request's.
COMMAND = re.compile(r"`[^`]*`")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _bare_flags(message: str) -> list[str]:
    """The CLI flags ``message`` names as if the caller had typed them."""
    return FLAG.findall(COMMAND.sub("", CLI_CLAUSE.sub("", message)))


def _text(node: ast.expr) -> str:
    """The literal parts of a message (an f-string's fields as ``{}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    if isinstance(node, ast.IfExp):
        return _text(node.body) + " " + _text(node.orelse)
    return ""


def _messages(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ERRORS and node.args:
            found.append((node.lineno, _text(node.args[0])))
    return found


def test_the_rule_sees_a_bare_flag() -> None:
    assert _bare_flags("Fix --target.") == ["--target"]
    assert _bare_flags("Fix 'target' (--target on the CLI).") == []
    assert _bare_flags("`shipyard jobs list --kind tuning` lists them.") == []


@pytest.mark.parametrize("path", SERVER_MODULES + SDK_MODULES,
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_server_messages_name_fields_not_bare_cli_flags(path: Path) -> None:
    messages = _messages(path)
    bare = [(line, text) for line, text in messages if _bare_flags(text)]
    assert not bare, f"{path.name}: a CLI flag outside '(... on the CLI)': {bare}"


def test_the_modules_raise_messages_at_all() -> None:
    """The reader finds the messages (else the rule above could pass on nothing)."""
    texts = [t for p in SERVER_MODULES for _, t in _messages(p)]
    assert len(texts) > 50 and any("target" in t for t in texts)


def _warnings(path: Path) -> list[tuple[int, str]]:
    """The texts a module returns as a list of warnings, or assigns to a name first."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.List):
            found += [(node.lineno, _text(e)) for e in node.value.elts]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.IfExp | ast.BinOp):
            found.append((node.lineno, _text(node.value)))
    return [(line, text) for line, text in found if text]


def test_training_warnings_name_fields_not_bare_cli_flags() -> None:
    """A training job's sanity warnings reach every client in its record: they suggested
    ``--split``, ``--cv-folds``, ``--recipe`` and ``--drop`` to SDK users too."""
    texts = _warnings(SRC / "training" / "_sanity.py")
    assert any("cross-validate" in t for _, t in texts), texts
    bare = [(line, text) for line, text in texts if _bare_flags(text)]
    assert not bare, bare
