"""The artifact store: content addressing, atomic writes, checks on read, containment.

Every behaviour runs on each backend: a local folder, fsspec's in-memory
filesystem, and S3 through a real S3-compatible server (moto, started on
127.0.0.1 by the ``s3_server`` fixture).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard.artifacts import ArtifactStore, UnsafeKey, safe_key
from shipyard.errors import IntegrityError, NotFound
from shipyard.testing.corpus import TRAVERSAL

BACKENDS = ["local", "memory", pytest.param("s3", marks=pytest.mark.slow)]


@dataclass
class Case:
    """A store on one backend, plus a way around it to look at or alter the stored bytes."""

    backend: str
    store: ArtifactStore
    fs: Any  # an fsspec filesystem on the same root, outside the store
    root: str

    def raw_keys(self) -> list[str]:
        """Every key under the store's root, as the storage itself lists them."""
        if not self.fs.exists(self.root):
            return []
        return sorted(p[len(self.root.rstrip("/")) + 1:] for p in self.fs.find(self.root))

    def object_key(self, sha: str) -> str:
        return f"{self.root.rstrip('/')}/objects/{sha[:2]}/{sha}"

    def write_raw(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` past the store, as another server or an attacker would."""
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(path, data)

    def tamper(self, sha: str, data: bytes) -> None:
        self.write_raw(self.object_key(sha), data)


@pytest.fixture(params=BACKENDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    if request.param == "local":
        import fsspec

        root = tmp_path / "root"
        yield Case("local", ArtifactStore(str(root), tmp_dir=tmp),
                   fsspec.filesystem("file"), str(root))
        return
    if request.param == "memory":
        # fsspec's memory filesystem is one dict per process: each test gets a
        # bucket of its own (id(request) is reused once a request is freed, which
        # let one test see another's objects) and empties it afterwards.
        url = f"memory://shipyard-test-{uuid.uuid4().hex}"
        store = ArtifactStore(url, tmp_dir=tmp)
        backend: Any = store.backend
        yield Case("memory", store, backend.fs, backend.root)
        if backend.fs.exists(backend.root):
            backend.fs.rm(backend.root, recursive=True)
        return
    s3 = request.getfixturevalue("s3_server")
    url = request.getfixturevalue("s3_url")
    store = ArtifactStore(url, tmp_dir=tmp, options=s3.storage_options())
    yield Case("s3", store, s3.filesystem(), url[len("s3://"):])


@pytest.fixture
def store(case: Case) -> ArtifactStore:
    return case.store


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_content_addressed_round_trip(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"hello")
    assert blob.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert blob.size == 5
    assert store.exists(blob.sha256)
    assert store.read_bytes(blob.sha256) == b"hello"
    assert b"".join(store.iter_chunks(blob.sha256)) == b"hello"
    assert store.put_bytes(b"hello") == blob  # idempotent, stored once
    store.delete(blob.sha256)
    assert not store.exists(blob.sha256)
    with pytest.raises(NotFound):
        store.read_bytes(blob.sha256)
    store.delete(blob.sha256)  # deleting what is gone is fine


def test_copy_to_and_verified_path(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # spans several read chunks
    blob = store.put_file(_file(tmp_path, "src.bin", data))
    dest = tmp_path / "out" / "deep" / "copy.bin"
    store.copy_to(blob.sha256, dest)
    assert dest.read_bytes() == data
    assert not dest.with_name("copy.bin.part").exists()
    path = store.verified_path(blob.sha256)
    assert path.read_bytes() == data


def test_empty_object(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"")
    assert blob.size == 0 and store.read_bytes(blob.sha256) == b""


def test_tampered_object_fails_its_check_and_leaves_nothing(case: Case, tmp_path: Path) -> None:
    store = case.store
    blob = store.put_bytes(b"original bytes")
    case.tamper(blob.sha256, b"tampered bytes, and longer than before")
    with pytest.raises(IntegrityError, match="SHA-256"):
        store.read_bytes(blob.sha256)
    with pytest.raises(IntegrityError):
        store.verified_path(blob.sha256)
    dest = tmp_path / "out" / "copy.bin"
    with pytest.raises(IntegrityError):
        store.copy_to(blob.sha256, dest)
    assert not dest.exists() and not dest.with_name("copy.bin.part").exists()
    assert list((tmp_path / "tmp").iterdir()) == []  # no temporary copy left behind


def test_missing_objects(case: Case, tmp_path: Path) -> None:
    store = case.store
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(sha)
    with pytest.raises(NotFound):
        store.read_bytes(sha)
    with pytest.raises(NotFound):
        list(store.iter_chunks(sha))
    with pytest.raises(NotFound):
        store.verified_path(sha)
    with pytest.raises(NotFound):
        store.copy_to(sha, tmp_path / "out.bin")
    with pytest.raises(NotFound):
        store.open_named("jobs/none/job.log")
    assert not (tmp_path / "out.bin").exists() and not (tmp_path / "out.bin.part").exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.list_named("jobs") == []


def test_writes_leave_only_objects(case: Case) -> None:
    shas = {case.store.put_bytes(os.urandom(1000) + bytes([i])).sha256 for i in range(12)}
    objects = [k for k in case.raw_keys() if k.startswith("objects/")]
    assert sorted(objects) == sorted(f"objects/{s[:2]}/{s}" for s in shas)
    assert not [k for k in case.raw_keys() if k.endswith(".part")]


def test_object_names_must_be_digests(store: ArtifactStore) -> None:
    for bad in ["../x", "A" * 64, "abc", "g" * 64, "a" * 63 + "/"]:
        with pytest.raises(UnsafeKey):
            store.read_bytes(bad)
        with pytest.raises(UnsafeKey):
            store.exists(bad)


def test_traversal_corpus_is_refused_and_touches_nothing(case: Case, tmp_path: Path) -> None:
    src = _file(tmp_path, "payload", b"payload")
    case.store.put_named("keep/me.txt", src)
    before = case.raw_keys()
    for name in TRAVERSAL:
        for op in (
            lambda: case.store.put_named(name, src),
            lambda: case.store.open_named(name),
            lambda: case.store.delete_named(name),
            lambda: case.store.list_named(name),
        ):
            with pytest.raises(UnsafeKey):
                op()
    assert case.raw_keys() == before
    with case.store.open_named("keep/me.txt") as fh:
        assert fh.read() == b"payload"


@pytest.mark.parametrize("name", TRAVERSAL)
def test_traversal_corpus_cannot_reach_outside_a_local_root(name: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ArtifactStore(str(root), tmp_dir=tmp_path)
    canary = _file(tmp_path, "canary.txt", b"keep me")
    src = _file(tmp_path, "payload", b"payload")
    before = sorted(p.name for p in tmp_path.iterdir())
    for op in (
        lambda: store.put_named(name, src),
        lambda: store.open_named(name),
        lambda: store.delete_named(name),
        lambda: store.list_named(name),
    ):
        with pytest.raises(UnsafeKey):
            op()
    assert canary.read_bytes() == b"keep me"
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
    src = _file(tmp_path, "payload", b"payload")
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
    store.put_named("jobs/j1/job.log", _file(tmp_path, "log", b"line 1\n"))
    store.put_named("jobs/j2/job.log", _file(tmp_path, "log2", b"other\n"))
    with store.open_named("jobs/j1/job.log") as fh:
        assert fh.read() == b"line 1\n"
    assert store.list_named("jobs") == ["jobs/j1/job.log", "jobs/j2/job.log"]
    assert store.list_named("jobs/j2") == ["jobs/j2/job.log"]
    store.put_named("jobs/j1/job.log", _file(tmp_path, "log3", b"line 1\nline 2\n"))
    with store.open_named("jobs/j1/job.log") as fh:
        assert fh.read() == b"line 1\nline 2\n"  # replaced whole
    store.delete_named("jobs/j1/job.log")
    store.delete_named("jobs/j1/job.log")
    assert store.list_named("jobs") == ["jobs/j2/job.log"]


def test_another_writer_is_seen_at_once(case: Case, tmp_path: Path) -> None:
    """Two servers share one bucket: what one writes, the other lists and reads (no stale cache)."""
    store = case.store
    store.put_named("jobs/j1/job.log", _file(tmp_path, "log", b"one"))
    assert store.list_named("jobs") == ["jobs/j1/job.log"]
    root = case.root.rstrip("/")
    case.write_raw(f"{root}/named/jobs/j2/job.log", b"two")  # the other server
    assert store.list_named("jobs") == ["jobs/j1/job.log", "jobs/j2/job.log"]
    with store.open_named("jobs/j2/job.log") as fh:
        assert fh.read() == b"two"
    blob_sha = hashlib.sha256(b"theirs").hexdigest()
    case.write_raw(case.object_key(blob_sha), b"theirs")
    assert store.exists(blob_sha) and store.read_bytes(blob_sha) == b"theirs"
    case.fs.rm(case.object_key(blob_sha))
    assert not store.exists(blob_sha)


def _peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["local", "s3"], indirect=True)
def test_large_objects_are_streamed(case: Case, tmp_path: Path) -> None:
    """A 64 MiB object goes in and out in bounded blocks, never whole in memory."""
    size = 64 * 1024 * 1024
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(big, "wb") as fh:
        for i in range(size // (1024 * 1024)):
            block = hashlib.sha256(str(i).encode()).digest() * (1024 * 1024 // 32)
            digest.update(block)
            fh.write(block)
    store = case.store
    blob = None

    def put() -> None:
        nonlocal blob
        blob = store.put_file(big)

    assert _peak_bytes(put) < size // 2
    assert blob is not None and (blob.sha256, blob.size) == (digest.hexdigest(), size)

    def read() -> None:
        h = hashlib.sha256()
        for chunk in store.iter_chunks(blob.sha256):
            h.update(chunk)
        assert h.hexdigest() == blob.sha256

    assert _peak_bytes(read) < size // 2
    dest = tmp_path / "copy.bin"
    assert _peak_bytes(lambda: store.copy_to(blob.sha256, dest)) < size // 2
    assert dest.stat().st_size == size


def test_concurrent_puts_of_the_same_content(case: Case) -> None:
    data = os.urandom(2 * 1024 * 1024)
    barrier = threading.Barrier(6)
    results: list[Any] = []

    def put() -> None:
        barrier.wait()
        try:
            results.append(case.store.put_bytes(data))
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 6 and len({r.sha256 for r in results}) == 1, results
    sha = results[0].sha256
    assert case.store.read_bytes(sha) == data
    assert [k for k in case.raw_keys() if k.startswith("objects/")] == [f"objects/{sha[:2]}/{sha}"]
    assert not [k for k in case.raw_keys() if k.endswith(".part")]


def test_safe_key_keeps_ordinary_names() -> None:
    assert safe_key("model/weights.json") == "model/weights.json"
    assert safe_key("part-00000.parquet") == "part-00000.parquet"


def test_missing_s3_package_names_the_extra() -> None:
    """Without s3fs, an s3:// store says which extra to install (checked in a clean process)."""
    code = ("import sys; sys.modules['s3fs'] = None\n"
            "from shipyard.artifacts import ArtifactStore\n"
            "ArtifactStore('s3://bucket/prefix')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "ModuleNotFoundError" in done.stderr
    assert "pip install 'shipyard[s3]'" in done.stderr
