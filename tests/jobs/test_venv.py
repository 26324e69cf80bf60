"""Jobs that bring a requirements list run in a venv cached by the list's hash."""

from __future__ import annotations

import pytest

from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for

USES_SIX = """
    import six
    import shipyard.runtime
    print("six", six.__version__, six.__file__)
"""


@pytest.mark.network
@pytest.mark.slow
def test_requirements_venv_is_built_once(server: LocalServer) -> None:
    client = server.client()
    first = submit(client, spec(USES_SIX, requirements="six==1.16.0\n"))
    wait_for(client, first["id"], "Completed", timeout=240)
    log = client.get(f"/api/v1/jobs/{first['id']}/logs").text
    venvs = server.home / "venvs"
    assert "six 1.16.0" in log and str(venvs) in log
    assert "building the environment" in log

    # The same list, written differently, is the same environment.
    second = submit(client, spec(USES_SIX, requirements="# pinned\n  six==1.16.0  \n\n"))
    wait_for(client, second["id"], "Completed", timeout=60)
    log2 = client.get(f"/api/v1/jobs/{second['id']}/logs").text
    assert "six 1.16.0" in log2 and "using the cached environment" in log2
    assert "building the environment" not in log2
    assert len([p for p in venvs.iterdir() if p.is_dir()]) == 1


def test_bad_requirements_are_an_environment_error(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("print('never')\n", requirements="six ===!!! 1\n"))
    failed = wait_for(client, job["id"], "Failed", timeout=60)
    assert failed["reason"] == "environment_error"
    assert "Installing the job's requirements failed" in failed["message"]
    assert "never" not in client.get(f"/api/v1/jobs/{job['id']}/logs").text
