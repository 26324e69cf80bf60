"""The credentials file of a home: the admin token written at first start (mode 0600).

Kept free of heavy imports: the CLI and SDK read it on every command, the server
writes it once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_credentials(path: Path, token: str, name: str, url: str | None = None) -> None:
    """Write the credentials file with mode 0600 from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"name": name, "token": token, "url": url}, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_credentials(path: Path) -> dict[str, str] | None:
    """The credentials file's contents, or None if it is absent or holds no token."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("token") else None
