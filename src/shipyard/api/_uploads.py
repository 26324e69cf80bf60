"""Uploaded files, saved under names of Shipyard's own making and always cleaned up."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from starlette.datastructures import UploadFile


@contextmanager
def saved_uploads(files: Sequence[UploadFile], tmp_dir: Path, prefix: str = "upload-"
                  ) -> Iterator[list[tuple[str, Path]]]:
    """Save each upload (FastAPI's ``UploadFile`` or the Starlette one it extends) to a file
    in a fresh folder under ``tmp_dir``; yield ``(display name, path)`` pairs. The client's
    file name is a label for messages and format detection only: it never becomes a path.
    The folder is removed on exit."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_dir))
    try:
        saved: list[tuple[str, Path]] = []
        for i, upload in enumerate(files):
            path = work / f"upload-{i:05d}"
            with open(path, "wb") as out:
                shutil.copyfileobj(upload.file, out, 1024 * 1024)
            saved.append((os.path.basename(upload.filename or f"file-{i + 1}"), path))
        yield saved
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for upload in files:
            upload.file.close()
