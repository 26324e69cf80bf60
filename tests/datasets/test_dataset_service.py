"""The dataset service in-process: references, reading back, materializing, concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.artifacts import ArtifactStore
from shipyard.datasets import DatasetService, content_hash, parse_ref
from shipyard.errors import Conflict, IntegrityError, InvalidRequest, MalformedData, NotFound
from shipyard.settings import Settings
from shipyard.store import Database, EventLog, upgrade


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("churn", ("churn", None)), ("churn:3", ("churn", 3)), ("churn:latest", ("churn", None)),
     ("a.b-c_d:12", ("a.b-c_d", 12))],
)
def test_parse_ref(ref: str, expected: tuple[str, int | None]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["churn:", "churn:0", "churn:-1", "churn:x", ":3", "../x:1",
                                 "churn:1:2", "churn:\u0663", ""])
def test_parse_ref_refuses(ref: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_ref(ref)


@pytest.fixture(params=["local", "fsspec"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatasetService]:
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
    db = Database(settings.db_url)
    upgrade(db)
    url = (settings.artifacts_url if request.param == "local"
           else f"memory://shipyard-test-{uuid.uuid4().hex}")
    artifacts = ArtifactStore(url, tmp_dir=settings.tmp_dir)
    try:
        yield DatasetService(db, EventLog(db), artifacts, settings)
    finally:
        db.dispose()


def csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex}.upload"
    path.write_text(text)
    return path


def test_ingest_read_head_materialize(service: DatasetService, tmp_path: Path) -> None:
    v1 = service.ingest("nums", [("a.csv", csv(tmp_path, "n,s\n1,a\n2,b\n3,c\n"))], actor="me")
    v2 = service.ingest("nums", [("b.csv", csv(tmp_path, "n,s\n4,d\n5,e\n"))], mode="append")
    assert (v1.version, v2.version, v2.num_rows) == (1, 2, 5)
    assert v2.content_hash == content_hash([p["sha256"] for p in v2.parts])
    assert service.read_table("nums").column("n").to_pylist() == [1, 2, 3, 4, 5]
    assert service.read_table("nums", 1).num_rows == 3
    # head crosses from the first part into the second only as far as it must
    assert service.head("nums", n=4).column("s").to_pylist() == ["a", "b", "c", "d"]
    assert service.head("nums", n=2).num_rows == 2
    assert service.head("nums", n=0).num_rows == 0
    paths = service.materialize("nums", None, tmp_path / "channel")
    assert [p.name for p in paths] == ["part-00000.parquet", "part-00001.parquet"]
    assert pa.concat_tables([pq.read_table(p) for p in paths]).column("n").to_pylist() == [
        1, 2, 3, 4, 5]
    assert service.get("nums").latest == v2
    assert [v.version for v in service.versions("nums")] == [1, 2]
    assert service.delete("nums", actor="me") == 2
    with pytest.raises(NotFound):
        service.get("nums")


def test_modes(service: DatasetService, tmp_path: Path) -> None:
    data = "x\n1\n"
    assert service.ingest("auto", [("a.csv", csv(tmp_path, data))], mode="auto").version == 1
    assert service.ingest("auto", [("a.csv", csv(tmp_path, data))], mode="auto").version == 2
    with pytest.raises(Conflict):
        service.ingest("auto", [("a.csv", csv(tmp_path, data))])
    with pytest.raises(NotFound):
        service.ingest("missing", [("a.csv", csv(tmp_path, data))], mode="append")
    with pytest.raises(InvalidRequest, match="mode"):
        service.ingest("auto", [("a.csv", csv(tmp_path, data))], mode="upsert")
    with pytest.raises(InvalidRequest, match="at least one file"):
        service.ingest("auto", [], mode="auto")


def test_work_files_are_cleaned_up(service: DatasetService, tmp_path: Path) -> None:
    service.ingest("clean", [("a.csv", csv(tmp_path, "x\n1\n"))])
    with pytest.raises(MalformedData):
        service.ingest("dirty", [("a.csv", csv(tmp_path, "x,y\n1\n"))])
    assert list(service.settings.tmp_dir.iterdir()) == []


def test_concurrent_appends_lose_no_rows(service: DatasetService, tmp_path: Path) -> None:
    service.ingest("busy", [("a.csv", csv(tmp_path, "x\n0\n"))])
    uploads = [csv(tmp_path, f"x\n{i}\n") for i in range(1, 7)]
    errors: list[BaseException] = []

    def append(path: Path) -> None:
        try:
            service.ingest("busy", [("more.csv", path)], mode="append")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(p,)) for p in uploads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    latest = service.version("busy")
    assert (latest.version, latest.num_rows) == (7, 7)
    assert sorted(service.read_table("busy").column("x").to_pylist()) == list(range(7))


def test_an_altered_object_is_never_served(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
    db = Database(settings.db_url)
    upgrade(db)
    artifacts = ArtifactStore(settings.artifacts_url, tmp_dir=settings.tmp_dir)
    svc = DatasetService(db, EventLog(db), artifacts, settings)
    try:
        rec = svc.ingest("fragile", [("a.csv", csv(tmp_path, "x\n1\n2\n"))])
        sha = rec.parts[0]["sha256"]
        path = settings.artifacts_url + f"/objects/{sha[:2]}/{sha}"
        Path(path).write_bytes(Path(path).read_bytes()[:-1] + b"!")
        with pytest.raises(IntegrityError):
            svc.read_table("fragile")
        with pytest.raises(IntegrityError):  # one stored object: checked as it streams
            b"".join(svc.download("fragile").chunks)
        with pytest.raises(IntegrityError):  # produced from the parts: checked before
            svc.download("fragile", format="csv")
        with pytest.raises(IntegrityError):
            svc.materialize("fragile", 1, tmp_path / "out")
    finally:
        db.dispose()


def test_early_refusal_of_a_large_file_stops_cleanly(service: DatasetService,
                                                     tmp_path: Path) -> None:
    # The reader is still reading ahead when the first block is refused.
    rows = "".join(f"{i},{i}\n" for i in range(600_000))
    path = csv(tmp_path, "a,b\n1,x\n" + rows)
    with pytest.raises(MalformedData, match="row 1"):
        service.ingest("early", [("big.csv", path)], column_types={"b": "int64"})
    assert list(service.settings.tmp_dir.iterdir()) == []
    with pytest.raises(NotFound):
        service.get("early")
