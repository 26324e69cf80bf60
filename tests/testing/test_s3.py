"""``shipyard.testing.S3Server``: the S3 test server is real enough to trust, and goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shipyard.testing import S3Server, moto_available

pytestmark = pytest.mark.skipif(moto_available() is not None, reason=str(moto_available()))


def test_a_process_configured_by_env_alone_reaches_it(tmp_path: Path) -> None:
    """What a Shipyard server gets: only the standard AWS variables, no code options."""
    with S3Server.start(tmp_path) as s3:
        url = s3.create_bucket("env-only")
        code = ("import s3fs\n"
                "fs = s3fs.S3FileSystem()\n"
                f"fs.pipe_file('{url[5:]}/a/b.txt', b'hello')\n"
                f"print(fs.cat_file('{url[5:]}/a/b.txt').decode(), fs.ls('{url[5:]}/a'))\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        done = subprocess.run([sys.executable, "-c", code], env={**env, **s3.env()},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[0] == "hello" and "env-only/a/b.txt" in done.stdout
        assert s3.filesystem().cat_file(f"{url[5:]}/a/b.txt") == b"hello"


def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    s3 = S3Server.start(tmp_path)
    assert s3.proc is not None and s3.proc.poll() is None
    s3.stop()
    assert s3.proc.poll() is not None
    with pytest.raises(httpx.HTTPError):
        httpx.get(s3.endpoint_url, timeout=2)
    assert "Running on http://127.0.0.1" in s3.log()
    s3.stop()  # stopping twice is fine


def test_a_taken_port_is_reported_not_hung(tmp_path: Path) -> None:
    with S3Server.start(tmp_path / "first") as first, \
            pytest.raises(RuntimeError, match="moto server exited"):
        S3Server.start(tmp_path / "second", port=first.port, timeout=30)
