"""The modes of a home: nobody but the server's user reads it, the job user only passes.

A home is created 0700, and every entry in it is the server user's alone: files
0600, folders 0700 (artifacts and the database included; an existing home is
tightened the same way at each start). When jobs run as the job user (a root
server, :mod:`shipyard.jobs._identity`), the home and its ``jobs/`` folder are
``0710 root:<job group>`` (that group may pass through them, not list them), and
``venvs/`` is ``2750 root:<job group>`` so a job can run the environment built for it.
The server process itself runs with umask 077, so what it writes later is private too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from shipyard.settings import Settings

#: Folders of the home the job group may pass through (never list).
PASS_THROUGH = 0o710
#: The venvs folder: the job group reads the environments; new ones take its group.
SHARED = 0o2750


def secure_home(settings: Settings, job_group: int | None = None) -> None:
    """Set the modes of the home and its entries (see the module docstring).

    Args:
        settings: the home.
        job_group: the job user's group when jobs run as the job user, else None.
    """
    home = settings.home
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.stat(home).st_uid != os.geteuid():
        return  # not ours to change (a home shared on purpose); the owner decides
    special = {settings.jobs_dir.name: PASS_THROUGH, settings.venvs_dir.name: SHARED}
    for entry in os.scandir(home):
        if entry.is_symlink():
            continue
        mode = special.get(entry.name)
        if job_group is not None and mode is not None and entry.is_dir():
            os.chown(entry.path, -1, job_group)
            os.chmod(entry.path, mode)
        else:
            with contextlib.suppress(OSError):
                os.chmod(entry.path, 0o700 if entry.is_dir() else 0o600)
    if job_group is not None:
        os.chown(home, -1, job_group)
        os.chmod(home, PASS_THROUGH)
    else:
        os.chmod(home, 0o700)


def share_with_group(top: Path) -> None:
    """Let the group of ``top``'s parent read (and run) everything under ``top``.

    Used on a job venv built under the shared ``venvs/`` folder, whatever umask built it.
    """
    gid = top.parent.stat().st_gid
    for root, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        del root
        for name in (*dirs, *files):
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                continue
            os.chown(name, -1, gid, dir_fd=dirfd, follow_symlinks=False)
            mode = stat.S_IMODE(st.st_mode) | 0o040
            if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR:
                mode |= 0o010
            os.chmod(name, mode, dir_fd=dirfd)
    os.chown(top, -1, gid)
    os.chmod(top, stat.S_IMODE(top.stat().st_mode) | 0o050)  # noqa: S103 - the group only
