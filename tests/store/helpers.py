"""Shared checks of the store conformance suite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

T = TypeVar("T")

#: A JSON document that trips careless storage: non-ASCII text in keys and values, an
#: emoji (outside the BMP), nesting, big and negative numbers, floats, booleans, null.
UNICODE_JSON: dict[str, Any] = {
    "naïve café": "Ünïcödé ✓ — 中文 🚢",
    "nested": {"list": [1, -2, 3.5, None, True, False, "", {"deep": ["x", {"y": "é"}]}]},
    "big": 2**53 - 1,
    "negative": -(2**31),
    "empty": {},
    "quote\"and\\backslash": "line\nbreak\ttab",
}

#: A zone east of UTC, so a value stored as wall-clock time would come back 5.5 h off.
PLUS_0530 = timezone(timedelta(hours=5, minutes=30))

#: The longest name the API accepts (``shipyard.names.check_name``).
LONGEST_NAME = "n" + "x" * 127

#: Names whose byte order differs from a linguistic collation's order ("B" < "a" < "b").
MIXED_CASE = ["beta", "Alpha", "alpha", "Beta", "0-zero", "_under"]


def code_point_order(names: list[str]) -> list[str]:
    """How every list ordered by name must come back, on every backend."""
    return sorted(names)


def assert_utc(*moments: datetime | None) -> None:
    """Timestamps come back aware and in UTC (never in the session's time zone)."""
    for moment in moments:
        assert moment is not None
        assert moment.tzinfo is not None, f"{moment!r} is naive"
        assert moment.utcoffset() == timedelta(0), f"{moment!r} is not in UTC"


def recent(moment: datetime, seconds: float = 300) -> bool:
    """``moment`` is about now (catches a time stored as local wall-clock time)."""
    return abs((datetime.now(UTC) - moment).total_seconds()) < seconds


def race(fn: Callable[[int], T], n: int = 6) -> list[T | BaseException]:
    """Run ``fn(0..n-1)`` in ``n`` threads released at the same moment; results in order.

    Each slot holds the return value or the exception that thread raised, so a
    caller can assert exactly which of them won and how the others lost.
    """
    barrier = threading.Barrier(n)
    out: list[T | BaseException] = [RuntimeError("did not run")] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return out


def errors(results: list[Any]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


def values(results: list[Any]) -> list[Any]:
    return [r for r in results if not isinstance(r, BaseException)]
