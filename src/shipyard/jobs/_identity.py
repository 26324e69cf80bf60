"""Who a local job runs as, and how its working folder changes hands.

When the server runs as root, jobs (cold starts and warm runtimes alike) run as an
unprivileged OS user, ``SHIPYARD_JOB_USER`` (default ``shipyard-job``), created at
the first start when absent (``useradd --system --no-create-home --shell
/usr/sbin/nologin --user-group``). ``SHIPYARD_JOB_USER=root`` opts out, with a
loud warning at start. When the server is not root, jobs run as the server's own
OS user: nothing here applies, and the server says so once at start.

The layout (owner, group and mode bits; an ACL entry only where the job user must pass
through a folder above the home or the Python it runs, see :func:`check_reachable`)::

    $SHIPYARD_HOME        0710 root:<job group>   the group may traverse, not list
      jobs/               0710 root:<job group>   the group may traverse, not list
        <id>/             0700 <job user>          while its attempt runs
          input/ code/    0555/0444 root           staged read-only
          model/ output/ checkpoints/ job.log      <job user>
        <id>/             0700 root                once the attempt ended (reclaimed)
      venvs/              2750 root:<job group>   job venvs, group-readable (setgid)
      shipyard.db credentials artifacts/ tmp/ …  0600/0700 root

So the job user reaches its own folder by its exact path, and cannot list the jobs,
read the credentials, the database, the artifacts, or a finished job's folder. Two
jobs running at once share the job user: one could read the other's folder if it
knew its random id (it cannot list them); a pool of job users would close that.

After an attempt (before its outputs are collected, and before a retry reuses the
folder), :func:`reclaim` gives the whole folder back to root without following any
link the job left, so nothing the server then reads or writes there can be a link
the job planted. Reading a running job's log and metrics uses :func:`open_below`,
which refuses links too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shipyard.errors import ShipyardError
from shipyard.jobs import _acl as acl
from shipyard.runtime import _contract as c
from shipyard.settings import Settings

DEFAULT_JOB_USER = "shipyard-job"
#: The top-level entries of a job folder the job writes (everything else stays root's).
JOB_WRITES = (c.MODEL_DIR, c.OUTPUT_DIR, c.CHECKPOINTS_DIR, c.LOG_FILE)
#: Staged read-only for the job (root-owned; dirs 0555, files 0444).
READ_ONLY = ("input", c.CODE_DIR)
_lock = threading.Lock()


class JobUserError(ShipyardError):
    """The job user cannot be used (creation failed, or it cannot reach what it needs)."""

    code = "server_unavailable"


@dataclass(frozen=True)
class JobUser:
    """The OS user (and its own group) jobs run as."""

    name: str
    uid: int
    gid: int


def job_user(settings: Settings) -> JobUser | None:
    """The user local jobs run as; None when they run as the server's own user.

    Root with ``SHIPYARD_JOB_USER=root``, or any server not running as root: None.

    Raises:
        JobUserError: the user is absent and could not be created.
    """
    if os.geteuid() != 0 or settings.job_user == "root":
        return None
    name = settings.job_user
    with _lock:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            pw = _create(name)
    if pw.pw_uid == 0:
        raise JobUserError(f"SHIPYARD_JOB_USER={name!r} has uid 0, which is root; name an "
                           "unprivileged user, or set SHIPYARD_JOB_USER=root to opt out.")
    return JobUser(name, pw.pw_uid, pw.pw_gid)


def _create(name: str) -> pwd.struct_passwd:
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
           "--user-group", name]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        said = (done.stderr or done.stdout).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        said = str(exc)
    with contextlib.suppress(KeyError):  # made now, or by a server starting beside this one
        return pwd.getpwnam(name)
    raise JobUserError(
        f"The server runs as root, so jobs run as the OS user {name!r}, which does not exist "
        f"and could not be created ({' '.join(cmd)}: {said or 'no user afterwards'}); create "
        "it yourself, name another with SHIPYARD_JOB_USER, or set SHIPYARD_JOB_USER=root to "
        "run jobs as root (not recommended).")


def unreachable(path: Path, user: JobUser) -> Path | None:
    """The first folder above ``path`` the job user may not pass through (None: all can)."""
    for folder in reversed(path.resolve().parents):
        try:
            if not acl.may_pass(folder, user.uid, {user.gid}):
                return folder
        except OSError:
            return folder
    return None


def _places(settings: Settings) -> dict[str, Path]:
    """What a job must reach, each as a path below it: the home and the Python it runs."""
    import shipyard

    below = "x"  # a child name: every folder down to the place itself is checked
    return {"the home": settings.home,
            "the server's Python": Path(sys.prefix) / below,
            "the Python installation": Path(sys.base_prefix) / below,
            "the Python interpreter": Path(os.path.realpath(sys.executable)).parent / below,
            "the server's packages": Path(sysconfig.get_paths()["purelib"]) / below,
            "the shipyard package": Path(shipyard.__file__).resolve().parent / below}


def check_reachable(settings: Settings, user: JobUser) -> list[Path]:
    """Let the job user pass through the folders above the home and the Python it runs.

    A folder it cannot pass (``/root`` is 0700 on most machines) gets the ACL entry
    ``u:<job user>:--x`` (:mod:`shipyard.jobs._acl`): that user alone may pass through
    it, never list it; its mode bits and everybody else's access stay as they were.

    Returns:
        The folders that were opened this way (named on stderr, once).

    Raises:
        JobUserError: a folder the job user cannot pass, on a file system without ACLs;
            naming the folder and the fix.
    """
    opened: list[Path] = []
    for what, path in _places(settings).items():
        while (folder := unreachable(path, user)) is not None:
            try:
                acl.grant_pass(folder, user.uid)
            except OSError as exc:
                st = folder.stat()
                raise JobUserError(
                    f"Jobs run as the OS user {user.name!r}, which cannot reach {what} "
                    f"({path.parent if path.name == 'x' else path}): {folder} is "
                    f"{stat.S_IMODE(st.st_mode):04o} and keeps no ACL for it "
                    f"({exc.strerror}). Let it pass through (`setfacl -m u:{user.name}:x "
                    f"{folder}`, or `chmod o+x {folder}`: traverse only, no listing), or "
                    "choose a --home under a folder it can reach.") from exc
            if not acl.may_pass(folder, user.uid, {user.gid}):
                raise JobUserError(f"Could not let the job user {user.name!r} pass through "
                                   f"{folder}; `chmod o+x {folder}` does (no listing).")
            opened.append(folder)
    if opened:  # a change to the machine: said once, where the server's output goes
        print(f"Let {user.name!r} pass through {', '.join(map(str, opened))} to reach the "
              f"home and Python (an ACL entry u:{user.name}:--x on each: it may pass, not "
              "list; nothing else changed).", file=sys.stderr, flush=True)
    return opened


# -- the folder changing hands ---------------------------------------------------------------
def hand_over(job_dir: Path, user: JobUser) -> None:
    """Give the staged folder to the job user: its outputs writable, its inputs read-only."""
    for name in READ_ONLY:
        _read_only(job_dir / name)
    for name in JOB_WRITES:
        path = job_dir / name
        if path.is_symlink() or not path.exists():
            continue
        if path.is_dir():
            _chown_tree(path, user.uid, user.gid)
        else:
            os.lchown(path, user.uid, user.gid)
    os.chown(job_dir, user.uid, user.gid)
    os.chmod(job_dir, 0o700)


def reclaim(job_dir: Path) -> list[str]:
    """Take a job folder back for root (0700), following no link the job left.

    The folder itself first, so a job process still alive loses its way in at once;
    then everything below it; links at its top are removed, so writing the log or
    laying out a retry there can never write through one.

    Returns:
        The names of the links removed (``job.log``, ``model``…), to say so in the log.
    """
    try:
        st = os.lstat(job_dir)
    except FileNotFoundError:
        return []
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return []  # the server made it a folder; anything else is not ours to touch
    os.chown(job_dir, 0, 0)
    os.chmod(job_dir, 0o700)
    _chown_tree(job_dir, 0, 0)
    removed = []
    for entry in os.scandir(job_dir):
        if entry.is_symlink():
            os.unlink(entry.path)
            removed.append(entry.name)
    return sorted(removed)


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """lchown everything under ``top`` (fd-relative, so a swapped-in link is never followed).

    A file with several hard links is left as it is: its other names may be outside.
    """
    os.lchown(top, uid, gid)
    for _, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        for name in (*dirs, *files):
            with contextlib.suppress(FileNotFoundError):
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    continue
                os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)


def _read_only(top: Path) -> None:
    """Root-owned, folders 0555 and files 0444 (what is staged is the job's to read only)."""
    if not top.is_dir() or top.is_symlink():
        return
    for _, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        for name in files:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):  # the server staged them: no link is expected
                os.chmod(name, 0o444, dir_fd=dirfd)
        for name in dirs:
            os.chmod(name, 0o555, dir_fd=dirfd)  # noqa: S103 - read-only, on purpose
    os.chmod(top, 0o555)  # noqa: S103 - read-only for the job, on purpose


# -- reading what a job writes ----------------------------------------------------------------
def open_below(root: Path, rel: str, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """Open ``root/rel`` as a file descriptor without following any link below ``root``.

    Read opens are non-blocking (a FIFO cannot hang the server) and must be regular
    files.

    Raises:
        OSError: a link on the way (``ELOOP``/``ENOTDIR``), a missing file, or not a
            regular file (``EINVAL``).
    """
    parts = PurePosixPath(rel).parts
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)
            os.close(fd)
            fd = nxt
        extra = os.O_NONBLOCK if (flags & os.O_ACCMODE) == os.O_RDONLY else 0
        out = os.open(parts[-1], flags | extra | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(out).st_mode):
        os.close(out)
        raise OSError(22, f"{rel} is not a regular file")
    return out
