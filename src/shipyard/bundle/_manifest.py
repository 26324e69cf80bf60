"""Writing and checking a bundle folder: MODEL.json and the SHA-256 of every other file."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from shipyard.errors import IntegrityError

MANIFEST = "MODEL.json"
FORMAT_VERSION = 1
#: Fields every MODEL.json has; the rest are optional (see docs/training.md).
REQUIRED_FIELDS = ("format_version", "task", "algorithm", "framework", "recipe",
                   "model_files", "files")
TASKS = ("classification", "regression", "clustering", "dimensionality_reduction",
         "anomaly_detection", "forecasting")


class BundleError(IntegrityError):
    """A model bundle cannot be trusted or read as it is (altered, incomplete, unsafe)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_relpath(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "\\" in rel or rel.startswith("."):
        raise BundleError(
            f"Bundle file name {rel!r} is not a plain relative path inside the bundle; "
            "use names such as 'model.ubj' or 'evaluation/roc.png'.")
    if rel == MANIFEST:
        raise BundleError(f"{MANIFEST} is written by write_bundle itself; do not pass it.")
    return p


def write_bundle(dest: Path, *, manifest: Mapping[str, Any],
                 files: Mapping[str, bytes | Path]) -> dict[str, Any]:
    """Write ``files`` under ``dest``, record their SHA-256 in the manifest, write MODEL.json last.

    Args:
        dest: the bundle folder (created; files already there that are not
            listed would make the bundle refused on load, so it should be empty).
        manifest: the MODEL.json fields (``files`` is filled in here).
        files: relative path → bytes, or a path to copy from.

    Returns:
        The manifest as written.
    """
    dest.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, str] = {}
    for rel, content in sorted(files.items()):
        target = dest / _safe_relpath(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = Path(content).read_bytes() if isinstance(content, Path) else bytes(content)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        hashes[rel] = hashlib.sha256(data).hexdigest()
    out = {"format_version": FORMAT_VERSION, **manifest, "files": hashes}
    text = json.dumps(out, indent=2, sort_keys=True, allow_nan=False)
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dest / MANIFEST)
    return out


def read_manifest(path: Path) -> dict[str, Any]:
    """The MODEL.json of bundle folder ``path`` (or of the file itself), checked for shape."""
    file = path / MANIFEST if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"No {MANIFEST} in {file.parent}; a model bundle needs one.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{MANIFEST} in {file.parent} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise BundleError(f"{MANIFEST} must hold a JSON object; got {type(data).__name__}.")
    missing = [f for f in REQUIRED_FIELDS if f not in data]
    if missing:
        raise BundleError(f"{MANIFEST} lacks the field(s) {missing}; it is not a Shipyard bundle.")
    if data["format_version"] != FORMAT_VERSION:
        raise BundleError(
            f"Bundle format {data['format_version']!r} is not supported; this Shipyard reads "
            f"format {FORMAT_VERSION}. Upgrade Shipyard to load it.")
    if data["task"] not in TASKS:
        raise BundleError(f"Unknown bundle task {data['task']!r}; expected one of {TASKS}.")
    if not isinstance(data["files"], dict):
        raise BundleError(f"{MANIFEST} field 'files' must map file names to SHA-256 digests.")
    return data


def verify_files(path: Path, manifest: Mapping[str, Any]) -> None:
    """Every listed file exists with its recorded SHA-256, and nothing else is there."""
    listed: Mapping[str, str] = manifest["files"]
    for rel in listed:
        _safe_relpath(rel)
    present: set[str] = set()
    for item in path.rglob("*"):
        rel = item.relative_to(path).as_posix()
        if item.is_symlink():
            raise BundleError(f"Bundle file {rel!r} is a symbolic link; bundles hold plain files.")
        if item.is_file() and rel != MANIFEST:
            present.add(rel)
    extra = sorted(present - set(listed))
    if extra:
        raise BundleError(
            f"The bundle holds file(s) not listed in {MANIFEST}: {extra}. A bundle is refused "
            "when anything was added to it; rebuild it or remove the file(s).")
    for rel, expected in sorted(listed.items()):
        file = path / rel
        if not file.is_file():
            raise BundleError(f"Bundle file {rel!r} listed in {MANIFEST} is missing.")
        actual = sha256_file(file)
        if actual != expected:
            raise BundleError(
                f"Bundle file {rel!r} has SHA-256 {actual[:16]}… but {MANIFEST} records "
                f"{str(expected)[:16]}…; the file was altered, so the bundle is refused.")
