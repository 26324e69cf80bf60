"""The Ray executor's warm pool: jobs start on idle runners, which are replaced, found
again after a restart, and killed when a dead server left them idle.

On the test session's local Ray instance (4 logical CPUs, one node); the test process
is a driver of it, so it sees the actors and placement groups by name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard.testing import LocalServer, wait_until

from .helpers import job_handle, spec, submit, wait_for, wait_log

WAIT_FOR_RELEASE = """
    import os, time
    from pathlib import Path
    print("waiting", flush=True)
    deadline = time.time() + 120
    while not Path(os.environ["RELEASE"]).exists() and time.time() < deadline:
        time.sleep(0.1)
    print("released", flush=True)
"""


@pytest.fixture
def ray(ray_address: str) -> Any:
    import ray

    return ray


@pytest.fixture
def start(ray_address: str, tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Starts the test's Ray servers (``start(**env)``); all are stopped at the end."""
    servers: list[LocalServer] = []

    def _start(**env: str) -> LocalServer:
        srv = LocalServer.start(tmp_path / f"home-{len(servers)}", SHIPYARD_EXECUTOR="ray",
                                SHIPYARD_RAY_ADDRESS=ray_address, **env)
        servers.append(srv)
        return srv

    yield _start
    for srv in servers:
        srv.stop()


def runners(ray: Any, srv: LocalServer) -> set[str]:
    """The live pool runners of ``srv``'s home (idle or running a job)."""
    from shipyard.jobs._executors._ray_pool import pool_prefix

    prefix = pool_prefix(srv.home)
    return {n for n in ray.util.list_named_actors() if n.startswith(prefix)}


def wait_runners(ray: Any, srv: LocalServer, ok: Callable[[set[str]], bool],
                 timeout: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout
    while not ok(names := runners(ray, srv)):
        assert time.monotonic() < deadline, f"pool runners now: {sorted(names)}"
        time.sleep(0.1)
    return names


def reservation(ray: Any, name: str) -> dict | None:
    """The placement group ``name`` (None when there is none, or it was removed)."""
    from ray.util.placement_group import get_placement_group, placement_group_table

    try:
        info = placement_group_table(get_placement_group(name))
    except ValueError:
        return None
    return None if info["state"] == "REMOVED" else dict(info)


def test_a_job_starts_on_a_warm_runner_that_is_replaced(
        ray: Any, start: Callable[..., LocalServer], tmp_path: Path) -> None:
    srv = start()
    (idle,) = wait_runners(ray, srv, lambda n: len(n) == 1)
    client = srv.client()
    job = submit(client, spec(WAIT_FOR_RELEASE, environment={"RELEASE": str(tmp_path / "go")},
                              resources={"cpus": 2, "memory": "256M"}))
    wait_for(client, job["id"], "Running")
    log = wait_log(client, job["id"], "waiting")
    assert f"in a warm runner ({idle})" in log
    state = job_handle(srv, job)
    assert (state["actor"], state["warm"]) == (idle, True)
    held = reservation(ray, state["reservation"])  # the job's CPUs, counted by Ray
    assert held is not None and held["state"] == "CREATED"
    assert held["bundles"] == {0: {"CPU": 2.0, "memory": 256.0 * 1024**2}}
    replaced = wait_runners(ray, srv, lambda n: len(n) == 2)  # the job's, and a new idle one
    (tmp_path / "go").touch()
    wait_for(client, job["id"], "Completed")
    assert wait_runners(ray, srv, lambda n: idle not in n) == replaced - {idle}
    # Freed with the job: the supervisor removes it once the job's process is done, just
    # after the job reads Completed, and Ray removes a placement group asynchronously.
    wait_until(lambda: reservation(ray, state["reservation"]) is None, 15,
               "the job's reservation to be freed")
    srv.stop()
    wait_runners(ray, srv, lambda n: not n, timeout=10)  # close() kills the idle ones


def test_a_job_that_does_not_fit_beside_the_runner_goes_cold(
        ray: Any, start: Callable[..., LocalServer], tmp_path: Path) -> None:
    """The runner's node has 1 free CPU: a 2-CPU job gets an actor of its own, placed by
    Ray once the CPUs are free, and the idle runner stays in the pool."""
    from ray.util.placement_group import placement_group, remove_placement_group

    from shipyard.jobs._executors._ray import actor_name

    srv = start()
    (idle,) = wait_runners(ray, srv, lambda n: len(n) == 1)
    free = int(ray.available_resources().get("CPU", 0))
    assert free >= 2, ray.available_resources()
    hold = placement_group([{"CPU": free - 1}])
    ray.get(hold.ready(), timeout=30)
    try:
        client = srv.client()
        job = submit(client, spec("print('ran', flush=True)\n", resources={"cpus": 2}))
        wait_log(client, job["id"], "the warm runner's node has no room for 2 CPUs")
    finally:
        remove_placement_group(hold)
    done = wait_for(client, job["id"], "Completed", timeout=60)
    state = job_handle(srv, done)
    assert (state["actor"], state["warm"], state["reservation"]) == (
        actor_name(job["id"], 1), False, None)
    assert "in its own actor" in client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert runners(ray, srv) == {idle}


def test_no_pool_with_zero_warm_runners(ray: Any, start: Callable[..., LocalServer]) -> None:
    srv = start(SHIPYARD_RAY_WARM_RUNNERS="0")
    client = srv.client()
    done = wait_for(client, submit(client, spec("print('ran')\n"))["id"], "Completed")
    assert job_handle(srv, done)["warm"] is False
    assert runners(ray, srv) == set()



def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return wait_until(check, timeout, what, every=0.1)


@pytest.mark.slow
def test_restart_recovers_a_pooled_job_and_kills_leftover_runners(
        ray: Any, start: Callable[..., LocalServer], tmp_path: Path) -> None:
    """kill -9 of the server: its job on a pool runner is watched again and completes;
    its idle runners are killed when it starts again (a new pool is started), and so is
    a reservation it left without a job (as if it died while a job took a runner)."""
    from ray.util.placement_group import placement_group

    srv = start(SHIPYARD_RAY_WARM_RUNNERS="2")
    wait_runners(ray, srv, lambda n: len(n) == 2)
    client = srv.client()
    job = submit(client, spec(WAIT_FOR_RELEASE, environment={"RELEASE": str(tmp_path / "go")}))
    wait_log(client, job["id"], "waiting")
    # The job's process may print before the supervisor stores where it runs.
    wait_for(client, job["id"], "Running")
    taken = str(_until(lambda: job_handle(srv, job).get("actor"), 30, "the handle's actor"))
    before = wait_runners(ray, srv, lambda n: len(n) == 3)
    left_idle = before - {taken}
    srv.kill()
    assert runners(ray, srv) == before  # detached: they outlive the server
    orphan = sorted(left_idle)[0] + "-reservation"
    ray.get(placement_group([{"CPU": 1}], name=orphan, lifetime="detached").ready(),
            timeout=30)

    srv.launch()
    client = srv.client()
    after = wait_runners(ray, srv, lambda n: len(n) == 3 and not n & left_idle)
    assert taken in after  # the running job's actor was taken back, not killed
    assert reservation(ray, orphan) is None
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "Running"
    (tmp_path / "go").touch()
    done = wait_for(client, job["id"], "Completed", timeout=60)
    assert done["attempts"] == 1
    log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "the control plane restarted while the job ran" in log and "released" in log
    assert wait_runners(ray, srv, lambda n: taken not in n)
    assert "killed 2 idle or orphaned Ray job runners" in srv.log()
