"""DatasetRepository on both backends: names unique, versions immutable and numbered in order."""

from __future__ import annotations

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, DatasetRepository, EventLog, NewVersion

from .helpers import (
    LONGEST_NAME,
    MIXED_CASE,
    UNICODE_JSON,
    assert_utc,
    code_point_order,
    errors,
    race,
    recent,
    values,
)

REPOSITORY = DatasetRepository


def _version(shas: list[str], rows: int = 3) -> NewVersion:
    return NewVersion(
        parts=[{"sha256": s, "rows": rows, "bytes": 10} for s in shas],
        schema=[{"name": "a", "dtype": "int64", "semantic_type": "numeric"}],
        num_rows=rows * len(shas), num_columns=1, size_bytes=10 * len(shas),
        content_hash="h" + "".join(shas)[:10], source={"type": "upload"},
    )


def test_versions_append_and_delete(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    v1 = repo.add_version("churn", _version(["s1"]), must_exist=False, actor="u",
                          description="telco")
    assert v1.version == 1 and v1.num_rows == 3 and v1.dataset == "churn"
    assert_utc(v1.created_at)
    assert recent(v1.created_at)
    with pytest.raises(Conflict, match="already exists"):
        repo.add_version("churn", _version(["s9"]), must_exist=False, actor="u")
    with pytest.raises(NotFound):
        repo.add_version("nope", _version(["s9"]), must_exist=True, actor="u")
    v2 = repo.add_version("churn", _version(["s1", "s2"]), must_exist=True, actor="u")
    assert v2.version == 2 and v2.num_rows == 6
    assert [v.version for v in repo.versions("churn")] == [1, 2]
    ds = repo.get("churn")
    assert ds.latest.version == 2 and ds.description == "telco"
    assert_utc(ds.created_at, ds.updated_at)
    assert ds.updated_at >= ds.created_at
    assert repo.version("churn").version == 2
    assert repo.version("churn", 1).parts[0]["sha256"] == "s1"
    with pytest.raises(NotFound):
        repo.version("churn", 3)
    repo.add_version("other", _version(["s2"]), must_exist=None, actor="u")
    assert [d.name for d in repo.list()] == ["churn", "other"]
    # s2 is still used by "other": only s1 is free to delete.
    assert repo.delete("churn", "u") == ["s1"]
    with pytest.raises(NotFound):
        repo.get("churn")
    with pytest.raises(NotFound):
        repo.delete("churn", "u")
    kinds = [e.kind for e in events.list(resource_id="churn")]
    assert kinds == ["dataset.version_created"] * 2 + ["dataset.deleted"]


def test_list_is_in_code_point_order(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    for name in MIXED_CASE:
        repo.add_version(name, _version([name]), must_exist=False, actor="u")
    assert [d.name for d in repo.list()] == code_point_order(MIXED_CASE)


def test_json_round_trip(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    new = NewVersion(parts=[{"sha256": "s", "rows": 1, "bytes": 1, "meta": UNICODE_JSON}],
                     schema=[{"name": "prénom ✓", "dtype": "string", "categories": ["é", "中"]}],
                     num_rows=1, num_columns=1, size_bytes=2**40, content_hash="h",
                     source=UNICODE_JSON)
    repo.add_version("d", new, must_exist=None, actor="ü")
    got = repo.version("d", 1)
    assert (got.parts, got.schema, got.source) == (new.parts, new.schema, new.source)
    assert got.size_bytes == 2**40 and got.created_by == "ü"


def test_idempotency(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    a = repo.add_version("d", _version(["x"]), must_exist=None, actor="u", idempotency=("k1", "h1"))
    b = repo.add_version("d", _version(["x"]), must_exist=None, actor="u", idempotency=("k1", "h1"))
    assert (a.version, b.version) == (1, 1)
    with pytest.raises(Conflict, match="different request body"):
        repo.add_version("d", _version(["y"]), must_exist=None, actor="u", idempotency=("k1", "h2"))
    assert len(repo.versions("d")) == 1
    # Looking a key up (a saved query's retry answers with its first version, unrun).
    assert repo.idempotent_version("k1", "h1").version == 1  # type: ignore[union-attr]
    assert repo.idempotent_version("k-unused", "h1") is None
    with pytest.raises(Conflict, match="different request body"):
        repo.idempotent_version("k1", "h2")


def test_longest_name_with_an_idempotency_key(db: Database, events: EventLog) -> None:
    """The key's record holds ``NAME:VERSION``, longer than the name itself."""
    repo = DatasetRepository(db, events)
    key = ("k" * 255, "h" * 64)
    first = repo.add_version(LONGEST_NAME, _version(["x"]), must_exist=None, actor=LONGEST_NAME,
                             idempotency=key)
    again = repo.add_version(LONGEST_NAME, _version(["x"]), must_exist=None, actor="u",
                             idempotency=key)
    assert first == again and first.dataset == LONGEST_NAME


def test_concurrent_appends_all_get_their_own_version(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    repo.add_version("d", _version(["base"]), must_exist=False, actor="u")
    results = race(lambda i: repo.add_version("d", _version([f"s{i}"]), must_exist=True,
                                              actor="u"))
    assert not errors(results), errors(results)
    assert sorted(v.version for v in values(results)) == list(range(2, 2 + len(results)))
    assert [v.version for v in repo.versions("d")] == list(range(1, 2 + len(results)))


def test_concurrent_creates_of_one_name(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    results = race(lambda i: repo.add_version("d", _version([f"s{i}"]), must_exist=False,
                                              actor="u"))
    assert len(values(results)) == 1
    assert all(isinstance(e, Conflict) for e in errors(results)), errors(results)
    assert [v.version for v in repo.versions("d")] == [1]


def test_concurrent_idempotent_creates_make_one_version(db: Database, events: EventLog) -> None:
    repo = DatasetRepository(db, events)
    results = race(lambda i: repo.add_version("d", _version(["same"]), must_exist=None,
                                              actor="u", idempotency=("key", "body")))
    assert not errors(results), errors(results)
    assert {(v.dataset, v.version) for v in values(results)} == {("d", 1)}
    assert len(repo.versions("d")) == 1
