"""Profiles of dataset versions, computed once and kept in the artifact store.

This is the one part of the package that does I/O, for the server: it reads a
version's Parquet parts (checked copies, scanned by DuckDB, never loaded whole),
profiles them with the version's schema types, and stores the JSON snapshot as the
named object ``profiles/<content hash>/<key>.json``. The key digests the profile
format version, the target, the problem type, the sample size and the seed, so
equal content shares a profile and a new format is never served from an old one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest, NotFound
from shipyard.profiling._profile import SAMPLE_ROWS, profile
from shipyard.profiling._result import FORMAT_VERSION

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.datasets import DatasetService
    from shipyard.store import VersionRecord

SEED = 0
_GUARD = threading.Lock()
_COMPUTING: dict[str, threading.Lock] = {}


def cache_key(content_hash: str, target: str | None, problem_type: str | None = None) -> str:
    """The artifact-store name of a version's profile for ``target``."""
    spec = {"format": FORMAT_VERSION, "target": target, "problem_type": problem_type,
            "sample_rows": SAMPLE_ROWS, "seed": SEED}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
    return f"profiles/{content_hash}/{digest}.json"


def _key_lock(key: str) -> threading.Lock:
    with _GUARD:
        return _COMPUTING.setdefault(key, threading.Lock())


class VersionProfiles:
    """Cached profiles of dataset versions, over the dataset service and the artifact store."""

    def __init__(self, datasets: DatasetService, artifacts: ArtifactStore, tmp_dir: Path) -> None:
        self.datasets = datasets
        self.artifacts = artifacts
        self.tmp_dir = tmp_dir

    def snapshot(self, name: str, version: int | None = None, target: str | None = None,
                 problem_type: str | None = None) -> dict[str, Any]:
        """The profile snapshot of ``name`` at ``version`` (latest when ``None``).

        Raises:
            NotFound: no such dataset or version.
            InvalidRequest: ``target`` is not a column of the version, or cannot be analysed.
        """
        rec = self.datasets.version(name, version)
        columns = [c["name"] for c in rec.schema]
        if target is not None and target not in columns:
            listed = ", ".join(repr(c) for c in columns[:30]) + (" …" if len(columns) > 30 else "")
            raise InvalidRequest(
                f"The target column {target!r} is not in {rec.dataset}:{rec.version}; its "
                f"columns are {listed}.")
        key = cache_key(rec.content_hash, target, problem_type)
        cached = True
        doc = self._load(key)
        if doc is None:
            with _key_lock(key):
                doc = self._load(key)
                if doc is None:
                    doc = self._compute(rec, target, problem_type)
                    self._store(key, doc)
                    cached = False
            with _GUARD:
                _COMPUTING.pop(key, None)
        doc["source"] = {"kind": "dataset", "dataset": rec.dataset, "version": rec.version,
                         "content_hash": rec.content_hash, "cached": cached}
        return doc

    def bias(self, name: str, version: int | None, label: str | None,
             facet: Mapping[str, Any]) -> Any:
        """The pre-training bias metrics of a version (docs/bias.md): the label (the
        profile's target) across the facet's groups, over every row (only the label,
        facet and group columns are read).

        Raises:
            InvalidRequest: no target to use as the label, an unknown column, a value
                that matches no row.
        """
        from shipyard.fairness import BiasConfig, bias_report

        if not label:
            raise InvalidRequest("A facet's bias metrics compare the target between the "
                                 "facet's groups: give the target too ('target'; --target "
                                 "on the CLI).")
        config = BiasConfig(label=label, **{k: v for k, v in facet.items() if v is not None})
        rec = self.datasets.version(name, version)
        columns = [c["name"] for c in rec.schema]
        wanted = [c for c in (config.label, config.facet, config.group) if c is not None]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise InvalidRequest(f"Column {missing[0]!r} is not in {rec.dataset}:"
                                 f"{rec.version}; its columns are {columns[:30]}.")
        frame = self.datasets.read_table(rec.dataset, rec.version).select(wanted).to_pandas()
        return bias_report(frame, config)

    def _load(self, key: str) -> dict[str, Any] | None:
        try:
            with self.artifacts.open_named(key) as fh:
                doc = json.load(fh)
        except NotFound:
            return None
        return doc if doc.get("format_version") == FORMAT_VERSION else None

    def _compute(self, rec: VersionRecord, target: str | None,
                 problem_type: str | None) -> dict[str, Any]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="profile-", dir=self.tmp_dir))
        try:
            paths = self.datasets.materialize(rec.dataset, rec.version, work)
            types = {str(c["name"]): str(c["semantic_type"]) for c in rec.schema
                     if c.get("semantic_type")}
            result = profile(paths, target, problem_type=problem_type, semantic_types=types,
                             sample_rows=SAMPLE_ROWS, seed=SEED)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return result.to_dict()

    def _store(self, key: str, doc: dict[str, Any]) -> None:
        with tempfile.NamedTemporaryFile("w", dir=self.tmp_dir, suffix=".json",
                                         delete=False) as fh:
            json.dump(doc, fh)
        try:
            self.artifacts.put_named(key, fh.name)
        finally:
            Path(fh.name).unlink(missing_ok=True)
