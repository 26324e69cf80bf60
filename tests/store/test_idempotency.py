"""Idempotency keys on both backends: one key makes one resource, whoever asks at once."""

from __future__ import annotations

import pytest

from shipyard.errors import Conflict
from shipyard.store import Database
from shipyard.store import _idempotency as idem

from .helpers import errors, race, values


def _claim_or_lookup(db: Database, key: str, body: str, resource: str) -> str:
    """What a create does: the resource the key already made, else claim the key for ours."""
    with db.write() as conn:
        done = idem.lookup(conn, "things", key, body)
        if done is not None:
            return done
        idem.claim(conn, "things", key, body, resource)
        return resource


def test_claim_then_lookup(db: Database) -> None:
    assert _claim_or_lookup(db, "k", "h", "thing-1") == "thing-1"
    assert _claim_or_lookup(db, "k", "h", "thing-2") == "thing-1"
    with db.read() as conn:
        assert idem.lookup(conn, "things", "k", "h") == "thing-1"
        assert idem.lookup(conn, "things", "other", "h") is None
        assert idem.lookup(conn, "jobs", "k", "h") is None  # keys are per scope
        with pytest.raises(Conflict, match="different request body"):
            idem.lookup(conn, "things", "k", "another body")


def test_a_claim_rolls_back_with_its_create(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write() as conn:
        idem.claim(conn, "things", "k", "h", "thing-1")
        raise RuntimeError("the create failed")
    assert _claim_or_lookup(db, "k", "h", "thing-2") == "thing-2"


def test_longest_key_and_resource(db: Database) -> None:
    key, resource = "k" * 255, "r" * 128 + ":123456"
    assert _claim_or_lookup(db, key, "h" * 64, resource) == resource
    assert _claim_or_lookup(db, key, "h" * 64, "x") == resource


def test_concurrent_claims_of_one_key(db: Database) -> None:
    results = race(lambda i: _claim_or_lookup(db, "k", "h", f"thing-{i}"), n=8)
    assert not errors(results), errors(results)
    assert len(set(values(results))) == 1
