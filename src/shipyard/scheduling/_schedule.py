"""When something runs: a fixed interval (``every="15m"``) or a 5-field cron expression.

Pure: text in, a frozen :class:`Schedule` out; ``next_after`` answers in UTC.
Cron expressions are evaluated by ``cronsim`` (the parser healthchecks.io uses),
in UTC; ``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly`` are
accepted as their usual 5-field spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from shipyard.errors import InvalidRequest

_EVERY = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
#: The shortest interval a schedule may have, and the longest.
MIN_EVERY_SECONDS = 1
MAX_EVERY_SECONDS = 366 * 86400
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def _utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_every(text: str) -> int:
    """``"30s"``, ``"15m"``, ``"1h"``, ``"1d"`` → seconds.

    Raises:
        InvalidRequest: not a whole number followed by s, m, h or d, or out of range.
    """
    m = _EVERY.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise InvalidRequest(
            f"Invalid interval {text!r}: write a whole number and a unit, s, m, h or d "
            "(e.g. '30s', '15m', '1h', '1d')."
        )
    seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    if not MIN_EVERY_SECONDS <= seconds <= MAX_EVERY_SECONDS:
        raise InvalidRequest(
            f"Interval {text!r} is out of range: use at least 1s and at most 366d."
        )
    return seconds


def check_cron(expr: str) -> str:
    """A valid 5-field cron expression (aliases expanded), or :class:`InvalidRequest`."""
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidRequest("A cron expression must be text such as '0 6 * * *'.")
    text = " ".join(expr.split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidRequest(
            f"Invalid cron expression {expr!r}: it needs 5 fields (minute hour day-of-month "
            f"month day-of-week), e.g. '0 6 * * *'; got {len(fields)}."
        )
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise InvalidRequest(
            f"Invalid cron expression {expr!r}: {str(exc).rstrip('.').lower()}; fields are "
            "minute (0-59), hour (0-23), day of month (1-31), month (1-12) and day of week "
            "(0-7, Sunday is 0 or 7)."
        ) from None
    return text


@dataclass(frozen=True)
class Schedule:
    """A fixed interval in seconds or a cron expression (exactly one of them), in UTC."""

    every_seconds: int | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, every: str | None = None, cron: str | None = None) -> Schedule:
        """Build a schedule from ``every`` (``"15m"``) or ``cron`` (``"*/15 * * * *"``).

        Raises:
            InvalidRequest: neither or both are given, or the one given is invalid.
        """
        given_every = every is not None and str(every).strip() != ""
        given_cron = cron is not None and str(cron).strip() != ""
        if given_every == given_cron:
            raise InvalidRequest(
                "Give a schedule as exactly one of every (e.g. '1h') or cron "
                "(e.g. '0 6 * * *')."
            )
        if given_every:
            return cls(every_seconds=parse_every(str(every)))
        return cls(cron=check_cron(str(cron)))

    @property
    def every(self) -> str | None:
        """The interval in its shortest exact spelling (``3600`` seconds → ``"1h"``)."""
        if self.every_seconds is None:
            return None
        for unit in ("d", "h", "m"):
            if self.every_seconds % _UNIT_SECONDS[unit] == 0:
                return f"{self.every_seconds // _UNIT_SECONDS[unit]}{unit}"
        return f"{self.every_seconds}s"

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after ``moment``, in UTC."""
        moment = _utc(moment)
        if self.every_seconds is not None:
            return moment + timedelta(seconds=self.every_seconds)
        assert self.cron is not None  # parse() guarantees one of the two
        return _utc(next(CronSim(self.cron, moment.replace(microsecond=0))))

    def following(self, planned: datetime, now: datetime) -> datetime:
        """The next run after a run planned for ``planned`` fired at ``now``.

        Runs missed while nothing was watching (the server was down) are skipped, so
        they fire once, not once each: the answer is always after ``now``. An interval
        keeps its phase (a schedule every hour at :05 stays at :05).
        """
        planned, now = _utc(planned), _utc(now)
        if self.every_seconds is None:
            return self.next_after(max(planned, now))
        step = timedelta(seconds=self.every_seconds)
        if planned > now:
            return planned + step
        skipped = (now - planned) // step
        return planned + (skipped + 1) * step

    def describe(self) -> str:
        """``"every 15 minutes"`` or ``"cron 0 6 * * *"``."""
        if self.every_seconds is not None:
            text = self.every or ""
            n, unit = int(text[:-1]), _UNIT_WORDS[text[-1]]
            return f"every {n} {unit}{'s' if n != 1 else ''}"
        return f"cron {self.cron} (UTC)"
