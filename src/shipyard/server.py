"""Running the control plane: in the foreground, detached, and stopping it.

``python -m shipyard.server --home DIR --port N`` is the one command line every
launcher uses (the CLI's ``shipyard server start``, the SDK's auto-start and the
test fixtures).

One control plane per home: before anything else, a server takes an exclusive
``flock`` on ``$SHIPYARD_HOME/server.lock`` and writes its PID and URL in it; it
holds the lock for its whole life (the kernel drops it when the process dies,
``kill -9`` included). A second server on the same home refuses to start with a
sentence naming the first, so its startup recovery can never kill the first one's
jobs and endpoint instances, nor overwrite its ``server.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from shipyard.errors import InvalidRequest, ServerRunning, ServerUnavailable, ShipyardError
from shipyard.settings import Settings


class HomeLock:
    """The lock the one server of a home holds for its lifetime: ``flock`` plus its PID.

    The file is never removed (removing it would let a second server lock a fresh
    inode while the first still holds the old one); its content is rewritten by each
    holder.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.lock_path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`ServerRunning` naming the server that holds it."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        for attempt in range(5):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # `lock_holder` probes with a shared lock for an instant: only a holder
                # that says who it is counts as a running server.
                holder = lock_holder(self.settings)
                if holder or attempt == 4:
                    os.close(fd)
                    raise ServerRunning(refusal(self.settings, holder)) from None
                time.sleep(0.05)
        info = {"pid": os.getpid(), "url": self.settings.url,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the last descriptor drops the flock
        self._fd = None


def lock_holder(settings: Settings) -> dict[str, Any] | None:
    """``{"pid", "url", …}`` of the server holding the home's lock, or None when none does."""
    try:
        fd = os.open(settings.lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.pread(fd, 4096, 0)
            try:
                info = json.loads(raw) if raw.strip() else {}
            except ValueError:
                info = {}
            return info if isinstance(info, dict) else {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def refusal(settings: Settings, holder: dict[str, Any] | None) -> str:
    """The one sentence a second server of a home answers with."""
    holder = holder or {}
    pid = holder.get("pid") or "unknown"
    url = holder.get("url") or "an unknown URL"
    return (f"Another Shipyard server (PID {pid}, {url}) is running for home {settings.home}; "
            f"use it, stop it with `shipyard server stop --home {settings.home}`, or give "
            "this server another --home.")


def serve(settings: Settings) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM.

    Raises:
        ServerRunning: another server holds this home (nothing was started or written).
        ShipyardError: settings it cannot run with (a plug-in that does not import, an
            unknown or unavailable executor), before it binds.
    """
    os.umask(0o077)  # what the server writes (database, artifacts, logs) is its user's alone
    _not_dumpable()
    lock = HomeLock(settings)
    lock.acquire()
    try:
        _preflight(settings)
        _announce_job_user(settings)
        import uvicorn

        from shipyard.api import create_app

        _write_atomic(settings.pid_path, str(os.getpid()))
        uvicorn.run(
            create_app(settings, home_lock=lock), host=settings.host, port=settings.port,
            log_level="warning", access_log=False, timeout_graceful_shutdown=5,
        )
    finally:  # not reached when uvicorn re-raises SIGTERM: the kernel drops the lock then
        with contextlib.suppress(OSError, ValueError):
            if int(settings.pid_path.read_text()) == os.getpid():
                settings.pid_path.unlink()
        lock.release()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _not_dumpable() -> None:
    """PR_SET_DUMPABLE 0: no process of another user, nor a job of this one, may ptrace
    the server or read its ``/proc/<pid>/environ`` and memory (Linux; elsewhere no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _announce_job_user(settings: Settings) -> None:
    """Say once, at start, which OS user jobs run as (and refuse a job user that cannot
    reach the home).

    Raises:
        JobUserError: the job user cannot pass through a folder above the home.
    """
    import pwd

    from shipyard.jobs import check_reachable, job_user

    if settings.executor != "local":
        return
    me = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() != 0:
        print(f"Jobs run as this server's OS user ({me!r}): a job can read what {me!r} can, "
              "this home's credentials and database included. To isolate jobs, run the "
              "server as root (jobs then run as SHIPYARD_JOB_USER) or see docs/security.md.",
              file=sys.stderr, flush=True)
        return
    user = job_user(settings)
    if user is None:
        print("WARNING: SHIPYARD_JOB_USER=root: jobs run as root and can read and change "
              "everything on this machine, this home's credentials and database included. "
              "Unset SHIPYARD_JOB_USER to run them as the unprivileged 'shipyard-job'.",
              file=sys.stderr, flush=True)
        return
    check_reachable(settings, user)
    print(f"Jobs run as the OS user {user.name!r} (uid {user.uid}).", file=sys.stderr,
          flush=True)


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
    """Start the server in the background; return its PID once ``/healthz`` answers.

    Starting again what already runs (same home, same URL) returns its PID.

    Raises:
        ServerRunning: another server holds the home (at another URL, or not answering).
    """
    holder = lock_holder(settings)
    if holder is not None:
        pid = holder.get("pid")
        if holder.get("url") == settings.url and isinstance(pid, int) and \
                is_healthy(settings.url):
            return pid
        raise ServerRunning(refusal(settings, holder))
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
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            holder = lock_holder(settings)
            if holder is not None:  # another start won the race for the home
                raise ServerRunning(refusal(settings, holder))
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
        holder = lock_holder(settings) or {}
        pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
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
    try:
        serve(Settings.from_env(home=args.home, host=args.host, port=args.port))
    except ShipyardError as exc:
        print(f"Error: {exc.message}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
