"""Leader election among the control planes that share one metadata database.

Several control planes may share a PostgreSQL database, each with a home of its
own. All of them serve the API; one, the *leader*, also runs what must run once:
the job supervisor (and its startup recovery), the endpoint supervisor, the
schedules and the event subscribers. The others are *followers*: they poll to
become the leader, and take over when it goes away.

- **PostgreSQL**: leadership is a session-level advisory lock
  (``pg_try_advisory_lock``) held on a connection of its own, outside the pool,
  with TCP keepalives. The leader re-checks it every poll; when the connection
  breaks, PostgreSQL drops the lock for the next one to take, and this leader
  stops its supervisors (:class:`Election` calls ``on_deposed``). The connection
  carries the leader's URL as its ``application_name``, so followers can find the
  leader (``pg_locks`` joined to ``pg_stat_activity``) with no table to keep fresh.
- **SQLite**: an exclusive ``flock`` on ``<database>.leader``, holding the
  leader's PID and URL; one machine, so the kernel drops it when the process dies.

A new leader that saw another one hold the lock waits two polls plus
:data:`TAKEOVER_GRACE` before it starts its duties: a leader cut off from the
database notices within a poll and needs a few seconds to stop its jobs (SIGTERM,
a grace, SIGKILL) and endpoint instances, and the new leader's recovery must not
find them still running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text

from shipyard.store._engine import Database

log = logging.getLogger("shipyard.leader")

#: The advisory lock key: "shipyard" as a positive 64-bit integer.
LOCK_KEY = int.from_bytes(b"shipyard", "big") & 0x7FFF_FFFF_FFFF_FFFF
_APP_PREFIX = "shipyard-leader "
#: What a deposed leader gets to stop its duties before the next one starts (seconds).
TAKEOVER_GRACE = 10.0
#: PostgreSQL keeps application_name to 63 bytes.
_APP_NAME_MAX = 63


@dataclass(frozen=True)
class LeaderInfo:
    """Where the current leader can be reached (``url`` None: it did not say)."""

    url: str | None
    pid: int | None = None


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...
    def leader(self) -> LeaderInfo | None: ...


class PostgresLeaderLock:
    """The advisory lock on a dedicated connection (see the module docstring)."""

    def __init__(self, db: Database, url: str) -> None:
        self.db = db
        self.url = url
        self._conninfo = "postgresql://" + db.url.split("://", 1)[1]
        self._conn: Any = None
        self._classid, self._objid = LOCK_KEY >> 32, LOCK_KEY & 0xFFFF_FFFF
        name = _APP_PREFIX + url
        if len(name.encode()) > _APP_NAME_MAX:
            log.warning("the advertised URL %s is longer than PostgreSQL keeps in "
                        "application_name; followers will not find this leader", url)
            name = _APP_PREFIX.strip()
        self._app_name = name

    def _connect(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._close()
        self._conn = psycopg.connect(
            self._conninfo, autocommit=True, application_name=self._app_name,
            connect_timeout=5, keepalives=1, keepalives_idle=5, keepalives_interval=2,
            keepalives_count=3, tcp_user_timeout=10_000)
        return self._conn

    def try_acquire(self) -> bool:
        try:
            row = self._connect().execute("SELECT pg_try_advisory_lock(%s)",
                                          (LOCK_KEY,)).fetchone()
        except Exception as exc:  # noqa: BLE001 - the database is away: not the leader now
            log.warning("leader election: cannot reach the database (%s)", exc)
            self._close()
            return False
        return bool(row and row[0])

    def still_held(self) -> bool:
        try:
            row = self._connect_existing().execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 1",
                (self._classid, self._objid)).fetchone()
        except Exception as exc:  # noqa: BLE001 - a broken connection has lost the lock
            log.error("leader election: the lock connection failed (%s)", exc)
            return False
        return bool(row and row[0])

    def _connect_existing(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            raise ConnectionError("the lock connection is closed")
        return self._conn

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            with contextlib.suppress(Exception):  # at once: a closing session lingers a bit
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def leader(self) -> LeaderInfo | None:
        """Who holds the lock now, from any connection of the pool."""
        with self.db.read() as conn:
            row = conn.execute(text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = :c AND l.objid = :o AND l.objsubid = 1 AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"c": self._classid, "o": self._objid}).first()
        if row is None:
            return None
        name = str(row[0] or "")
        url = name[len(_APP_PREFIX):] if name.startswith(_APP_PREFIX) else None
        return LeaderInfo(url or None)


class FileLeaderLock:
    """An exclusive ``flock`` on a file beside a SQLite database, holding PID and URL."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": self.url}).encode(), 0)
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None  # a flock lasts as long as its descriptor

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def leader(self) -> LeaderInfo | None:
        if self._fd is not None:
            return LeaderInfo(self.url, os.getpid())
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            try:  # free to lock: nobody leads (what the file says is a dead holder's)
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raw = os.pread(fd, 4096, 0)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
        finally:
            os.close(fd)
        try:
            info = json.loads(raw or b"{}")
        except ValueError:
            return LeaderInfo(None)
        if not isinstance(info, dict):
            return LeaderInfo(None)
        pid = info.get("pid")
        return LeaderInfo(info.get("url"), pid if isinstance(pid, int) else None)


