"""Handing a job folder to the job user and back, and opening what a job wrote, on real
files (the ownership parts need root)."""

from __future__ import annotations

import errno
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from shipyard.jobs._identity import JobUser, hand_over, open_below, reclaim, unreachable
from shipyard.settings import Settings
from shipyard.testing import reachable_by_jobs

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="changing owners needs root")


def _job_user() -> JobUser:
    from shipyard.jobs import job_user

    user = job_user(Settings(job_user="shipyard-job"))
    assert user is not None
    return user


def test_open_below_refuses_links_on_the_way_and_at_the_end(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    job = tmp_path / "job"
    (job / "output").mkdir(parents=True)
    (job / "output" / "failure").symlink_to(secret)
    (job / "model").symlink_to(tmp_path)
    (job / "job.log").write_text("fine")
    with pytest.raises(OSError) as err:
        open_below(job, "output/failure")
    assert err.value.errno == errno.ELOOP
    with pytest.raises(OSError):
        open_below(job, "model/secret")  # a linked folder on the way
    with os.fdopen(open_below(job, "job.log"), "rb") as fh:
        assert fh.read() == b"fine"


def test_open_below_never_waits_on_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "job.log")
    with pytest.raises(OSError) as err:
        open_below(tmp_path, "job.log")  # would block forever without O_NONBLOCK
    assert err.value.errno == errno.EINVAL


@needs_root
def test_hand_over_makes_inputs_read_only_and_outputs_the_job_user_s(tmp_path: Path) -> None:
    user = _job_user()
    job = tmp_path / "job"
    for sub in ("input/config", "input/data/train", "code", "model", "output/data/x",
                "checkpoints"):
        (job / sub).mkdir(parents=True)
    (job / "input/config/job.json").write_text("{}")
    (job / "code/main.py").write_text("print(1)")
    (job / "job.log").touch()
    hand_over(job, user)
    assert (job.stat().st_uid, stat.S_IMODE(job.stat().st_mode)) == (user.uid, 0o700)
    for path, mode in (("input", 0o555), ("input/config", 0o555), ("code", 0o555),
                       ("input/config/job.json", 0o444), ("code/main.py", 0o444)):
        st = (job / path).stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, mode), path
    for path in ("model", "output", "output/data/x", "checkpoints", "job.log"):
        assert (job / path).stat().st_uid == user.uid, path


@needs_root
def test_reclaim_follows_no_link_and_removes_the_ones_at_the_top(tmp_path: Path) -> None:
    user = _job_user()
    outside = tmp_path / "outside.txt"  # the job user's own file, elsewhere
    outside.write_text("x")
    os.chown(outside, user.uid, user.gid)
    job = tmp_path / "job"
    (job / "model" / "deep").mkdir(parents=True)
    (job / "model" / "deep" / "w.bin").write_bytes(b"w")
    (job / "model" / "link").symlink_to(outside)
    (job / "job.log").symlink_to(outside)
    hand_over(job, user)
    assert reclaim(job) == ["job.log"]
    assert outside.stat().st_uid == user.uid  # a link's target is never chowned
    assert not (job / "job.log").exists() and not (job / "job.log").is_symlink()
    for path in (job, job / "model", job / "model" / "deep", job / "model" / "deep" / "w.bin"):
        assert path.stat().st_uid == 0, path
    assert stat.S_IMODE(job.stat().st_mode) == 0o700
    assert (job / "model" / "link").is_symlink()  # below the top: left, owned by root
    assert os.lstat(job / "model" / "link").st_uid == 0


@needs_root
def test_unreachable_names_the_first_folder_the_job_user_cannot_pass(tmp_path: Path) -> None:
    user = _job_user()
    locked = tmp_path / "a" / "b"
    locked.mkdir(parents=True)
    reachable_by_jobs(tmp_path / "a")
    locked.chmod(0o700)
    assert unreachable(locked / "home", user) == locked
    locked.chmod(0o701)  # pass through, no listing: enough
    assert unreachable(locked / "home", user) is None


@needs_root
def test_an_acl_entry_lets_one_user_pass_and_nobody_else(tmp_path: Path) -> None:
    from shipyard.jobs import _acl as acl

    user = _job_user()
    locked = tmp_path / "a" / "b"
    (locked / "c").mkdir(parents=True)
    reachable_by_jobs(tmp_path / "a")
    locked.chmod(0o750)  # the owning group may read and pass: that stays as it was
    assert unreachable(locked / "c" / "x", user) == locked
    acl.grant_pass(locked, user.uid)
    acl.grant_pass(locked, user.uid)  # twice: one entry
    assert unreachable(locked / "c" / "x", user) is None
    entries = acl.read(locked)
    assert entries is not None
    assert [e for e in entries if e[0] == acl.USER] == [(acl.USER, 1, user.uid)]
    assert (acl.GROUP_OBJ, 5, 0xFFFFFFFF) in entries  # the group keeps r-x
    assert stat.S_IMODE(locked.stat().st_mode) & 0o007 == 0
    as_job = subprocess.run(["test", "-x", str(locked)], user=user.uid, group=user.gid,
                            extra_groups=[], check=False)
    assert as_job.returncode == 0  # the kernel agrees: it may pass...
    listing = subprocess.run(["ls", str(locked)], user=user.uid, group=user.gid,
                             extra_groups=[], capture_output=True, check=False)
    assert listing.returncode != 0  # ...but not list
    nobody = pwd.getpwnam("nobody")
    assert subprocess.run(["test", "-x", str(locked)], user=nobody.pw_uid, group=nobody.pw_gid,
                          extra_groups=[], check=False).returncode != 0
    assert not acl.may_pass(locked, nobody.pw_uid, {nobody.pw_gid})

