"""Test helpers shipped with Shipyard: a real server on 127.0.0.1 in a throwaway home.

Used by Shipyard's own tests and usable by anyone testing code against Shipyard
(:class:`S3Server` is a real S3-compatible server for an artifact store on S3)::

    with LocalServer.start(tmp_path) as srv:
        srv.client().get("/api/v1/datasets")
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shipyard.credentials import read_credentials
from shipyard.testing._cli import ok, ok_json, one_sentence_error, run_cli
from shipyard.testing._ports import free_port
from shipyard.testing._postgres import fresh_postgres_database, postgres_unavailable
from shipyard.testing._ray import ray_available, start_ray
from shipyard.testing._s3 import S3Server, moto_available
from shipyard.testing._wait import wait_until

__all__ = ["LocalServer", "S3Server", "free_port", "fresh_postgres_database", "moto_available",
           "ok", "ok_json", "one_sentence_error", "postgres_unavailable", "ray_available",
           "reachable_by_jobs", "run_cli", "start_ray", "wait_until"]


def reachable_by_jobs(path: Path) -> None:
    """Let the job user pass through the temporary folders above ``path`` (root only).

    A root server runs jobs as ``SHIPYARD_JOB_USER``, which must pass through every
    folder above the home, and refuses to start otherwise. Test folders (pytest's
    ``tmp_path``) are 0700: the ones under the system temp folder get ``o+x``, which
    lets others pass through, never list. Not for real homes: choose where they live.
    """
    if os.geteuid() != 0:
        return
    tmp = Path(tempfile.gettempdir()).resolve()
    for folder in [path.resolve(), *path.resolve().parents]:
        if folder == tmp or not folder.is_relative_to(tmp):
            break
        mode = folder.stat().st_mode
        if not mode & 0o001:
            os.chmod(folder, stat.S_IMODE(mode) | 0o001)


@dataclass
class LocalServer:
    """A ``python -m shipyard.server`` subprocess on 127.0.0.1."""

    home: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    _tokens: dict[str, str] = field(default_factory=dict)
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, home: Path, port: int | None = None, **env: str) -> LocalServer:
        srv = cls(home=Path(home), port=port or free_port(), env=dict(env))
        srv.launch()
        return srv

    def launch(self, timeout: float = 60.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        reachable_by_jobs(self.home)
        env = {**os.environ, "SHIPYARD_HOME": str(self.home), **self.env}
        env.pop("SHIPYARD_TOKEN", None)
        env.pop("SHIPYARD_URL", None)
        with open(self.home / "server-test.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shipyard.server", "--home", str(self.home),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        path = self.home / "server-test.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    @property
    def admin_token(self) -> str:
        creds = read_credentials(self.home / "credentials")
        if not creds:
            raise RuntimeError("the server wrote no credentials file")
        return creds["token"]

    def token(self, role: str = "admin") -> str:
        """A token of ``role`` (created once per server through the API)."""
        if role == "admin":
            return self.admin_token
        if role not in self._tokens:
            with httpx.Client(base_url=self.url, timeout=60) as c:
                r = c.post("/api/v1/tokens", json={"name": f"test-{role}", "role": role},
                           headers={"Authorization": f"Bearer {self.admin_token}"})
            r.raise_for_status()
            self._tokens[role] = r.json()["token"]
        return self._tokens[role]

    def client(self, role: str | None = "admin", **kwargs: Any) -> httpx.Client:
        """An HTTP client for ``role`` (``None``: no token); closed when the server stops."""
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)
        self._clients.append(client)
        return client

    def sdk_env(self, role: str = "admin") -> dict[str, str]:
        """Environment for a CLI or SDK process that should talk to this server."""
        return {**os.environ, "SHIPYARD_URL": self.url, "SHIPYARD_TOKEN": self.token(role),
                "SHIPYARD_HOME": str(self.home)}

    def kill(self) -> None:
        """kill -9 the server (its jobs, in their own sessions, live on)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.launch()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
