"""Running the real ``shipyard`` CLI as a subprocess, and checking what it printed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from shipyard.testing import ok, ok_json, one_sentence_error, run_cli

__all__ = ["Run", "ok", "ok_json", "one_sentence_error", "run_cli"]

Run = Callable[..., subprocess.CompletedProcess[str]]
