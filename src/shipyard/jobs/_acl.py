"""Pass-through for one OS user, by POSIX ACL, without the ``acl`` package.

A root server runs jobs as an unprivileged user that must pass through every folder
above the Python it runs and above the home (``/root`` is 0700 on most machines).
Opening those folders to everybody (``chmod o+x``) would also open them to every
other local user; an ACL entry ``u:<job user>:--x`` opens them to the job user alone,
to pass through, never to list. The kernel keeps a folder's ACL in the extended
attribute ``system.posix_acl_access`` (the format of ``acl_to_xattr``: a version
word, then sorted ``(tag, perm, id)`` entries), which Python writes directly.

Pure of the server: paths and ids in, ACL entries out.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

XATTR = "system.posix_acl_access"
_VERSION = 2
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_UNDEFINED = 0xFFFFFFFF
_ENTRY = struct.Struct("<HHI")
_X = 1
#: Errors that mean "no ACL here" rather than a failure.
_ABSENT = (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP)

Entry = tuple[int, int, int]  # (tag, perm rwx as 4/2/1, id or _UNDEFINED)


def read(path: Path) -> list[Entry] | None:
    """The folder's access ACL entries; None when it has none beyond its mode bits."""
    try:
        raw = os.getxattr(path, XATTR)
    except OSError as exc:
        if exc.errno in _ABSENT:
            return None
        raise
    if len(raw) < 4 or struct.unpack_from("<I", raw)[0] != _VERSION:
        return None
    return [_ENTRY.unpack_from(raw, 4 + i * _ENTRY.size)
            for i in range((len(raw) - 4) // _ENTRY.size)]


def may_pass(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether ``uid`` (with groups ``gids``) may pass through the folder ``path``.

    The kernel's order: the owner's bits; a named-user entry (under the mask); the
    owning group and named groups (under the mask, any that grants); the others' bits.
    """
    st = path.stat()
    if uid == st.st_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    acl = read(path)
    if acl is None:
        if st.st_gid in gids:
            return bool(st.st_mode & stat.S_IXGRP)
        return bool(st.st_mode & stat.S_IXOTH)
    mask = next((perm for tag, perm, _ in acl if tag == MASK), 7)
    named = [perm for tag, perm, who in acl if tag == USER and who == uid]
    if named:
        return bool(named[0] & mask & _X)
    groups = [perm for tag, perm, who in acl
              if (tag == GROUP_OBJ and st.st_gid in gids) or (tag == GROUP and who in gids)]
    if groups:
        return any(perm & mask & _X for perm in groups)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_pass(path: Path, uid: int) -> None:
    """Add (or widen) the entry ``u:<uid>:--x`` on the folder ``path``; nothing else changes.

    Raises:
        OSError: the file system keeps no ACLs (``ENOTSUP``), or the caller may not set one.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    acl = read(path) or [(USER_OBJ, mode >> 6 & 7, _UNDEFINED),
                         (GROUP_OBJ, mode >> 3 & 7, _UNDEFINED), (OTHER, mode & 7, _UNDEFINED)]
    had = {(tag, who): perm for tag, perm, who in acl}
    had[(USER, uid)] = had.get((USER, uid), 0) | _X
    group_class = [perm for (tag, _), perm in had.items() if tag in (USER, GROUP_OBJ, GROUP)]
    # The mask bounds every group-class entry: it must let the new one pass, and (when
    # there was none) keep what the owning group and other entries already had.
    had[(MASK, _UNDEFINED)] = had.get((MASK, _UNDEFINED), _or(group_class)) | _X
    entries = sorted(((tag, perm, who) for (tag, who), perm in had.items()),
                     key=lambda e: (e[0], e[2]))
    raw = struct.pack("<I", _VERSION) + b"".join(_ENTRY.pack(*e) for e in entries)
    os.setxattr(path, XATTR, raw)


def _or(perms: list[int]) -> int:
    out = 0
    for perm in perms:
        out |= perm
    return out
