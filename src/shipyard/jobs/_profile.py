"""A job's profile: its resource series, the time in each phase, and what they suggest.

Three parts, each usable without a server:

- :class:`Sampler` turns the supervisor's :class:`~shipyard.jobs._executors.Usage`
  samples of a running job into metric points named ``system.*`` (MLflow's convention
  for system metrics), kept in the metrics table beside the job's own: ``system.cpu_percent``
  (the job's whole process tree; 100 is one core busy), ``system.core<N>_percent`` (each
  core the job is pinned to, busy by anyone), ``system.rss_bytes``, ``system.read_bytes``
  and ``system.write_bytes`` (the tree's cumulative I/O). The step is the second since
  the job started. A sample is taken every :data:`SAMPLE_SECONDS` at first and more
  rarely as a job runs long (at most about :data:`MAX_SAMPLES` samples per job).
- A job reports its phases (``system.phase.<name>``: seconds) through
  :func:`shipyard.runtime.phase`; the built-in training reports ``read``, ``prepare``,
  ``fit``, ``evaluate`` and ``write``.
- :func:`build_profile` turns a job's ``system.*`` series into a :class:`Profile`:
  summary figures and :class:`Finding` s ("CPU-bound on one core of 2: set n_jobs",
  "80% of the time reading input: …"). :func:`render_html` draws it as one
  self-contained HTML page (matplotlib, images inline).

The ``system.`` metrics are the platform's: they are left out of a job's metric
summary and of ``GET /jobs/{id}/metrics`` and served by ``GET /jobs/{id}/profile``.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.store import MetricPoint

#: Names of the platform's own metrics start with this (``store._jobs.SYSTEM_METRICS``,
#: ``runtime.SYSTEM_PREFIX``: this module is imported by the SDK, which needs no store).
SYSTEM_PREFIX = "system."
PHASE_PREFIX = "system.phase."
CPU = "system.cpu_percent"
RSS = "system.rss_bytes"
READ = "system.read_bytes"
WRITE = "system.write_bytes"
#: The series the supervisor samples (besides each core's).
SAMPLED = (CPU, RSS, READ, WRITE)
#: Seconds between two samples of a young job.
SAMPLE_SECONDS = 2.0
#: A long job is sampled about this many times in all (the interval grows with its age).
MAX_SAMPLES = 600


def is_system(name: str) -> bool:
    return name.startswith(SYSTEM_PREFIX)


def core_metric(core: int) -> str:
    return f"system.core{core}_percent"


@dataclass
class Sampler:
    """The samples of one running job, from the supervisor's usage readings."""

    #: Wall time (``time.time()``) the job's process started.
    started_at: float
    last_at: float | None = None
    last_cpu: float = 0.0

    def due(self, now: float) -> bool:
        if self.last_at is None:
            return now - self.started_at >= SAMPLE_SECONDS / 2
        age = now - self.started_at
        return now - self.last_at >= max(SAMPLE_SECONDS, age / MAX_SAMPLES)

    def sample(self, usage: Any, now: float) -> list[MetricPoint]:
        """Points for one reading (``usage``: a :class:`Usage`); call when :meth:`due`."""
        from shipyard.store import MetricPoint

        step = max(0, int(round(now - self.started_at)))
        since = self.last_at if self.last_at is not None else self.started_at
        used = max(0.0, usage.cpu_seconds - self.last_cpu)
        percent = 100.0 * used / max(now - since, 1e-3)
        self.last_at, self.last_cpu = now, usage.cpu_seconds
        points = [MetricPoint(CPU, round(percent, 1), step, now),
                  MetricPoint(RSS, float(usage.rss_bytes), step, now),
                  MetricPoint(READ, float(usage.read_bytes), step, now),
                  MetricPoint(WRITE, float(usage.write_bytes), step, now)]
        points += [MetricPoint(core_metric(core), round(value, 1), step, now)
                   for core, value in sorted(usage.core_percent.items())]
        return points


