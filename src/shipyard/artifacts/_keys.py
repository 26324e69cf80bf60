"""Containment of user-given names inside an artifact store's root.

A key is a relative, '/'-separated name. Anything that could climb out of the
root, or mean different things to different layers, is refused outright rather
than "cleaned": parent segments (also when percent-encoded, once or twice),
absolute paths, drive letters, backslashes, NUL and other control characters.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from shipyard.errors import InvalidRequest

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,254}$")


class UnsafeKey(InvalidRequest):
    """A name that is not a safe relative key."""


def check_sha256(value: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise UnsafeKey(f"{value!r} is not a SHA-256 digest (64 lowercase hex characters).")
    return value


def safe_key(name: str) -> str:
    """Return ``name`` as a normalised relative key, or raise :class:`UnsafeKey`.

    Percent-decoding is applied until the name stops changing, so ``%2e%2e`` and
    ``%252e%252e`` are seen for what they are.
    """
    if not isinstance(name, str) or not name:
        raise UnsafeKey("An artifact name must be a non-empty relative path.")
    decoded = name
    for _ in range(5):
        nxt = unquote(decoded)
        if nxt == decoded:
            break
        decoded = nxt
    else:
        raise UnsafeKey(f"Artifact name {name!r} is encoded too many times.")
    if any(ord(c) < 32 or c == "\x7f" for c in decoded):
        raise UnsafeKey(f"Artifact name {name!r} contains a control character (e.g. NUL).")
    if "\\" in decoded:
        raise UnsafeKey(f"Artifact name {name!r} contains a backslash; use '/' between parts.")
    if decoded.startswith("/") or re.match(r"^[A-Za-z]:", decoded) or "://" in decoded:
        raise UnsafeKey(f"Artifact name {name!r} is absolute; give a path relative to the store.")
    parts = decoded.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafeKey(
                f"Artifact name {name!r} has an empty, '.' or '..' part; "
                "give a plain relative path."
            )
        if not _SEGMENT.fullmatch(part):
            raise UnsafeKey(
                f"Artifact name {name!r} has the part {part!r}; parts may hold letters, digits "
                "and '_.=+-', and may not start with '.' or '-'."
            )
    return "/".join(parts)
