"""Checkpoints: a job's ``checkpoints/`` folder kept in the artifact store while it runs.

Where the job runs (the local executor in the server's process, the Ray actor on its
node), :class:`CheckpointSync` puts the folder's complete files into the artifact store,
content-addressed, every few seconds (``SHIPYARD_CHECKPOINT_SYNC_SECONDS``), then writes
the folder's manifest, a named object ``checkpoints/<job id>.json``, in one atomic
write. Only files whose size, time or inode changed since the last sync are read again.

A file is *complete* once it has its final name: writers save under a temporary name
and rename (:func:`is_temporary` names are never synced: a leading ``.``, or ``.tmp``,
``.part``, ``.bak``, ``~`` at the end), so a half-written checkpoint is never the one restored.
Each file is read once, through a descriptor opened without following links, into a
private copy that is what gets stored (the job may replace it meanwhile).

When an attempt starts (a retry after ``worker_lost``, or ``shipyard jobs resume``), the
control plane reads the manifest (:func:`checkpoint_files`: JSON, every name checked)
and the files are staged back into ``checkpoints/`` before the process starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.artifacts import UnsafeKey, check_sha256, safe_key
from shipyard.errors import NotFound, ShipyardError
from shipyard.jobs._identity import open_below
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.jobs._package import StagedFile

log = logging.getLogger("shipyard.jobs")

#: File names a writer uses while a file is not complete yet.
TEMPORARY_SUFFIXES = (".tmp", ".part", ".bak", "~")
#: A manifest larger than this is refused (a job with that many checkpoint files is broken).
MAX_MANIFEST_BYTES = 16 * 1024**2
_CHUNK = 1024 * 1024


def is_temporary(name: str) -> bool:
    """True for a file name that marks a file still being written."""
    return name.startswith(".") or name.endswith(TEMPORARY_SUFFIXES)


def manifest_key(job_id: str) -> str:
    """The named object holding a job's checkpoint manifest."""
    return f"checkpoints/{safe_key(job_id)}.json"


@dataclass(frozen=True)
class SyncResult:
    """What one sync did: files stored anew, files in the manifest, whether it changed."""

    uploaded: int
    files: int
    changed: bool


class CheckpointSync:
    """Keeps one attempt's ``checkpoints/`` folder in the artifact store (thread-safe)."""

    def __init__(self, job_dir: Path, job_id: str, artifacts: ArtifactStore,
                 tmp_dir: Path | None = None) -> None:
        self.job_dir = job_dir
        self.job_id = job_id
        self.artifacts = artifacts
        self.tmp_dir = tmp_dir
        self._lock = threading.Lock()
        #: path → (inode, mtime_ns, size) and the stored entry of that version.
        self._seen: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self._manifest: list[dict[str, Any]] | None = None
        self._closed = False

    def close(self) -> None:
        """The attempt is over: a sync still queued does nothing (the next attempt may be
        restoring files into the same folder meanwhile)."""
        with self._lock:
            self._closed = True

    def sync(self) -> SyncResult:
        """Store the folder's new or changed complete files; rewrite the manifest if the
        set changed. Files that vanish while being read are left out."""
        with self._lock:
            if self._closed:
                return SyncResult(uploaded=0, files=len(self._manifest or []), changed=False)
            candidates = self._candidates()
            if candidates is None:  # no folder (removed, or a link): the manifest stays
                return SyncResult(uploaded=0, files=len(self._manifest or []), changed=False)
            entries, uploaded = [], 0
            for rel in candidates:
                try:
                    entry, fresh = self._store(rel)
                except OSError:  # removed, replaced by a link, not a regular file
                    continue
                entries.append(entry)
                uploaded += fresh
            entries.sort(key=lambda e: e["path"])
            changed = entries != self._manifest and (entries or self._manifest is not None)
            if changed:
                self._write_manifest(entries)
            self._manifest = entries
            return SyncResult(uploaded=uploaded, files=len(entries), changed=bool(changed))

    def _candidates(self) -> list[str] | None:
        """The complete files' paths, or None when there is no folder to read (a link in
        place of the folder is never followed)."""
        root = self.job_dir / c.CHECKPOINTS_DIR
        try:
            if not stat.S_ISDIR(os.lstat(root).st_mode):
                return None
        except OSError:
            return None
        found = []
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                rel = Path(folder, name).relative_to(root).as_posix()
                if is_temporary(name):
                    continue
                try:
                    safe_key(rel)
                except UnsafeKey:
                    continue  # not a name the store (or a restore) would take
                found.append(rel)
        return found

    def _store(self, rel: str) -> tuple[dict[str, Any], int]:
        fd = open_below(self.job_dir, f"{c.CHECKPOINTS_DIR}/{rel}")
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fd)
            version = (st.st_ino, st.st_mtime_ns, st.st_size)
            seen = self._seen.get(rel)
            if seen is not None and seen[0] == version:
                return seen[1], 0
            h = hashlib.sha256()
            tmp_fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, suffix=".ckpt")
            try:
                with os.fdopen(tmp_fd, "wb") as out:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                blob = self.artifacts.put_file(tmp)
            finally:
                os.unlink(tmp)
        entry = {"path": rel, "sha256": blob.sha256, "size": blob.size}
        self._seen[rel] = (version, entry)
        return entry, 1

    def _write_manifest(self, entries: list[dict[str, Any]]) -> None:
        doc = {"job_id": self.job_id, "synced_at": time.time(), "files": entries}
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            self.artifacts.put_named(manifest_key(self.job_id), tmp)  # atomic
        finally:
            os.unlink(tmp)


def read_manifest(artifacts: ArtifactStore, job_id: str) -> list[dict[str, Any]]:
    """The files of a job's last synced checkpoint (``[]`` if it has none).

    Every entry is checked: a safe relative name, a SHA-256, a size.

    Raises:
        ShipyardError: the manifest is not one Shipyard wrote.
    """
    try:
        with artifacts.open_named(manifest_key(job_id)) as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except NotFound:
        return []
    try:
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ValueError("too large")
        doc = json.loads(raw)
        files = []
        for e in doc["files"]:
            files.append({"path": safe_key(str(e["path"])),
                          "sha256": check_sha256(str(e["sha256"])), "size": int(e["size"])})
    except (ValueError, KeyError, TypeError, UnsafeKey) as exc:
        raise ShipyardError(f"The checkpoint manifest of job {job_id} is damaged "
                            f"({exc}); its checkpoints cannot be restored.") from None
    return files


def checkpoint_files(artifacts: ArtifactStore, job_id: str) -> tuple[StagedFile, ...]:
    """The last synced checkpoint of a job as files to stage into ``checkpoints/``."""
    from shipyard.jobs._package import StagedFile

    return tuple(StagedFile(f"{c.CHECKPOINTS_DIR}/{e['path']}", e["sha256"], e["size"],
                            f"Checkpoint file {e['path']!r}")
                 for e in read_manifest(artifacts, job_id))


def sync_quietly(sync: CheckpointSync) -> SyncResult | None:
    """:meth:`CheckpointSync.sync`, logging instead of raising (the job goes on)."""
    try:
        return sync.sync()
    except Exception:  # noqa: BLE001 - a failed sync is retried at the next interval
        log.exception("syncing the checkpoints of job %s failed", sync.job_id)
        return None
