"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server.

Shipyard's artifact store talks to S3 through ``s3fs``; testing it against an
in-process mock would skip the HTTP, signing and multipart paths that break in a
real deployment. :class:`S3Server` runs ``python -m moto.server`` as its own
process on a free port, and hands out the environment a Shipyard server (or any
AWS client) needs to use it::

    with S3Server.start(tmp_path) as s3:
        url = s3.create_bucket("artifacts") + "/shipyard"
        LocalServer.start(home, SHIPYARD_ARTIFACT_URL=url, **s3.env())

Needs ``pip install 'moto[server]' s3fs`` (both are in Shipyard's dev extra).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shipyard.testing._ports import free_port

#: Credentials moto accepts; they are sent nowhere but the local server.
ACCESS_KEY = "shipyard-test"
SECRET_KEY = "shipyard-test-secret"  # noqa: S105 - a fixed test credential for a local server
REGION = "eu-west-1"  # not us-east-1: its buckets take no location constraint


def moto_available() -> str | None:
    """Why an S3 server cannot run here (``None`` when it can)."""
    for module, extra in (("moto.server", "moto[server]"), ("s3fs", "s3fs")):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install '{extra}', part of shipyard[dev])"
    return None


@dataclass
class S3Server:
    """``python -m moto.server`` on 127.0.0.1 (a separate process, stopped by :meth:`stop`)."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, log_dir: Path, port: int | None = None, timeout: float = 60.0) -> S3Server:
        reason = moto_available()
        if reason:
            raise RuntimeError(reason)
        log_dir.mkdir(parents=True, exist_ok=True)
        srv = cls(port=port or free_port(), log_path=log_dir / "moto-server.log")
        with open(srv.log_path, "ab") as log:
            srv.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(srv.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, **srv.env()},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {srv.proc.returncode}:\n{srv.log()}")
            # Only our process's own "Running on" line proves it holds the port: an answer
            # alone could come from another server already listening there.
            if f"Running on {srv.endpoint_url}" in srv.log():
                try:
                    httpx.get(f"{srv.endpoint_url}/moto-api/", timeout=0.5)
                    return srv
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        srv.stop()
        raise RuntimeError(f"moto server did not answer within {timeout} s:\n{srv.log()}")

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point an S3 client (boto3, s3fs) at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def storage_options(self) -> dict[str, Any]:
        """The same as :meth:`env`, as fsspec storage options (for an in-process store)."""
        return {"endpoint_url": self.endpoint_url, "key": ACCESS_KEY, "secret": SECRET_KEY,
                "client_kwargs": {"region_name": REGION}}

    def filesystem(self) -> Any:
        """An ``s3fs`` filesystem on this server, apart from any store (to look or tamper)."""
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                                 **self.storage_options())

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name``; return its ``s3://`` URL."""
        self.filesystem().mkdir(name)
        return f"s3://{name}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
