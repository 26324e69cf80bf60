"""Running the control plane: in the foreground, detached, and stopping it.

``python -m shipyard.server --home DIR --port N`` is the one command line every
launcher uses (the CLI's ``shipyard server start``, the SDK's auto-start and the
test fixtures).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shipyard.errors import InvalidRequest, ServerUnavailable, ShipyardError
from shipyard.settings import Settings


def serve(settings: Settings) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    from shipyard.api import create_app

    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        _preflight(settings)
    except ShipyardError as exc:
        raise SystemExit(f"error: {exc.message}") from None
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="warning",
        access_log=False, timeout_graceful_shutdown=5,
    )


def _preflight(settings: Settings) -> None:
    """Refuse settings the server cannot run with, in one sentence, before it binds.

    Raises:
        ShipyardError: a plug-in module that does not import, an unknown or unavailable
            executor.
    """
    from shipyard.artifacts import ArtifactStore
    from shipyard.jobs import load_plugins, make_executor

    load_plugins(settings.plugins)
    make_executor(settings, ArtifactStore(settings.artifacts_url, tmp_dir=settings.tmp_dir))


def command_line(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "shipyard.server", "--home", str(settings.home),
            "--host", settings.host, "--port", str(settings.port)]


def is_healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def read_pid(settings: Settings) -> int | None:
    try:
        pid = int(settings.pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def start_detached(settings: Settings, wait: float = 60.0) -> int:
    """Start the server in the background; return its PID once ``/healthz`` answers."""
    pid = read_pid(settings)
    if pid is not None:
        if is_healthy(settings.url):
            return pid
        raise InvalidRequest(
            f"A server (PID {pid}) is already running for {settings.home}; stop it first "
            "with `shipyard server stop`."
        )
    if is_healthy(settings.url):
        raise InvalidRequest(
            f"Port {settings.port} already answers as a Shipyard server; pick another --port."
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    log_dir = settings.home / "logs"
    log_dir.mkdir(exist_ok=True)
    with open(log_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(
            command_line(settings), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "SHIPYARD_HOME": str(settings.home)},
        )
    settings.pid_path.write_text(str(proc.pid))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            settings.pid_path.unlink(missing_ok=True)
            tail = (log_dir / "server.log").read_text(errors="replace")[-2000:]
            raise ServerUnavailable(
                f"The server exited at start (code {proc.returncode}); see "
                f"{log_dir / 'server.log'}:\n{tail}"
            )
        if is_healthy(settings.url, timeout=0.5):
            return proc.pid
        time.sleep(0.1)
    raise ServerUnavailable(f"The server did not answer on {settings.url} within {wait:.0f} s.")


def stop(settings: Settings, wait: float = 20.0) -> int | None:
    """Stop the detached server of ``settings.home``; return its PID, or None if none ran."""
    pid = read_pid(settings)
    if pid is None:
        settings.pid_path.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    settings.pid_path.unlink(missing_ok=True)
    return pid


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
            return False
    except ChildProcessError:
        pass
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:  # noqa: BLE001 - NoSuchProcess and friends: gone
        return False


def server_info(settings: Settings) -> dict[str, object] | None:
    try:
        return json.loads(Path(settings.server_info_path).read_text())
    except (FileNotFoundError, ValueError):
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shipyard.server")
    parser.add_argument("--home")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    serve(Settings.from_env(home=args.home, host=args.host, port=args.port))


if __name__ == "__main__":
    main()
