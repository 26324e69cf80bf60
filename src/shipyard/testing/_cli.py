"""Running the real ``shipyard`` CLI as a subprocess in tests, and checking what it printed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run_cli(*args: str, env: dict[str, str], cwd: Any = None, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m shipyard.cli ARGS`` with ``env`` (e.g. ``LocalServer.sdk_env()``)."""
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli", *args], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=timeout, input=input if input is not None else "",
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert the command succeeded, showing its stderr if not."""
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a failure reported as one line on stderr, without a traceback."""
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip()
    assert err, "no message on stderr"
    assert "Traceback" not in err and "Traceback" not in result.stdout
    assert len(err.splitlines()) == 1, err
    return err
