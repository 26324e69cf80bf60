"""Progress of a fit: trees or rounds done of the total, elapsed time and an estimate.

A long fit must not look like a hung job. Each built-in that grows trees reports
through a :class:`Progress` (from the libraries' own callbacks; the random forest by
growing its trees in slices), which writes a log line and a ``progress`` metric
point (the share done, by step) at most every :data:`PROGRESS_SECONDS`, and always
at the end (1.0, also when early stopping ended the fit before its last round).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shipyard.humanize import duration

#: Seconds between two progress lines, at most (plus the one iteration that crosses it).
PROGRESS_SECONDS = 4.0
#: Seconds between two flushes of the live per-round metrics, at most.
CURVE_SECONDS = 1.0
#: The metric holding the share done (0..1), one point per progress line.
PROGRESS_METRIC = "progress"


@dataclass
class Progress:
    """Reports ``done`` of ``total`` units (trees, boosting rounds) as a fit goes on.

    ``clock`` is injectable so the reporting rule is testable without waiting.
    """

    total: int
    unit: str
    log: Callable[[str], None]
    log_metric: Callable[..., None]
    interval: float = PROGRESS_SECONDS
    #: Seconds between two flushes of the live per-round metrics (:meth:`curves`).
    curve_interval: float = CURVE_SECONDS
    clock: Callable[[], float] = time.monotonic
    #: Units done before this fit started (a fit continued from a checkpoint): the ETA
    #: is measured on the units this fit did.
    resumed_at: int = 0
    #: ``curve.<split>.<metric>`` points logged live so far (name -> steps), shared with
    #: the caller, which logs only the rest when the fit ends.
    curves_logged: dict[str, int] = field(default_factory=dict)
    started: float = field(init=False)
    _curves_at: float = field(init=False, default=float("-inf"))
    _last: float = field(init=False)
    _reported: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        self.started = self._last = self.clock()

    def update(self, done: int) -> None:
        """Call after each unit (or slice of units); reports when the interval has passed."""
        if done >= self.total or self.clock() - self._last >= self.interval:
            self._report(min(done, self.total))

    def curves_due(self) -> bool:
        """Whether :meth:`curves` would log now (build the history only then)."""
        return self.clock() - self._curves_at >= self.curve_interval

    def curves(self, curves: Mapping[str, Sequence[float | None]]) -> None:
        """Log the per-round metrics not logged yet (``{"<split>.<metric>": values}``, the
        whole history so far) as ``curve.*`` points: the debugger's rules read them while
        the fit runs. Call when :meth:`curves_due`."""
        self._curves_at = self.clock()
        for key, values in curves.items():
            name = f"curve.{key}"
            first = self.curves_logged.get(name, 0)
            for step in range(first, len(values)):
                value = values[step]
                if value is not None and math.isfinite(value):
                    self.log_metric(name, float(value), step)
            self.curves_logged[name] = max(first, len(values))

    def finish(self, done: int) -> None:
        """The last line: all done, or stopped early at ``done`` (early stopping)."""
        if done < self.total:
            self._report(done, early=True)
        elif self._reported != self.total:
            self._report(self.total)

    def _report(self, done: int, early: bool = False) -> None:
        if done == self._reported:
            return
        now = self.clock()
        elapsed = now - self.started
        share = done / self.total if self.total else 1.0
        if early:
            tail = f"stopped early (no improvement), elapsed {duration(elapsed)}"
        elif done >= self.total:
            tail = f"done in {duration(elapsed)}"
        else:
            fresh = done - self.resumed_at
            eta = elapsed / fresh * (self.total - done) if fresh > 0 else float("nan")
            tail = (f"elapsed {duration(elapsed)}, ETA "
                    + (duration(eta) if eta == eta else "unknown"))
        self.log(f"[training] progress: {done:,} of {self.total:,} {self.unit} "
                 f"({share:.0%}), {tail}")
        # An early stop completes the fit: the series ends at 1 either way.
        self.log_metric(PROGRESS_METRIC, 1.0 if early else share, done)
        self._last, self._reported = now, done