def leader_lock(db: Database, url: str) -> LeaderLock:
    """The lock for ``db``'s backend: an advisory lock on PostgreSQL, a file lock on SQLite."""
    if db.dialect == "postgresql":
        return PostgresLeaderLock(db, url)
    raw = db.url.split(":///", 1)[1] if ":///" in db.url else ""
    path = raw.split("?", 1)[0]
    if not path or path == ":memory:":
        return _AlwaysLeader(url)
    return FileLeaderLock(Path(path + ".leader"), url)


class _AlwaysLeader:
    """An in-memory SQLite database has one process by definition."""

    def __init__(self, url: str) -> None:
        self.url = url

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None

    def leader(self) -> LeaderInfo | None:
        return LeaderInfo(self.url, os.getpid())


class Election:
    """Polls ``lock``: ``on_elected`` when this process becomes the leader, ``on_deposed``
    when it stops being it (the lock was lost, or :meth:`stop`)."""

    def __init__(self, lock: LeaderLock, on_elected: Callable[[], None],
                 on_deposed: Callable[[], None], poll_seconds: float = 2.0,
                 takeover_grace: float = TAKEOVER_GRACE) -> None:
        self.lock = lock
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.poll_seconds = poll_seconds
        self.takeover_grace = takeover_grace
        self._leading = False
        self._saw_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_lock = threading.Lock()

    @property
    def leading(self) -> bool:
        return self._leading

    def start(self) -> None:
        """Try once now (so a lone server leads before it serves), then poll on a thread."""
        self.step()
        self._thread = threading.Thread(target=self._run, name="shipyard-election",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._step_lock:
            if self._leading:
                self._leading = False
                self._call(self.on_deposed, "stopping the leader's duties")
            self.lock.release()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the election must keep polling
                log.exception("leader election step failed")

    def step(self) -> None:
        """One poll: try to become the leader, or check that this one still is."""
        with self._step_lock:
            if self._stop.is_set():
                return
            if self._leading:
                if not self.lock.still_held():
                    log.error("lost the leadership (the lock's database connection broke); "
                              "stopping the supervisors, schedules and event subscribers")
                    self._leading = False
                    self._call(self.on_deposed, "stopping the leader's duties")
                    self.lock.release()
                return
            if not self.lock.try_acquire():
                self._saw_leader = True
                return
            if self._saw_leader and self._stop.wait(2 * self.poll_seconds +
                                                    self.takeover_grace):
                self.lock.release()
                return
            log.warning("this control plane is the leader")
            self._leading = True
            if not self._call(self.on_elected, "starting the leader's duties"):
                self._leading = False
                self._call(self.on_deposed, "stopping the leader's duties")
                self.lock.release()

    @staticmethod
    def _call(fn: Callable[[], None], what: str) -> bool:
        try:
            fn()
        except Exception:  # noqa: BLE001 - logged; the election goes on
            log.exception("%s failed", what)
            return False
        return True
