"""Virtual environments for jobs that bring a requirements list, cached by its hash.

A job with requirements runs in ``$SHIPYARD_HOME/venvs/<sha256>/``, built once from
the server's interpreter. A ``.pth`` file added after the install appends the
server's site-packages, so ``shipyard.runtime`` and its dependencies stay
importable while the job's own packages come first on ``sys.path``.

A file lock keeps two jobs from building the same environment at once. A venv is
not relocatable (its scripts name their folder), so it is built in place and
counts as built only once its ``.ready`` marker exists; a half-built folder left
by a crash is removed and built again.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from shipyard.errors import ShipyardError
from shipyard.home import share_with_group

READY = ".ready"
PIP_TIMEOUT = 30 * 60.0
TAIL_LINES = 15


class EnvironmentFailed(ShipyardError):
    """The job's environment could not be built (reason ``environment_error``)."""

    code = "unprocessable"


def normalise(requirements: str) -> str:
    """The requirements text that the cache key is computed from: one spec per line, sorted."""
    lines = {ln.split("#", 1)[0].strip() for ln in requirements.splitlines()}
    return "\n".join(sorted(ln for ln in lines if ln)) + "\n"


def venv_key(requirements: str) -> str:
    return hashlib.sha256(normalise(requirements).encode()).hexdigest()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _server_site_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def _run(what: str, cmd: list[str], log: BinaryIO, should_abort: Callable[[], bool]) -> None:
    log.write(("[shipyard] $ " + " ".join(cmd) + "\n").encode())
    log.flush()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + PIP_TIMEOUT
    while True:
        try:
            code = proc.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if should_abort() or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                why = "the job was cancelled" if should_abort() else "it took too long"
                raise EnvironmentFailed(f"{what} was stopped: {why}") from None
    if code != 0:
        raise EnvironmentFailed(f"{what} exited with code {code}")


def _tail(path: Path, start: int) -> str:
    with open(path, "rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("[shipyard]")]
    return "\n".join(lines[-TAIL_LINES:])


def ensure_venv(
    requirements: str, venvs_dir: Path, log_path: Path,
    should_abort: Callable[[], bool] = lambda: False,
) -> Path:
    """Return the cached environment for ``requirements``, building it if needed.

    The pip output is appended to ``log_path`` (the job log).

    Raises:
        EnvironmentFailed: pip or venv failed; the message holds the end of pip's output.
    """
    key = venv_key(requirements)
    venvs_dir.mkdir(parents=True, exist_ok=True)
    venv = venvs_dir / key
    with open(venvs_dir / f"{key}.lock", "wb") as lock, open(log_path, "ab") as log:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (venv / READY).exists():
                log.write(f"[shipyard] using the cached environment {key[:12]}\n".encode())
                if venv.stat().st_gid != venvs_dir.stat().st_gid:  # built before jobs ran
                    share_with_group(venv)  # as the job user: let its group read it now
                return venv
            log.write(f"[shipyard] building the environment {key[:12]} for the requirements\n"
                      .encode())
            log.flush()
            start = log.tell()
            if venv.exists():
                shutil.rmtree(venv)
            try:
                _build(venv, requirements, log, should_abort)
            except EnvironmentFailed as exc:
                log.flush()
                shutil.rmtree(venv, ignore_errors=True)
                raise EnvironmentFailed(
                    f"Installing the job's requirements failed ({exc.message}); fix the "
                    f"requirements and submit again. pip said:\n{_tail(log_path, start)}"
                ) from None
            return venv
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(venv: Path, requirements: str, log: BinaryIO,
           should_abort: Callable[[], bool]) -> None:
    _run("python -m venv", [sys.executable, "-m", "venv", "--without-pip", str(venv)], log,
         should_abort)
    req = venv / "requirements.txt"
    req.write_text(normalise(requirements))
    _run("pip install", [sys.executable, "-m", "pip", "--python", str(venv_python(venv)), "install",
          "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
          "-r", str(req)], log, should_abort)
    # Added after the install, so pip installed everything the job asked for into the
    # venv instead of finding it already present in the server's environment.
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    lines = [f"import site; site.addsitedir({d!r})" for d in _server_site_dirs()]
    (site / "zz_shipyard_server.pth").write_text("\n".join(lines) + "\n")
    # A job running as the job user reads it through the group of venvs/ (shipyard.home).
    share_with_group(venv)
    (venv / READY).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
