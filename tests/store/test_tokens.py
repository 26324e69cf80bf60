"""TokenRepository on both backends: only hashes stored, names unique, revocation final."""

from __future__ import annotations

import threading

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EventLog, TokenRepository

from .helpers import LONGEST_NAME, assert_utc, errors, race, recent, values

REPOSITORY = TokenRepository


def test_create_get_list_and_revoke(db: Database, events: EventLog) -> None:
    repo = TokenRepository(db, events)
    alice = repo.create("alice", "viewer", "a" * 64, "admin")
    assert (alice.name, alice.role, alice.active, alice.created_by) == (
        "alice", "viewer", True, "admin")
    assert_utc(alice.created_at)
    assert recent(alice.created_at)
    repo.create("Bob", "admin", "b" * 64)
    assert repo.count() == 2
    assert [t.name for t in repo.list()] == ["alice", "Bob"]  # creation order
    assert repo.get("Bob").role == "admin"
    with pytest.raises(NotFound):
        repo.get("bob")  # names are case-sensitive on both backends
    assert repo.find_active_by_hash("a" * 64).name == "alice"
    assert repo.find_active_by_hash("c" * 64) is None
    record, stored = repo.active_hash("alice")  # a sign-in session is bound to this hash
    assert (record.name, stored) == ("alice", "a" * 64)
    assert repo.active_hash("nobody") is None

    revoked = repo.revoke("alice", actor="admin")
    assert not revoked.active
    assert_utc(revoked.revoked_at)
    assert repo.revoke("alice").revoked_at == revoked.revoked_at  # a second revoke: no change
    assert repo.find_active_by_hash("a" * 64) is None
    assert repo.active_hash("alice") is None  # revoked: its sessions end with it
    with pytest.raises(NotFound):
        repo.revoke("nobody")
    kinds = [e.kind for e in events.list(resource_type="token")]
    assert kinds == ["token.created", "token.created", "token.revoked"]


def test_uniqueness_conflicts_are_shipyard_errors(db: Database, events: EventLog) -> None:
    repo = TokenRepository(db, events)
    repo.create("alice", "viewer", "a" * 64)
    with pytest.raises(Conflict, match="'alice' already exists"):
        repo.create("alice", "admin", "b" * 64)
    with pytest.raises(Conflict):
        repo.create("carol", "viewer", "a" * 64)  # the same secret twice
    assert repo.count() == 1
    assert [e.kind for e in events.list(resource_type="token")] == ["token.created"]


def test_longest_name(db: Database, events: EventLog) -> None:
    repo = TokenRepository(db, events)
    repo.create(LONGEST_NAME, "viewer", "d" * 64, LONGEST_NAME)
    assert repo.get(LONGEST_NAME).created_by == LONGEST_NAME
    assert repo.revoke(LONGEST_NAME, LONGEST_NAME).active is False


def test_concurrent_creates_of_one_name(db: Database, events: EventLog) -> None:
    repo = TokenRepository(db, events)
    results = race(lambda i: repo.create("same", "viewer", f"{i:064x}"))
    assert len(values(results)) == 1
    assert all(isinstance(e, Conflict) for e in errors(results)), errors(results)
    assert repo.count() == 1


def test_concurrent_revokes_record_one_event(db: Database, events: EventLog) -> None:
    repo = TokenRepository(db, events)
    repo.create("alice", "viewer", "a" * 64)
    results = race(lambda i: repo.revoke("alice", actor=f"admin-{i}"))
    assert not errors(results), errors(results)
    assert len({r.revoked_at for r in values(results)}) == 1
    assert [e.kind for e in events.list(kind="token.revoked")] == ["token.revoked"]


def test_the_last_admin_token_stays_and_reset_admin(db: Database) -> None:
    repo = TokenRepository(db, EventLog(db))
    repo.create("admin", "admin", "a" * 64, "bootstrap")
    with pytest.raises(Conflict, match="last active admin token"):
        repo.revoke("admin")
    assert repo.find_active_by_hash("a" * 64).name == "admin"
    # Reset gives the named admin token a new secret; the old one stops working.
    rec = repo.reset_admin("admin", "b" * 64, "reset-admin (OS user x)")
    assert (rec.name, rec.active) == ("admin", True)
    assert repo.find_active_by_hash("a" * 64) is None
    assert repo.find_active_by_hash("b" * 64).name == "admin"
    # Named token revoked (another admin exists): a new admin token is created instead.
    repo.create("ops", "admin", "c" * 64, "admin")
    repo.revoke("admin")
    rec = repo.reset_admin("admin", "d" * 64, "reset-admin (OS user x)")
    assert (rec.name, rec.role) == ("admin-2", "admin")
    assert repo.find_active_by_hash("c" * 64).name == "ops"  # other admins are kept


def test_two_admins_revoking_each_other_at_once_leave_one(db: Database) -> None:
    repo = TokenRepository(db, EventLog(db))
    repo.create("a1", "admin", "1" * 64)
    repo.create("a2", "admin", "2" * 64)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def revoke(name: str) -> None:
        barrier.wait()
        try:
            repo.revoke(name)
            outcomes.append("revoked")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=revoke, args=(n,)) for n in ("a1", "a2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused", "revoked"]
    assert sum(t.active for t in repo.list()) == 1