@dataclass(frozen=True)
class Finding:
    """Something the profile suggests doing: a code for programs, a sentence for people."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Profile:
    """A job's profile: ``series`` maps a ``system.*`` name to ``[(second, value)]``."""

    job_id: str
    cpus: int
    memory_limit: int
    duration: float
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def cpu_mean(self) -> float | None:
        values = [v for _, v in self.series.get(CPU, [])]
        return sum(values) / len(values) if values else None

    @property
    def cpu_peak(self) -> float | None:
        values = [v for _, v in self.series.get(CPU, [])]
        return max(values) if values else None

    @property
    def rss_peak(self) -> int | None:
        values = [v for _, v in self.series.get(RSS, [])]
        return int(max(values)) if values else None

    def io_total(self, name: str) -> int | None:
        values = [v for _, v in self.series.get(name, [])]
        return int(max(values)) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "cpus": self.cpus, "memory_limit_bytes": self.memory_limit,
            "duration_seconds": round(self.duration, 3),
            "summary": {"cpu_percent_mean": _round(self.cpu_mean),
                        "cpu_percent_peak": _round(self.cpu_peak),
                        "rss_bytes_peak": self.rss_peak,
                        "read_bytes": self.io_total(READ), "write_bytes": self.io_total(WRITE),
                        "samples": len(self.series.get(CPU, []))},
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "series": {name: [{"second": s, "value": v} for s, v in points]
                       for name, points in self.series.items()},
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Profile:
        return cls(job_id=str(doc["job_id"]), cpus=int(doc["cpus"]),
                   memory_limit=int(doc["memory_limit_bytes"]),
                   duration=float(doc["duration_seconds"]),
                   series={name: [(int(p["second"]), float(p["value"])) for p in points]
                           for name, points in (doc.get("series") or {}).items()},
                   phases={k: float(v) for k, v in (doc.get("phases") or {}).items()},
                   findings=[Finding(f["code"], f["message"])
                             for f in doc.get("findings") or []])

    def _repr_html_(self) -> str:
        return render_html(self, standalone=False)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def build_profile(job_id: str, points: Iterable[MetricPoint], *, cpus: int,
                  memory_limit: int, duration: float) -> Profile:
    """The profile of a job from its metric points (other than ``system.*`` ones are
    ignored), with its findings."""
    profile = Profile(job_id=job_id, cpus=cpus, memory_limit=memory_limit,
                      duration=duration)
    for p in points:
        if p.name.startswith(PHASE_PREFIX):
            phase = p.name[len(PHASE_PREFIX):]
            profile.phases[phase] = profile.phases.get(phase, 0.0) + p.value
        elif p.name in SAMPLED or p.name.startswith("system.core"):
            profile.series.setdefault(p.name, []).append((int(p.step or 0), p.value))
    profile.findings = findings(profile)
    return profile


#: Below this many seconds of samples a job is too short to judge its CPU use.
MIN_JUDGED_SECONDS = 10


def findings(profile: Profile) -> list[Finding]:
    """What the series and phases suggest; empty when nothing stands out."""
    out: list[Finding] = []
    cpu = [v for _, v in profile.series.get(CPU, [])]
    sampled = len(cpu) * SAMPLE_SECONDS
    phases = profile.phases
    total = sum(phases.values())
    busy = sorted(v for v in cpu if v >= 20.0)
    if sampled >= MIN_JUDGED_SECONDS and profile.cpus >= 2 and len(busy) >= 3:
        mean_busy = sum(busy) / len(busy)
        top = busy[int(0.9 * (len(busy) - 1))]  # the 90th percentile: one burst is no proof
        if mean_busy >= 50.0 and top <= 120.0:
            out.append(Finding(
                "single_core",
                f"CPU-bound on one core of {profile.cpus}: while busy the job used "
                f"{mean_busy:.0f}% on average and never much more than one core. Set "
                f"n_jobs (or the algorithm's threads) to {profile.cpus}, or ask for 1 CPU."))
    if sampled >= MIN_JUDGED_SECONDS and cpu and max(cpu) < 0.5 * 100.0 * max(profile.cpus, 1) \
            and sum(cpu) / len(cpu) < 25.0:
        out.append(Finding(
            "mostly_idle",
            f"The job's CPU was mostly idle ({sum(cpu) / len(cpu):.0f}% of one core on "
            f"average over {profile.cpus} CPU(s)): it waits on I/O, the network or sleep. "
            "Fewer CPUs would do, or overlap the waiting."))
    if total > 0:
        reading = phases.get("read", 0.0)
        if reading >= 5.0 and reading / total >= 0.4:
            out.append(Finding(
                "read_bound",
                f"{reading / total:.0%} of the time reading input ({reading:.1f} s of "
                f"{total:.1f} s): use Parquet rather than CSV or JSON, and read only the "
                "columns the job needs."))
    peak = profile.rss_peak
    if peak and profile.memory_limit and peak >= 0.85 * profile.memory_limit:
        out.append(Finding(
            "memory_near_limit",
            f"Peak memory {_mib(peak)} is {peak / profile.memory_limit:.0%} of the limit "
            f"({_mib(profile.memory_limit)}): ask for more memory, or read in chunks."))
    return out


