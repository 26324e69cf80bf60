"""Run a Markdown file's code blocks in order, as a reader would: the README test's engine.

:func:`parse` finds the fenced blocks; shell blocks (``sh``, ``bash``, ``shell``) run in one
bash session (``set -euo pipefail``, so variables and ``cd`` carry over and any failing
command fails the block), Python blocks (``python``, ``py``) in one interpreter started in
the shell's folder at the first of them, where each top-level expression is displayed as
a notebook would (``_repr_html_``, ``_repr_markdown_``, ``repr``). A block is left out only
when a ``<!-- readme-test: skip (reason) -->`` line stands right before it; a block in any
other language must be marked so too.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SHELL = frozenset({"sh", "bash", "shell"})
PYTHON = frozenset({"python", "py", "python3"})
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)\s*$")
_SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]*\S[^)]*)\)\s*-->$")

_BASH_DRIVER = r"""
set -euo pipefail
shopt -s inherit_errexit
while IFS= read -r __readme_block; do
  source "$__readme_block" </dev/null
  printf 'ok %s\n' "$PWD" >&"$README_STATUS_FD"
done
"""

_PYTHON_DRIVER = r"""
import ast, os, sys

status = os.fdopen(int(os.environ["README_STATUS_FD"]), "w", buffering=1)
namespace = {"__name__": "__main__"}


def show(value):
    # What a notebook does with the value of an expression: render it.
    if value is None:
        return
    for method in ("_repr_html_", "_repr_markdown_"):
        render = getattr(value, method, None)
        if callable(render) and not isinstance(value, type):
            text = render()
            if text is not None and not isinstance(text, str):
                raise TypeError(f"{type(value).__name__}.{method}() returned "
                                f"{type(text).__name__}, not str")
    print(repr(value)[:3000], flush=True)


for line in sys.stdin:
    path = line.strip()
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Expr):
            show(eval(compile(ast.Expression(node.value), path, "eval"), namespace))
        else:
            exec(compile(ast.Module([node], type_ignores=[]), path, "exec"), namespace)
    sys.stdout.flush()
    sys.stderr.flush()
    status.write("ok\n")
"""


class ReadmeError(ValueError):
    """The Markdown itself is wrong: an unterminated fence, a stray or unknown marker."""


class BlockFailed(AssertionError):
    """A block exited with an error, ended its session, or took too long."""


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, code, first line (1-based) and skip reason."""

    lang: str
    code: str
    line: int
    skip: str | None = None

    @property
    def kind(self) -> str:
        return "shell" if self.lang in SHELL else "python" if self.lang in PYTHON else "other"

    def describe(self) -> str:
        first = next((ln for ln in self.code.splitlines() if ln.strip()), "")
        return f"line {self.line} ({self.lang or 'no language'}): {first[:70]}"


