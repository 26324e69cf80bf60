"""Validation of the names users give to resources.

A resource name is never used as a path, but it travels through URLs, file
names of downloads and log lines, so it is held to one safe alphabet.
"""

from __future__ import annotations

import re

from shipyard.errors import InvalidName

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_name(value: object, kind: str = "name") -> str:
    """Return ``value`` if it is a valid resource name, else raise :class:`InvalidName`."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise InvalidName(
            f"Invalid {kind} {value!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and without '..'."
        )
    return value