def _mib(n: float) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(profile: Profile) -> dict[str, str]:
    """Base64 PNGs by title: CPU (job and its cores), memory, I/O, and phases.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'shipyard[ml]'``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    cpu = profile.series.get(CPU, [])
    if cpu:
        fig, ax = plt.subplots(figsize=(7, 2.6))
        ax.plot([s for s, _ in cpu], [v for _, v in cpu], label="job (100% = one core)",
                lw=2)
        for name in sorted(n for n in profile.series if n.startswith("system.core")):
            pts = profile.series[name]
            ax.plot([s for s, _ in pts], [v for _, v in pts], lw=1, alpha=0.7,
                    label=name[len(SYSTEM_PREFIX):].replace("_percent", "") + " (any process)")
        ax.set_xlabel("seconds")
        ax.set_ylabel("CPU %")
        ax.legend(fontsize=7, loc="upper right")
        out["CPU"] = _png(fig)
        plt.close(fig)
    rss = profile.series.get(RSS, [])
    if rss:
        fig, ax = plt.subplots(figsize=(7, 2.6))
        ax.plot([s for s, _ in rss], [v / 1024**2 for _, v in rss], lw=2)
        if profile.memory_limit:
            ax.axhline(profile.memory_limit / 1024**2, color="tab:red", ls="--", lw=1,
                       label="limit")
            ax.legend(fontsize=7)
        ax.set_xlabel("seconds")
        ax.set_ylabel("resident MiB")
        out["Memory"] = _png(fig)
        plt.close(fig)
    if profile.series.get(READ) or profile.series.get(WRITE):
        fig, ax = plt.subplots(figsize=(7, 2.6))
        for name, label in ((READ, "read"), (WRITE, "written")):
            pts = profile.series.get(name, [])
            ax.plot([s for s, _ in pts], [v / 1024**2 for _, v in pts], lw=2, label=label)
        ax.set_xlabel("seconds")
        ax.set_ylabel("MiB (cumulative)")
        ax.legend(fontsize=7)
        out["I/O"] = _png(fig)
        plt.close(fig)
    if profile.phases:
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.35 * len(profile.phases)))
        names = list(profile.phases)
        ax.barh(names, [profile.phases[n] for n in names], color="tab:blue")
        ax.invert_yaxis()
        ax.set_xlabel("seconds")
        out["Phases"] = _png(fig)
        plt.close(fig)
    return out


def render_html(profile: Profile, *, standalone: bool = True) -> str:
    """The profile as HTML: figures, phases, findings and plots (inline images)."""
    e = html.escape
    total = sum(profile.phases.values())
    rows = [("Duration", f"{profile.duration:,.1f} s"), ("CPUs", str(profile.cpus)),
            ("CPU mean / peak", _pair(profile.cpu_mean, profile.cpu_peak, "%")),
            ("Peak memory", _mib(profile.rss_peak) if profile.rss_peak else "—"),
            ("Memory limit", _mib(profile.memory_limit)),
            ("Read / written", f"{_mib(profile.io_total(READ) or 0)} / "
                               f"{_mib(profile.io_total(WRITE) or 0)}")]
    parts = [f"<h2>Profile of job {e(profile.job_id)}</h2>", "<table>"]
    parts += [f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(v)}</td></tr>"
              for k, v in rows]
    parts.append("</table>")
    if profile.phases:
        parts.append("<h3>Phases</h3><table>")
        parts += [f"<tr><td>{e(name)}</td><td>{secs:,.2f} s</td>"
                  f"<td>{secs / total:.0%}</td></tr>" for name, secs in profile.phases.items()]
        parts.append("</table>")
    parts.append("<h3>Findings</h3>")
    parts.append("<ul>" + "".join(f"<li>{e(f.message)}</li>" for f in profile.findings)
                 + "</ul>" if profile.findings else "<p>Nothing stands out.</p>")
    try:
        images = plots(profile)
    except ImportError:
        images = {}
        parts.append("<p>(Plots need matplotlib: pip install 'shipyard[ml]'.)</p>")
    for title, png in images.items():
        parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' "
                     f"src='data:image/png;base64,{png}'>")
    body = "\n".join(parts)
    if not standalone:
        return f"<div>{body}</div>"
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>Profile of job {e(profile.job_id)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:60em'>{body}</body></html>")


def _pair(a: float | None, b: float | None, unit: str) -> str:
    if a is None or b is None or math.isnan(a):
        return "—"
    return f"{a:,.0f}{unit} / {b:,.0f}{unit}"


def split_system(points: Sequence[MetricPoint]) -> tuple[list[MetricPoint], list[MetricPoint]]:
    """(the job's own points, the platform's ``system.*`` points)."""
    own = [p for p in points if not is_system(p.name)]
    return own, [p for p in points if is_system(p.name)]