def parse(text: str) -> list[Block]:
    """Every fenced block of ``text``, in order, with the skip marker that precedes it.

    Raises:
        ReadmeError: an unterminated fence, a marker not followed by a block, a marker
            that is not a skip with a reason, or a block in another language without one.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    skip: tuple[str, int] | None = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("<!--") and "readme-test" in line:
            m = _SKIP.match(line)
            if m is None:
                raise ReadmeError(f"Line {i + 1}: a readme-test marker must read "
                                  f"'<!-- readme-test: skip (reason) -->'; got {line!r}.")
            skip = (m.group("reason").strip(), i + 1)
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if line and skip is not None:
                raise ReadmeError(f"Line {skip[1]}: the skip marker is not followed by a "
                                  "code block (only blank lines may stand between them).")
            i += 1
            continue
        mark, lang = fence.group("fence"), fence.group("lang").lower()
        start = i + 1
        end = next((j for j in range(start, len(lines))
                    if lines[j].strip().startswith(mark[0] * len(mark))
                    and not lines[j].strip().strip(mark[0])), None)
        if end is None:
            raise ReadmeError(f"Line {i + 1}: the code block is never closed.")
        block = Block(lang, "\n".join(lines[start:end]) + "\n", start + 1,
                      skip[0] if skip else None)
        if block.kind == "other" and block.skip is None:
            raise ReadmeError(f"Line {i + 1}: a {lang or 'plain'} block is neither shell nor "
                              "Python; mark it <!-- readme-test: skip (reason) --> or give it a "
                              "language the test runs.")
        blocks.append(block)
        skip = None
        i = end + 1
    if skip is not None:
        raise ReadmeError(f"Line {skip[1]}: the skip marker is not followed by a code block.")
    return blocks


class Session:
    """One long-lived bash or Python process that runs blocks sent to it, one at a time."""

    def __init__(self, kind: str, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.kind = kind
        self.log_path = log
        argv = (["bash", "--noprofile", "--norc", "-c", _BASH_DRIVER] if kind == "shell"
                else [sys.executable, "-u", "-c", _PYTHON_DRIVER])
        read, write = os.pipe()
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env={**env, "README_STATUS_FD": str(write)},
                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(write,), start_new_session=True)
        os.close(write)
        self._status = read
        self._pending = b""
        #: The shell's folder after its last block (where a notebook would be started).
        self.cwd = cwd

    def run(self, block: Block, folder: Path, index: int, timeout: float) -> None:
        """Run ``block``; its file keeps README line numbers in errors and tracebacks.

        Raises:
            BlockFailed: the block failed, or did not finish within ``timeout`` seconds.
        """
        suffix = ".sh" if self.kind == "shell" else ".py"
        path = folder / f"block-{index:02d}-line{block.line}{suffix}"
        path.write_text("\n" * (block.line - 1) + block.code, encoding="utf-8")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{path}\n".encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise self._failed(block, "its session had already ended") from None
        answer = self._read_line(timeout)
        if answer is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the block and whatever it started
            raise self._failed(block, f"it did not finish within {timeout:g} s")
        if not answer.startswith("ok"):
            raise self._failed(block, f"it ended its session (exit {self.proc.wait(30)})")
        if self.kind == "shell":
            self.cwd = Path(answer[3:])

    def _read_line(self, timeout: float) -> str | None:
        """The next status line; "" when the session ended, None on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._status], [], [], min(left, 5.0))
            if not ready:
                continue
            chunk = os.read(self._status, 4096)
            if not chunk:
                return ""
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode()

    def _failed(self, block: Block, why: str) -> BlockFailed:
        log = self.log_path.read_text(errors="replace")[-6000:]
        return BlockFailed(f"README block at {block.describe()} failed: {why}.\n"
                           f"--- the end of the {self.kind} session's output "
                           f"({self.log_path}) ---\n{log}")

    def stop(self) -> None:
        """End the session (its stdin closed, so it exits after its block), killed if stuck."""
        if self._status < 0:
            return
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        os.close(self._status)
        self._status = -1


@dataclass
class Outcome:
    """What a run did: the blocks run and the blocks skipped (with their reasons)."""

    ran: list[Block]
    skipped: list[Block]


def run_blocks(blocks: list[Block], work: Path, env: dict[str, str], logs: Path,
               timeout: float = 900.0) -> Outcome:
    """Run ``blocks`` in order from ``work`` (see the module doc); stop at the first failure.

    Raises:
        BlockFailed: a block failed; the message names its README line and shows the end
            of its session's output.
    """
    logs.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    outcome = Outcome([], [])
    sessions: dict[str, Session] = {}
    try:
        for index, block in enumerate(blocks):
            if block.skip is not None:
                outcome.skipped.append(block)
                continue
            session = sessions.get(block.kind)
            if session is None:
                # A notebook is started where the reader is: the shell's current folder.
                shell = sessions.get("shell")
                cwd = shell.cwd if shell is not None else work
                session = sessions[block.kind] = Session(
                    block.kind, cwd, env, logs / f"{block.kind}.log")
            session.run(block, logs, index, timeout)
            outcome.ran.append(block)
    finally:
        for session in sessions.values():
            session.stop()
    return outcome
