"""The artifact store: content addressing, atomic writes, checks on read, containment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.artifacts import ArtifactStore, UnsafeKey, safe_key
from shipyard.errors import IntegrityError, NotFound
from shipyard.testing.corpus import TRAVERSAL


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "root"), tmp_dir=tmp_path)
    return ArtifactStore(f"memory://shipyard-test-{os.getpid()}-{id(request)}", tmp_dir=tmp_path)


def test_content_addressed_round_trip(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"hello")
    assert blob.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert blob.size == 5
    assert store.exists(blob.sha256)
    assert store.read_bytes(blob.sha256) == b"hello"
    assert store.put_bytes(b"hello") == blob  # idempotent, stored once
    store.delete(blob.sha256)
    assert not store.exists(blob.sha256)
    with pytest.raises(NotFound):
        store.read_bytes(blob.sha256)


def test_tampered_object_fails_its_check(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "root"), tmp_dir=tmp_path)
    blob = store.put_bytes(b"original bytes")
    path = tmp_path / "root" / "objects" / blob.sha256[:2] / blob.sha256
    path.write_bytes(b"tampered bytes")
    with pytest.raises(IntegrityError):
        store.read_bytes(blob.sha256)
    with pytest.raises(IntegrityError):
        store.verified_path(blob.sha256)


def test_writes_leave_no_partial_files(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "root"), tmp_dir=tmp_path)
    for i in range(20):
        store.put_bytes(os.urandom(1000) + bytes([i]))
    assert list((tmp_path / "root" / ".tmp").iterdir()) == []
    assert len(list((tmp_path / "root" / "objects").rglob("*"))) >= 20


def test_object_names_must_be_digests(store: ArtifactStore) -> None:
    for bad in ["../x", "A" * 64, "abc", "g" * 64]:
        with pytest.raises(UnsafeKey):
            store.read_bytes(bad)


@pytest.mark.parametrize("name", TRAVERSAL)
def test_traversal_corpus_is_refused_and_touches_nothing(name: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ArtifactStore(str(root), tmp_dir=tmp_path)
    canary = tmp_path / "canary.txt"
    canary.write_text("keep me")
    src = tmp_path / "payload"
    src.write_text("payload")
    before = sorted(p.name for p in tmp_path.iterdir())
    for op in (
        lambda: store.put_named(name, src),
        lambda: store.open_named(name),
        lambda: store.delete_named(name),
        lambda: store.list_named(name),
    ):
        with pytest.raises(UnsafeKey):
            op()
    assert canary.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_symlink_out_of_the_root_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ArtifactStore(str(root), tmp_dir=tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "named").mkdir(parents=True)
    os.symlink(outside, root / "named" / "link")
    os.symlink(outside / "secret.txt", root / "named" / "file-link")
    src = tmp_path / "payload"
    src.write_text("payload")
    with pytest.raises(UnsafeKey):
        store.open_named("link/secret.txt")
    with pytest.raises(UnsafeKey):
        store.put_named("link/new.txt", src)
    with pytest.raises(UnsafeKey):
        store.delete_named("link/secret.txt")
    with pytest.raises(UnsafeKey):
        store.open_named("file-link")
    assert (outside / "secret.txt").read_text() == "secret"
    assert not (outside / "new.txt").exists()


def test_named_objects(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "log"
    src.write_bytes(b"line 1\n")
    store.put_named("jobs/j1/job.log", src)
    with store.open_named("jobs/j1/job.log") as fh:
        assert fh.read() == b"line 1\n"
    assert store.list_named("jobs") == ["jobs/j1/job.log"]
    store.delete_named("jobs/j1/job.log")
    assert store.list_named("jobs") == []


def test_safe_key_keeps_ordinary_names() -> None:
    assert safe_key("model/weights.json") == "model/weights.json"
    assert safe_key("part-00000.parquet") == "part-00000.parquet"
