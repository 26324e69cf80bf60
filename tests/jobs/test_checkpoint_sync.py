"""The checkpoint sync over a real folder and a real local artifact store: complete files
only, only what changed, never through a link, and a manifest the control plane checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs._checkpoints import (
    CheckpointSync,
    checkpoint_files,
    is_temporary,
    manifest_key,
    read_manifest,
)
from shipyard.jobs._package import staged_path


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, ArtifactStore, CheckpointSync]:
    job_dir = tmp_path / "job"
    (job_dir / "checkpoints").mkdir(parents=True)
    store = ArtifactStore(str(tmp_path / "store"), tmp_dir=tmp_path)
    return job_dir, store, CheckpointSync(job_dir, "job-1", store, tmp_path)


def test_only_complete_and_changed_files_are_stored(
        setup: tuple[Path, ArtifactStore, CheckpointSync]) -> None:
    job_dir, store, sync = setup
    folder = job_dir / "checkpoints"
    assert sync.sync().changed is False  # nothing yet: no manifest written
    assert read_manifest(store, "job-1") == []

    (folder / "model-10.ubj").write_bytes(b"ten")
    (folder / "sub").mkdir()
    (folder / "sub" / "state.json").write_text("{}")
    for temporary in (".model-20.ubj", "model-20.ubj.tmp", "x.part", "y.bak", "z~"):
        (folder / temporary).write_bytes(b"half")
    first = sync.sync()
    assert (first.uploaded, first.files, first.changed) == (2, 2, True)
    files = read_manifest(store, "job-1")
    assert [f["path"] for f in files] == ["model-10.ubj", "sub/state.json"]
    assert store.read_bytes(files[0]["sha256"]) == b"ten"

    again = sync.sync()  # nothing changed: nothing read again, no new manifest
    assert (again.uploaded, again.changed) == (0, False)

    os.replace(folder / ".model-20.ubj", folder / "model-20.ubj")  # now complete
    (folder / "model-10.ubj").unlink()
    third = sync.sync()
    assert (third.uploaded, third.changed) == (1, True)
    assert [f["path"] for f in read_manifest(store, "job-1")] == ["model-20.ubj",
                                                                  "sub/state.json"]
    staged = checkpoint_files(store, "job-1")
    assert [f.path for f in staged] == ["checkpoints/model-20.ubj",
                                        "checkpoints/sub/state.json"]
    assert staged_path(job_dir, staged[0].path) == (folder / "model-20.ubj").resolve()


def test_links_are_never_followed(setup: tuple[Path, ArtifactStore, CheckpointSync],
                                  tmp_path: Path) -> None:
    job_dir, store, sync = setup
    secret = tmp_path / "secret"
    secret.write_text("not the job's")
    (job_dir / "checkpoints" / "link").symlink_to(secret)
    (job_dir / "checkpoints" / "dir").symlink_to(tmp_path, target_is_directory=True)
    (job_dir / "checkpoints" / "ok.bin").write_bytes(b"ok")
    sync.sync()
    assert [f["path"] for f in read_manifest(store, "job-1")] == ["ok.bin"]

    # A link in place of the whole folder: nothing is read through it, and the last
    # checkpoint stays (so does it when the folder is gone).
    os.rename(job_dir / "checkpoints", job_dir / "old")
    (job_dir / "checkpoints").symlink_to(tmp_path, target_is_directory=True)
    assert sync.sync().changed is False
    assert [f["path"] for f in read_manifest(store, "job-1")] == ["ok.bin"]
    (job_dir / "checkpoints").unlink()
    assert sync.sync().changed is False
    assert [f["path"] for f in read_manifest(store, "job-1")] == ["ok.bin"]


def test_an_emptied_folder_empties_the_manifest_and_a_closed_sync_does_nothing(
        setup: tuple[Path, ArtifactStore, CheckpointSync]) -> None:
    job_dir, store, sync = setup
    (job_dir / "checkpoints" / "a.bin").write_bytes(b"a")
    sync.sync()
    (job_dir / "checkpoints" / "a.bin").unlink()  # the job dropped its checkpoint
    assert sync.sync().changed is True
    assert read_manifest(store, "job-1") == []
    (job_dir / "checkpoints" / "b.bin").write_bytes(b"b")
    sync.close()  # the attempt is over
    assert sync.sync().uploaded == 0
    assert read_manifest(store, "job-1") == []


def test_a_damaged_manifest_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"), tmp_dir=tmp_path)
    bad = tmp_path / "bad.json"
    for doc in ({"files": [{"path": "../../etc/passwd", "sha256": "0" * 64, "size": 1}]},
                {"files": [{"path": "a", "sha256": "nope", "size": 1}]},
                {"nothing": []}):
        bad.write_text(json.dumps(doc))
        store.put_named(manifest_key("job-2"), bad)
        with pytest.raises(ShipyardError, match="checkpoint manifest of job job-2 is damaged"):
            checkpoint_files(store, "job-2")


def test_temporary_names() -> None:
    assert all(is_temporary(n) for n in (".x", "a.tmp", "a.part", "a.bak", "a~"))
    assert not any(is_temporary(n) for n in ("a.ubj", "state.json", "catboost.snapshot"))
