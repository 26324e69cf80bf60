"""The artifact store: content-addressed, atomically written, checked on read."""

from shipyard.artifacts._keys import UnsafeKey, check_sha256, safe_key
from shipyard.artifacts._store import ArtifactStore, Blob, open_backend, sha256_file

__all__ = [
    "ArtifactStore",
    "Blob",
    "UnsafeKey",
    "check_sha256",
    "open_backend",
    "safe_key",
    "sha256_file",
]
