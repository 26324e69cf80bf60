"""Uploading a folder of image files as a files dataset (``datasets create NAME --files DIR``).

The server decides what is an image (Pillow, by content); the client only chooses what
to send: every file whose first bytes are an image signature or whose name ends like an
image (so a ``.png`` that is really text, or an ``.svg``, reaches the server and is
refused by name rather than silently dropped). Anything else (``README.txt``,
``.DS_Store``) is skipped and reported. Each file is opened only while it is sent, so a
folder of 100,000 files never holds 100,000 descriptors open.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.client._client import Client
from shipyard.errors import InvalidRequest

#: First bytes of PNG, JPEG, GIF, BMP, TIFF (both byte orders) and RIFF (WebP).
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM",
              b"II*\x00", b"MM\x00*", b"RIFF")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".svg"}


@dataclass(frozen=True)
class Folder:
    """The files of a folder to send (path inside it, local file) and those skipped."""

    files: list[tuple[str, Path]]
    skipped: list[str]

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for _, p in self.files)


def _looks_like_image(path: Path) -> bool:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        head = fh.read(12)
    return head.startswith(SIGNATURES) and (not head.startswith(b"RIFF") or head[8:] == b"WEBP")


def scan(folder: str | Path) -> Folder:
    """The image files under ``folder`` (recursively, sorted, hidden files skipped)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InvalidRequest(f"{str(folder)!r} is not a folder; give a folder of image files.")
    files: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for here, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(here) / name
            rel = path.relative_to(root).as_posix()
            if name.startswith(".") or not path.is_file():
                skipped.append(rel)
            elif _looks_like_image(path):
                files.append((rel, path))
            else:
                skipped.append(rel)
    if not files:
        raise InvalidRequest(f"No image files under {str(folder)!r} (PNG, JPEG, GIF, BMP, "
                             "WebP or TIFF).")
    return Folder(files, skipped)


class LazyFile:
    """A file opened at its first read and closed at its end; its length from ``stat``."""

    def __init__(self, path: Path, callback: Callable[[int], None] | None = None) -> None:
        self._path = path
        self._size = path.stat().st_size
        self._pos = 0
        self._fh: Any = None
        self._callback = callback

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: self._size + offset}[whence]
        if self._fh is not None:
            self._fh.seek(self._pos)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if self._fh is None:
            self._fh = open(self._path, "rb")  # noqa: SIM115 - closed at the end below
            self._fh.seek(self._pos)
        chunk: bytes = self._fh.read(size)
        self._pos += len(chunk)
        if chunk and self._callback:
            self._callback(len(chunk))
        if not chunk or size < 0:
            self._fh.close()
            self._fh = None
        return chunk


def upload_folder(client: Client, name: str, folder: Folder, *, mode: str = "create",
                  description: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """POST ``folder``'s files to ``/datasets/{name}/files``; the new version's document."""
    from urllib.parse import quote

    total, sent = folder.total_bytes, 0

    def advance(n: int) -> None:
        nonlocal sent
        sent = min(total, sent + n)
        if progress:
            progress(sent, total)

    data = {"mode": mode, **({"description": description} if description else {})}
    files = [("file", (rel, LazyFile(path, advance), "application/octet-stream"))
             for rel, path in folder.files]
    doc: dict[str, Any] = client.request(
        "POST", f"/datasets/{quote(name, safe='')}/files", data=data, files=files).json()
    return doc
