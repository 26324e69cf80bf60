"""Content-addressed artifact storage over a local folder or any fsspec URL.

Objects live at ``objects/<aa>/<sha256>`` and are named by the SHA-256 of their
bytes; writes go to a temporary name first and are renamed into place, and every
read checks the bytes against their name. Named objects (``named/<key>``) are
for things found by name, such as a job's log; their keys pass
:func:`safe_key`, and on a local folder the resolved path must stay inside the
root even through symlinks.

On S3 (``s3://bucket/prefix``, needs ``pip install 'shipyard[s3]'``) an object is
written with one PUT, or a multipart upload for a large one; S3 makes either
visible whole or not at all, so there is no temporary name to rename. Reads and
writes go in bounded blocks, never a whole object in memory. The endpoint and
credentials come from the standard AWS settings (``AWS_ENDPOINT_URL_S3`` for an
S3-compatible server, ``AWS_ACCESS_KEY_ID``…), or from ``options``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from shipyard.artifacts._keys import UnsafeKey, check_sha256, safe_key
from shipyard.errors import IntegrityError, NotFound

CHUNK = 1024 * 1024
#: Bytes an fsspec file fetches per request when read (s3fs would fetch 50 MiB ahead).
READ_BLOCK = 8 * CHUNK
#: Part size of a multipart upload to S3 (5 MiB is S3's minimum, 10,000 parts its maximum).
S3_PART = 8 * CHUNK
S3_MAX_PARTS = 10_000
#: URL schemes of object stores that write an object atomically with one request.
_OBJECT_STORES = ("s3", "s3a")


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


def sha256_file(path: str | Path) -> Blob:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return Blob(h.hexdigest(), size)


class Backend(Protocol):
    """The few operations a storage backend must provide (paths are safe relative keys)."""

    def put_file(self, src: Path, key: str) -> None: ...
    def open(self, key: str) -> IO[bytes]: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...
    def local_path(self, key: str) -> Path | None: ...


class LocalBackend:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".tmp").mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        path = self.root / key
        # Resolve symlinks in whatever already exists and require it to stay under root.
        real = Path(os.path.realpath(path))
        if real != self.root and self.root not in real.parents:
            raise UnsafeKey(f"Artifact name {key!r} resolves outside the artifact store.")
        return path

    def put_file(self, src: Path, key: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._path(key)  # re-check now that parents exist
        tmp = self.root / ".tmp" / f"{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half object behind
            raise

    def open(self, key: str) -> IO[bytes]:
        path = self._path(key)
        if path.is_symlink():
            raise UnsafeKey(f"Artifact {key!r} is a symlink; the store never follows them.")
        try:
            return open(path, "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"No artifact {key!r} in the store.") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_symlink():
            raise UnsafeKey(f"Artifact {key!r} is a symlink; the store never follows them.")
        path.unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.is_symlink()
        )

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class FsspecBackend:
    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        import fsspec

        scheme = url.split("://", 1)[0].lower()
        self.object_store = scheme in _OBJECT_STORES
        opts = dict(options or {})
        if self.object_store:
            # Another server or a job may change the bucket: never answer from a listing
            # this process cached earlier.
            opts.setdefault("use_listings_cache", False)
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **opts)
        except ImportError as exc:
            fix = ("install it with: pip install 'shipyard[s3]'" if self.object_store
                   else "install the package it names")
            raise ModuleNotFoundError(
                f"An artifact store at {scheme}:// needs a package that is not installed "
                f"({exc}); {fix}."
            ) from exc
        self.root = root.rstrip("/")
        self.fs.makedirs(self.root, exist_ok=True)

    def _p(self, key: str) -> str:
        return f"{self.root}/{key}"

    def put_file(self, src: Path, key: str) -> None:
        if self.object_store:
            # One PUT (or a multipart upload completed in one request) is atomic on S3: a
            # reader sees the old object or the whole new one, never a part of it.
            size = src.stat().st_size
            part = max(S3_PART, -(-size // S3_MAX_PARTS))
            # One part in flight: s3fs reads max_concurrency parts ahead, each copied once
            # more by the HTTP client, so memory stays at about two parts per upload.
            self.fs.put_file(str(src), self._p(key), chunksize=part, max_concurrency=1)
            return
        tmp = self._p(f".tmp/{uuid.uuid4().hex}.part")
        try:
            self.fs.put_file(str(src), tmp)
            self.fs.mv(tmp, self._p(key))
        except BaseException:
            with contextlib.suppress(Exception):
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
            raise

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.fs.open(self._p(key), "rb", block_size=READ_BLOCK)
        except FileNotFoundError as exc:
            raise NotFound(f"No artifact {key!r} in the store.") from exc

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._p(key)))

    def delete(self, key: str) -> None:
        if self.fs.exists(self._p(key)):
            self.fs.rm(self._p(key))

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix)
        if not self.fs.exists(base):
            return []
        n = len(self.root) + 1
        return sorted(
            p.lstrip("/")[n - 1 :] if p.startswith("/") else p[n:] for p in self.fs.find(base)
        )

    def local_path(self, key: str) -> Path | None:
        return None


def open_backend(url: str, options: Mapping[str, Any] | None = None) -> Backend:
    """Choose the backend by URL scheme: a plain path or ``file://`` is a local folder.

    ``options`` are fsspec storage options for any other URL (for S3, e.g.
    ``endpoint_url``, ``key``, ``secret``); without them the AWS defaults apply.
    """
    if "://" not in url:
        return LocalBackend(Path(url))
    if url.startswith("file://"):
        return LocalBackend(Path(url[len("file://") :]))
    return FsspecBackend(url, options)


class ArtifactStore:
    """Content-addressed objects plus safely named ones, over one backend."""

    def __init__(self, url: str, tmp_dir: Path | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self.backend = open_backend(url, options)
        self.tmp_dir = tmp_dir

    @staticmethod
    def _object_key(sha: str) -> str:
        check_sha256(sha)
        return f"objects/{sha[:2]}/{sha}"

    # -- content-addressed ---------------------------------------------------------------
    def put_file(self, path: str | Path) -> Blob:
        blob = sha256_file(path)
        key = self._object_key(blob.sha256)
        if not self.backend.exists(key):
            self.backend.put_file(Path(path), key)
        return blob

    def put_bytes(self, data: bytes) -> Blob:
        fd, name = tempfile.mkstemp(dir=self.tmp_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return self.put_file(name)
        finally:
            os.unlink(name)

    def exists(self, sha: str) -> bool:
        return self.backend.exists(self._object_key(sha))

    def delete(self, sha: str) -> None:
        self.backend.delete(self._object_key(sha))

    def iter_chunks(self, sha: str) -> Iterator[bytes]:
        """Stream an object, checking its SHA-256 on the way; never hand out all of a bad one.

        The last chunk is held back until the whole object is hashed: on a mismatch
        :class:`IntegrityError` is raised instead, so a consumer (an HTTP response) ends
        short of the full length and can never pass for the complete, altered file.
        """
        h = hashlib.sha256()
        held: bytes | None = None
        with self.backend.open(self._object_key(sha)) as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                if held is not None:
                    yield held
                held = chunk
        if h.hexdigest() != sha:
            raise IntegrityError(f"Artifact {sha} failed its SHA-256 check; it was altered.")
        if held is not None:
            yield held

    def verify(self, sha: str) -> None:
        """Read the whole object and check it (IntegrityError, NotFound) before use."""
        for _ in self.iter_chunks(sha):
            pass

    def read_bytes(self, sha: str) -> bytes:
        return b"".join(self.iter_chunks(sha))

    def verified_path(self, sha: str) -> Path:
        """A local file holding the object, checked before it is handed out.

        Local stores hand out the stored file itself; other stores a temporary copy.
        """
        key = self._object_key(sha)
        local = self.backend.local_path(key)
        if local is not None:
            if not local.is_file():
                raise NotFound(f"No artifact {sha} in the store.")
            if sha256_file(local).sha256 != sha:
                raise IntegrityError(f"Artifact {sha} failed its SHA-256 check; it was altered.")
            return local
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=".blob")
        self._write_checked(sha, fd, Path(name))
        return Path(name)

    def copy_to(self, sha: str, dest: Path) -> None:
        """Write a checked copy of an object to ``dest`` (a local path Shipyard chose).

        An object that is missing or fails its check leaves nothing at ``dest``.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        self._write_checked(sha, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), tmp)
        os.replace(tmp, dest)

    def _write_checked(self, sha: str, fd: int, path: Path) -> None:
        """Stream an object into ``fd``; remove ``path`` if it is missing or altered."""
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_chunks(sha):
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # -- named ---------------------------------------------------------------------------
    def put_named(self, key: str, path: str | Path) -> str:
        safe = "named/" + safe_key(key)
        self.backend.put_file(Path(path), safe)
        return safe

    def open_named(self, key: str) -> IO[bytes]:
        return self.backend.open("named/" + safe_key(key))

    def delete_named(self, key: str) -> None:
        self.backend.delete("named/" + safe_key(key))

    def list_named(self, prefix: str) -> list[str]:
        return [k[len("named/") :] for k in self.backend.list("named/" + safe_key(prefix))]

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "backend": type(self.backend).__name__}
