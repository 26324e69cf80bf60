"""Leader locks and the election: one holder at a time, found by followers, lost with its
connection (PostgreSQL), released with its descriptor (SQLite)."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path

import pytest

from shipyard.store import Database, Election, leader_lock
from shipyard.store._leader import FileLeaderLock, PostgresLeaderLock


def test_sqlite_lock_is_one_holder_at_a_time(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'shipyard.db'}")
    first = leader_lock(db, "http://127.0.0.1:1111")
    second = leader_lock(db, "http://127.0.0.1:2222")
    assert isinstance(first, FileLeaderLock)
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()
    info = second.leader()
    assert info is not None and info.url == "http://127.0.0.1:1111"
    first.release()
    assert second.try_acquire()
    assert first.leader() is not None and first.leader().url == "http://127.0.0.1:2222"
    second.release()
    db.dispose()


@pytest.mark.postgres
def test_postgres_lock_is_one_holder_per_database(pg_url: str) -> None:
    db, other_db = Database(pg_url), Database(pg_url)
    first = leader_lock(db, "http://127.0.0.1:1111")
    second = leader_lock(other_db, "http://127.0.0.1:2222")
    assert isinstance(first, PostgresLeaderLock)
    try:
        assert first.leader() is None
        assert first.try_acquire() and first.still_held()
        assert first.try_acquire()  # re-entrant on its own connection, still one holder
        assert not second.try_acquire()
        assert second.leader() is not None and second.leader().url == "http://127.0.0.1:1111"
        first.release()
        assert second.try_acquire()
        assert first.leader().url == "http://127.0.0.1:2222"
    finally:
        first.release()
        second.release()
        db.dispose()
        other_db.dispose()


@pytest.mark.postgres
def test_postgres_lock_is_lost_with_its_connection(pg_url: str) -> None:
    db = Database(pg_url)
    lock = leader_lock(db, "http://127.0.0.1:1111")
    follower = leader_lock(Database(pg_url), "http://127.0.0.1:2222")
    try:
        assert lock.try_acquire()
        _terminate_leader_connection(pg_url)
        assert not lock.still_held()
        _wait(follower.try_acquire)  # PostgreSQL drops the lock as the session ends
        lock.release()
        assert not lock.try_acquire()  # reconnects, finds it taken
    finally:
        lock.release()
        follower.release()
        db.dispose()


def _terminate_leader_connection(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        n = conn.execute(
            "SELECT count(pg_terminate_backend(a.pid)) FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
            "a.application_name LIKE 'shipyard-leader%%' AND a.datname = current_database()"
        ).fetchone()
    assert n is not None and n[0] == 1


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.changed = threading.Event()

    def elected(self) -> None:
        self.calls.append("elected")
        self.changed.set()

    def deposed(self) -> None:
        self.calls.append("deposed")
        self.changed.set()


def _wait(cond: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.postgres
def test_election_hands_over_when_the_leader_loses_its_connection(pg_url: str) -> None:
    a_rec, b_rec = _Recorder(), _Recorder()
    a = Election(leader_lock(Database(pg_url), "http://a"), a_rec.elected, a_rec.deposed, 0.2,
                 takeover_grace=0.5)
    b = Election(leader_lock(Database(pg_url), "http://b"), b_rec.elected, b_rec.deposed, 0.2,
                 takeover_grace=0.5)
    a.start()
    b.start()
    try:
        assert a.leading and not b.leading and a_rec.calls == ["elected"]
        _terminate_leader_connection(pg_url)
        _wait(lambda: b.leading)
        # A noticed first (it re-checks every poll) and stopped its duties; B waited its
        # two polls and the grace before starting its own.
        assert a_rec.calls == ["elected", "deposed"] and not a.leading
        assert b_rec.calls == ["elected"]
        b.stop()
        _wait(lambda: a.leading)
        assert a_rec.calls == ["elected", "deposed", "elected"]
        assert b_rec.calls == ["elected", "deposed"]
    finally:
        a.stop()
        b.stop()


def test_an_election_whose_duties_fail_to_start_lets_go(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'shipyard.db'}")
    rec = _Recorder()

    def broken() -> None:
        rec.calls.append("elected")
        raise RuntimeError("cannot start")

    election = Election(leader_lock(db, "http://a"), broken, rec.deposed, 0.1)
    election.start()
    try:
        assert not election.leading and rec.calls == ["elected", "deposed"]
        other = leader_lock(db, "http://b")
        assert other.try_acquire()  # the lock was released for another to take
        other.release()
    finally:
        election.stop()
        db.dispose()



def test_sqlite_leader_file_of_a_dead_holder_names_nobody(tmp_path: Path) -> None:
    """A holder killed with -9 leaves its PID and URL in the file, but no lock: no leader."""
    import subprocess
    import sys

    db_path = tmp_path / "shipyard.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from shipyard.store import Database, leader_lock
            lock = leader_lock(Database("sqlite:///{db_path}"), "http://127.0.0.1:1111")
            assert lock.try_acquire()
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        db = Database(f"sqlite:///{db_path}")
        other = leader_lock(db, "http://127.0.0.1:2222")
        info = other.leader()
        assert info is not None and info.url == "http://127.0.0.1:1111"
        assert info.pid == holder.pid and not other.try_acquire()
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    assert "1111" in (tmp_path / "shipyard.db.leader").read_text()
    assert other.leader() is None  # the kernel dropped the lock with the process
    assert other.try_acquire() and other.leader().url == "http://127.0.0.1:2222"
    other.release()
    db.dispose()
