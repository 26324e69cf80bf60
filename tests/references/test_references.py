"""The referenced-delete rule, and its registry of referrer kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import Conflict, Forbidden
from shipyard.references import NAMED, TARGETS, References, Referrer, register_builtin
from shipyard.store import Database, EventLog, upgrade
from shipyard.tokens import Principal

ADMIN = Principal("root", "admin")
DS = Principal("alice", "data-scientist")


def test_free_targets_are_deleted_and_used_ones_refused_naming_each_referrer() -> None:
    refs = References()
    held = {"churn": [Referrer("pipeline", f"p{i}", "its first step") for i in range(7)]}
    refs.register("dataset", "pipeline", lambda name: held.get(name, []))  # the plug-in point
    assert refs.check_delete("dataset", "Dataset 'free'", "free", DS) == {}
    assert len(refs.of("dataset", "churn", kinds=("pipeline",))) == 7
    assert refs.of("dataset", "churn", kinds=("monitor",)) == []  # only the kinds asked
    with pytest.raises(Conflict) as refused:
        refs.check_delete("dataset", "Dataset 'churn'", "churn", DS)
    message = refused.value.message
    assert message.startswith("Dataset 'churn' is still used by pipeline 'p0' (its first step)")
    assert f"and {7 - NAMED} more" in message and "--force" in message
    assert len(refused.value.details["referrers"]) == 7  # all of them in the details
    with pytest.raises(Forbidden, match="only an admin may delete it anyway"):
        refs.check_delete("dataset", "Dataset 'churn'", "churn", DS, force=True)
    audit = refs.check_delete("dataset", "Dataset 'churn'", "churn", ADMIN, force=True)
    assert audit["forced"] is True and audit["referrers"][0] == {
        "kind": "pipeline", "name": "p0", "how": "its first step"}
    with pytest.raises(ValueError, match="unknown reference target"):
        refs.register("token", "x", lambda name: [])


def test_every_target_has_builtin_referrers(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(db)
        refs = register_builtin(References(), db, EventLog(db))
        assert refs.kinds("dataset") == ["model version", "monitor", "job", "schedule"]
        assert refs.kinds("model_group") == ["endpoint", "job", "schedule"]
        assert refs.kinds("endpoint") == ["monitor"]
        assert all(refs.kinds(t) for t in TARGETS)
        assert all(refs.of(t, "nothing-uses-this") == [] for t in TARGETS)
    finally:
        db.dispose()
